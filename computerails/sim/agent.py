"""The demo's paid-inference step (issue 13): one real provider agent process against the demo's
node and deployment, paid per request through the real paying client.

After the marketplace has run (and its books are checked), one honest provider's key serves as
the agent's (a V3 keystore in a temporary folder), with collection off; a payer that still holds
escrow for that provider from the metered phase sends requests one after another through
:class:`~computerails.pay_client.PayingAuth` and :func:`~computerails.pay_client.infer` (which
checks each receipt). Nothing is collected, so the chain's books do not change. The agent is
stopped by its own pid (SIGTERM, then SIGKILL) whatever happens.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from computerails import _http
from computerails.devnet.agent import AgentProcess, write_config, write_keystore
from computerails.models import digits
from computerails.pay_client import PayingAuth, infer
from computerails.rails import ComputeRails

#: Requests the step sends (a few hundred: a few seconds on the demo's machine).
REQUESTS = 300
#: The agent's price per request: one raw unit of the payment token, so the payer's escrow left
#: from the metered phase covers every request many times over.
PRICE_RAW = 1


def paid_inference(
    rpc: str, deployment: str, provider_key: str, payer_key: str, payer: ComputeRails, requests: int = REQUESTS
) -> dict[str, Any]:
    """Start one agent (payment on) with `provider_key`, send `requests` paid requests with
    `payer_key` one after another, stop the agent; returns the figures.

    Args:
        rpc, deployment: the demo's node and deployment file.
        provider_key: a registered provider's key (the agent signs receipts with it).
        payer_key: a payer's key with escrow for that provider.
        payer: the payer's connection (its chain id, escrow and tokens).
        requests: paid requests to send (timed), after one untimed request that fetches the terms.
    """
    token = payer.token(payer.deployment.payment_tokens[0])
    price = Decimal(PRICE_RAW).scaleb(-token.decimals)
    samples = [list(pixels) for pixels, _label in digits.samples()]
    with tempfile.TemporaryDirectory(prefix="computerails-demo-agent-") as tmp:
        folder = Path(tmp)
        keystore, password = write_keystore(folder / "keys", provider_key)
        config = write_config(
            folder / "agent.toml",
            rpc_url=rpc,
            deployment=deployment,
            keystore=str(keystore),
            password_file=str(password),
            data_dir=str(folder / "data"),
            price=format(price, "f"),
            collect_interval=0,
        )
        agent = AgentProcess(config, folder)
        auth = PayingAuth(
            payer_key,
            chain_id=payer.chain_id,
            escrow=payer.collector.domain.escrow,
            tokens=payer.deployment.payment_tokens,
            budget=PRICE_RAW * (requests + 1),
            wallet=folder / "wallet.sqlite",
        )
        try:
            agent.start()
            url = f"{agent.url}/v1/infer"
            with _http.client(timeout=60.0) as client:
                infer(client, url, samples[0], auth)  # the 402 round trip for the terms, untimed
                started = time.perf_counter()
                for i in range(requests):
                    infer(client, url, samples[i % len(samples)], auth)
                seconds = time.perf_counter() - started
        finally:
            auth.close()
            agent.shutdown()
    return {"requests": requests, "seconds": round(seconds, 3), "per_s": round(requests / seconds, 1)}
