"""The oracle node (docs/ORACLE_NETWORK.md): a daemon beside the provider agents that probes
providers' uptime on a schedule only it can compute, verifies jobs and receipts, agrees on
signatures with its peers and transmits quorum-signed statements.

- :mod:`~computerails.oracle_node.providers`: the providers to probe, read from the chain's
  registration events, and whether the uptime SLA applies to one in an epoch;
- :mod:`~computerails.oracle_node.probes`: the secret probe schedule, one signed health probe,
  the probe log on disk (SQLite) and the prober that runs the due probes.
"""
