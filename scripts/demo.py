"""``ape run demo``: the compute marketplace end to end on a fresh devnet (a thin entry point;
``make demo`` runs the same command as ``python -m computerails.sim``)."""

from computerails.sim.demo import cli

__all__ = ["cli"]
