"""The provider agent (issue 13): a long-running service that sells the digits model's inference
over HTTP, paid per request with MeteredEscrow vouchers, and collects its vouchers by the SDK's
policy. Settings in :mod:`~computerails.agent.config`, state in :mod:`~computerails.agent.store`,
payments in :mod:`~computerails.agent.payment`, the HTTP API in :mod:`~computerails.agent.app`,
the process in :mod:`~computerails.agent.serve`. The paying side is :mod:`computerails.pay_client`.

Per-job work is :mod:`~computerails.agent.jobs` (the unattended runner: ``JobCreated`` → accept by
policy → result by CID in :mod:`~computerails.agent.results` → settle, claim); it plugs into the
same app factory as further routes and its own background loop through
:mod:`~computerails.agent.jobs_service` when the settings' ``[jobs]`` section enables it.
"""

from computerails.agent.config import AgentSettings, load_settings

__all__ = ["AgentSettings", "load_settings"]
