"""A small JSON-RPC client for the indexer: one keep-alive HTTP connection, batches, and the
classification of a node's "range too large" refusal of ``eth_getLogs``.

The indexer does not go through web3.py: it makes a handful of calls per page (logs, a batch of
block headers), and a plain client keeps them cheap and lets tests wrap the transport to play a
node that refuses wide ranges."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from computerails import _http
from computerails.errors import ComputeRailsError, RPCUnavailable


class IndexerError(ComputeRailsError):
    """The indexer cannot go on (bad database URL, a deployment the index was not built for)."""


class RpcError(IndexerError):
    """A JSON-RPC error answer (``code``, ``message``)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: node error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


class RangeTooLarge(RpcError):
    """The node refused an ``eth_getLogs`` range as too large (too many blocks or results)."""


#: How public nodes word a refusal of a too-wide ``eth_getLogs``: Infura and geth's
#: "query returned more than 10000 results", Alchemy's "Log response size exceeded", QuickNode's
#: and anvil-style "block range ... too large/wide", "exceed maximum block range", -32005 "limit
#: exceeded".
_TOO_LARGE = re.compile(
    r"more than \d+ results|response size exceeded|block range|range (is )?too (large|wide)|"
    r"exceeds? (the )?max(imum)? (block )?range|limit exceeded|too many (logs|results|blocks)",
    re.IGNORECASE,
)


def is_range_refusal(code: int, message: str) -> bool:
    """Whether a JSON-RPC error to ``eth_getLogs`` means "ask for a smaller range"."""
    return code == -32005 or bool(_TOO_LARGE.search(message))


class JsonRpc:
    """JSON-RPC over HTTP with one keep-alive connection.

    Args:
        url: the node's HTTP endpoint.
        timeout: seconds per request.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self._client = _http.client(timeout=timeout)
        self._id = 0

    def close(self) -> None:
        self._client.close()

    def post(self, payload: Any) -> Any:
        """Sends one JSON-RPC payload (a request or a batch); returns the decoded answer."""
        try:
            response = self._client.post(self.url, json=payload)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RPCUnavailable(f"node {self.url} unreachable: {exc}") from exc

    def _request(self, method: str, params: list[Any]) -> dict[str, Any]:
        self._id += 1
        return {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}

    @staticmethod
    def _result(method: str, answer: Any) -> Any:
        if not isinstance(answer, dict):
            raise RpcError(method, -32603, f"malformed answer {answer!r:.200}")
        error = answer.get("error")
        if error:
            code, message = int(error.get("code", 0)), str(error.get("message", ""))
            if method == "eth_getLogs" and is_range_refusal(code, message):
                raise RangeTooLarge(method, code, message)
            raise RpcError(method, code, message)
        return answer.get("result")

    def call(self, method: str, params: list[Any]) -> Any:
        return self._result(method, self.post(self._request(method, params)))

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; answers in the calls' order."""
        if not calls:
            return []
        requests = [self._request(m, p) for m, p in calls]
        answers = self.post(requests)
        if not isinstance(answers, list):
            return [self._result(calls[0][0], answers)]  # a node that answers a batch with one error
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [self._result(m, by_id.get(r["id"])) for (m, _), r in zip(calls, requests)]

    # ── what the indexer asks ──
    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", []), 16)

    def logs(self, addresses: list[str], from_block: int, to_block: int) -> list[dict[str, Any]]:
        result = self.call(
            "eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]
        )
        return list(result or [])

    def headers(self, numbers: Sequence[int]) -> list[dict[str, Any] | None]:
        """Block headers (without transactions) by number; None for a block the node lacks."""
        return list(self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers]))
