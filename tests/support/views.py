"""Fast read-only calls for the in-process chain: ``web3.eth.call`` with precomputed ABI codecs,
skipping Ape's transaction model (about 6x cheaper per call on py-evm). The state checks that
run after nearly every test (books, snapshots) read through it; the tests themselves keep
calling contracts the Ape way.

    fast(escrow).job(7).status
"""

from __future__ import annotations

from typing import Any

from ape import chain

from tests.support.rpc_chain import Function, _plain


class FastView:
    """The view functions of an Ape contract instance."""

    def __init__(self, address: str, abi: list[dict[str, Any]]) -> None:
        self.address = address
        self._functions = {
            item["name"]: Function(item)
            for item in abi
            if item["type"] == "function" and item.get("stateMutability") in ("view", "pure")
        }

    def __getattr__(self, name: str) -> Any:
        fn = self._functions.get(name)
        if fn is None:
            raise AttributeError(f"no view function {name!r}")

        def call(*args: Any) -> Any:
            raw = chain.provider.web3.eth.call({"to": self.address, "data": fn.encode([_plain_ape(a) for a in args])})
            return fn.decode(bytes(raw))

        return call


def _plain_ape(value: Any) -> Any:
    """Ape accounts and contracts stand for their address."""
    return str(value.address) if hasattr(value, "address") else _plain(value)


_VIEWS: dict[tuple[str, str], FastView] = {}


def fast(contract: Any) -> FastView:
    """The fast views of `contract` (an Ape contract instance). Cached by address and contract
    type: tests that revert to a snapshot may deploy another contract at the same address."""
    key = (str(contract.address), str(contract.contract_type.name))
    if key not in _VIEWS:
        abi = [item.model_dump(mode="json", by_alias=True) for item in contract.contract_type.abi]
        _VIEWS[key] = FastView(key[0], abi)
    return _VIEWS[key]
