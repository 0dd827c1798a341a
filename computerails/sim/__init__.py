"""The compute marketplace, simulated end to end through the SDK on a devnet: ``make demo``
(``python -m computerails.sim``) and the end-to-end tests run it. Its workloads live in
:mod:`computerails.workloads`."""

from computerails.sim.marketplace import Config, Marketplace, Report
from computerails.workloads import compute, make_spec, spec_hash, units_of

__all__ = ["Config", "Marketplace", "Report", "compute", "make_spec", "spec_hash", "units_of"]
