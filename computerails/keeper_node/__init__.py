"""The keeper daemon (issue 14): a long-running process that keeps jobs and uptime reports
moving when nobody else does, each time only when the gas is worth it.

- settles jobs whose challenge window (or lapsed dispute) ended, in ``settleMany`` batches;
- reclaims accepted jobs whose deadline passed unattested (anyone may), and cancels its own
  jobs left open past the accept window (only a job's client may cancel);
- relays quorum-signed uptime reports that name it as relayer, fetched from the oracle nodes'
  ``GET /v1/reports``, and claims the relayer reward they earn.

Run it with ``computerails keeper serve --config keeper.toml`` or ``computerails-keeper``
(:mod:`computerails.keeper_node.serve`); what one pass does is in
:mod:`computerails.keeper_node.duties`.
"""
