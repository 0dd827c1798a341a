"""The SDK's hot path to the node: plain JSON-RPC requests, batched, with precomputed ABI codecs.

Why not web3's contract functions: every ``contract.functions.f(...).call()`` costs two round
trips (web3's validation middleware asks the node for ``eth_chainId`` before each ``eth_call``
and ``eth_estimateGas``) plus argument normalisation and result formatting through a stack of
middleware; profiling ``create_job`` showed ~3.5 ms per read where the node needs ~0.7 ms. Here
a read is one ``provider.make_request`` (or one slot of a JSON-RPC batch), encoded with
eth-abi from selectors and types computed once per ABI entry.

Only the SDK's own reads, simulations and receipt polls go this way. Sending the signed
transaction still goes through ``w3.eth.send_raw_transaction``, and the contract objects
(``rails.escrow`` ...) are ordinary web3 contracts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak
from eth_utils import to_checksum_address as _to_checksum_address
from web3.datastructures import AttributeDict
from web3.exceptions import Web3RPCError
from web3.types import RPCError

from computerails.errors import ComputeRailsError, RPCUnavailable, UnknownRevert, decode_revert
from computerails.errors import abi_type as _abi_type

#: Errors that mean "the node did not answer": safe to retry (a read, or the same signed bytes).
try:  # requests is what web3's HTTPProvider uses
    import requests

    TRANSIENT: tuple[type[BaseException], ...] = (
        requests.ConnectionError,
        requests.Timeout,
        ConnectionError,
        TimeoutError,
    )
except ImportError:  # pragma: no cover - web3 always brings requests
    TRANSIENT = (ConnectionError, TimeoutError)


def unreachable(w3: Any, exc: BaseException) -> RPCUnavailable:
    """The SDK's error for a node that did not answer: its URL and the cause, in one line (not
    requests' nested retry report)."""
    url = getattr(getattr(w3, "provider", None), "endpoint_uri", None) or "the node"
    text = str(exc)
    known = ("Connection refused", "Name or service not known", "timed out", "Connection reset", "No route to host")
    cause = next((k.lower() for k in known if k in text), type(exc).__name__)
    return RPCUnavailable(f"node {url} is unreachable ({cause}): start it, or give the right RPC URL (--rpc)")


try:  # web3's own receipt formatter: receipts look exactly as w3.eth.get_transaction_receipt returns them
    from web3._utils.method_formatters import receipt_formatter as _receipt_formatter
except ImportError:  # pragma: no cover - a web3 that moved it: TxManager falls back to w3.eth
    _receipt_formatter = None


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """``to_checksum_address`` with a cache: the same few addresses come back in every read."""
    return _to_checksum_address(address)


# ───────────────────────────── ABI codecs ─────────────────────────────


def _normalizer(component: dict[str, Any]) -> Callable[[Any], Any] | None:
    """Turn eth-abi's decoded value into what web3 returns: checksummed addresses, lists for
    arrays, tuples for structs. None when the value needs no change."""
    t = component["type"]
    if t.endswith("]"):
        inner = _normalizer({**component, "type": t[: t.rindex("[")]})
        if inner is None:
            return list
        return lambda v: [inner(x) for x in v]
    if t == "address":
        return checksum
    if t == "tuple":
        parts = [_normalizer(c) for c in component["components"]]
        if all(p is None for p in parts):
            return None
        return lambda v: tuple(p(x) if p else x for p, x in zip(parts, v))
    return None


def _word_decoder(t: str) -> Callable[[bytes], Any] | None:
    """Decoder of one 32-byte word of static type `t`, or None for any other type."""
    if t.endswith("]"):
        return None
    if t.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if t.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    if t == "bool":
        return lambda w: int.from_bytes(w, "big") != 0
    if t == "address":
        return lambda w: checksum("0x" + w[12:].hex())
    if t.startswith("bytes") and t[5:].isdigit():
        n = int(t[5:])
        return lambda w: w[:n]
    return None


def _static_decoder(component: dict[str, Any]) -> tuple[int, Callable[[bytes, int], Any]] | None:
    """(words, decode(data, offset)) for a value of static layout made of single words (an
    elementary type or a struct of them), or None when eth-abi must decode it."""
    t = component["type"]
    if t == "tuple":
        parts = [_static_decoder(c) for c in component["components"]]
        if any(p is None for p in parts):
            return None
        layout = [p for p in parts if p is not None]
        size = sum(n for n, _ in layout)

        def decode_tuple(data: bytes, offset: int) -> Any:
            values = []
            for n, part in layout:
                values.append(part(data, offset))
                offset += 32 * n
            return tuple(values)

        return size, decode_tuple
    word = _word_decoder(t)
    if word is None:
        return None
    return 1, lambda data, offset: word(data[offset : offset + 32])


def _word_encoder(t: str) -> Callable[[Any], bytes] | None:
    """Encoder of one argument of static single-word type `t` that refuses (raises) anything it
    would have to interpret; None for other types. A refused value goes to eth-abi, whose
    error the caller sees."""
    if t.endswith("]"):
        return None
    if t.startswith("uint"):
        bound = 1 << int(t[4:] or 256)

        def uint(v: Any) -> bytes:
            if type(v) is not int or not 0 <= v < bound:
                raise TypeError
            return v.to_bytes(32, "big")

        return uint
    if t == "address":

        def address(v: Any) -> bytes:
            if type(v) is not str or len(v) != 42 or v[:2] != "0x":
                raise TypeError
            return bytes(12) + bytes.fromhex(v[2:])  # any case, as eth-abi (parse_address checks sums)

        return address
    if t == "bytes32":

        def bytes32(v: Any) -> bytes:
            if type(v) is not bytes or len(v) != 32:
                raise TypeError
            return v

        return bytes32
    if t == "bool":

        def boolean(v: Any) -> bytes:
            if type(v) is not bool:
                raise TypeError
            return (31 * b"\0") + (b"\1" if v else b"\0")

        return boolean
    return None


class Function:
    """One ABI function: selector, argument and result types, computed once. Arguments and
    results of single-word static types (uints, addresses, bytes32, bools, and structs of
    them) are encoded and decoded word by word; anything else goes through eth-abi."""

    __slots__ = ("name", "selector", "inputs", "outputs", "_out_norm", "_in_words", "_out_words", "_out_size")

    def __init__(self, item: dict[str, Any]) -> None:
        self.name = item["name"]
        self.inputs = [_abi_type(i) for i in item["inputs"]]
        self.outputs = [_abi_type(o) for o in item.get("outputs", [])]
        self.selector = function_signature_to_4byte_selector(f"{self.name}({','.join(self.inputs)})")
        self._out_norm = [_normalizer(o) for o in item.get("outputs", [])]
        encoders = [_word_encoder(t) for t in self.inputs]
        self._in_words: list[Callable[[Any], bytes]] | None = [e for e in encoders if e is not None]
        if len(self._in_words) != len(encoders):
            self._in_words = None
        decoders = [_static_decoder(o) for o in item.get("outputs", [])]
        self._out_words: list[tuple[int, Callable[[bytes, int], Any]]] | None = [d for d in decoders if d]
        if len(self._out_words) != len(decoders):
            self._out_words = None
        self._out_size = 32 * sum(n for n, _ in self._out_words) if self._out_words is not None else 0

    def encode_bytes(self, args: Sequence[Any]) -> bytes:
        """Call data (arguments as eth-abi takes them: addresses as hex, bytes32 as bytes)."""
        words = self._in_words
        if words is not None and len(args) == len(words):
            try:
                return self.selector + b"".join(enc(a) for enc, a in zip(words, args))
            except (TypeError, ValueError):
                pass  # eth-abi decides, and names the problem
        return self.selector + encode(self.inputs, args)

    def encode(self, *args: Any) -> str:
        """Call data, 0x-hex."""
        return "0x" + self.encode_bytes(args).hex()

    def decode(self, data: str | bytes) -> Any:
        """The result: a single value, or a tuple for several outputs (as web3 returns them)."""
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
        layout = self._out_words
        if layout is not None and len(raw) >= self._out_size:
            offset, out = 0, []
            for n, part in layout:
                out.append(part(raw, offset))
                offset += 32 * n
            values = tuple(out)
        else:
            values = decode(self.outputs, raw)
            values = tuple(n(v) if n else v for n, v in zip(self._out_norm, values))
        return values[0] if len(values) == 1 else values


class Event:
    """One ABI event: topic and decoders for its indexed and data fields."""

    __slots__ = ("name", "topic", "_indexed", "_data", "_data_types")

    def __init__(self, item: dict[str, Any]) -> None:
        self.name = item["name"]
        types = [_abi_type(i) for i in item["inputs"]]
        self.topic = keccak(text=f"{self.name}({','.join(types)})")
        self._indexed = [(i["name"], _abi_type(i), _normalizer(i)) for i in item["inputs"] if i.get("indexed")]
        self._data = [(i["name"], _normalizer(i)) for i in item["inputs"] if not i.get("indexed")]
        self._data_types = [_abi_type(i) for i in item["inputs"] if not i.get("indexed")]

    def logs(self, receipt: Any, address: str) -> list[AttributeDict[str, Any]]:
        """The decoded arguments of every log of this event emitted by `address` in `receipt`."""
        out = []
        for log in receipt["logs"]:
            topics = log["topics"]
            if not topics or bytes(topics[0]) != self.topic or log["address"].lower() != address.lower():
                continue
            args: dict[str, Any] = {}
            for (name, t, norm), topic in zip(self._indexed, topics[1:]):
                (value,) = decode([t], bytes(topic))
                args[name] = norm(value) if norm else value
            data = log["data"]
            raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
            for (name, norm), value in zip(self._data, decode(self._data_types, raw)):
                args[name] = norm(value) if norm else value
            out.append(AttributeDict(args))
        return out


class Codec:
    """Functions and events of one contract ABI, by name (first declaration of a name wins)."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self.functions: dict[str, Function] = {}
        self.events: dict[str, Event] = {}
        for item in abi:
            if item.get("type") == "function":
                self.functions.setdefault(item["name"], Function(item))
            elif item.get("type") == "event":
                self.events.setdefault(item["name"], Event(item))

    def __getitem__(self, name: str) -> Function:
        return self.functions[name]


# ───────────────────────────── requests ─────────────────────────────


@dataclass(frozen=True)
class Request:
    """One JSON-RPC request and how to read its result.

    ``lenient``: an error is returned (as the SDK exception it maps to) instead of raised, so
    a batch can carry a simulation whose revert only matters once the preconditions passed.
    """

    method: str
    params: list[Any]
    parse: Callable[[Any], Any] | None = None
    lenient: bool = False


def node_error(method: str, error: RPCError) -> BaseException:
    """The exception for a JSON-RPC error object: the decoded custom error for a revert that
    carries data, UnknownRevert for one that does not, Web3RPCError for anything else."""
    data: Any = error.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    message = str(error.get("message", ""))
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return decode_revert(data)
    if "revert" in message.lower():
        return UnknownRevert({"reason": message})
    return Web3RPCError(f"{method}: {error}", rpc_response={"error": error})


def _result(request: Request, response: Any) -> Any:
    if not isinstance(response, dict):
        raise Web3RPCError(f"{request.method}: malformed response {response!r}")
    if response.get("error") is not None:
        exc = node_error(request.method, response["error"])
        if request.lenient and isinstance(exc, (ComputeRailsError, Web3RPCError)):
            return exc
        raise exc
    value = response.get("result")
    return request.parse(value) if request.parse is not None else value


class Rpc:
    """Plain JSON-RPC over the connection's provider (looked up on every request, so a
    provider swapped on the Web3 object is honoured).

    Args:
        w3: the connection.
        reads: transport errors (after the provider's own retries) become
            :class:`~computerails.errors.RPCUnavailable`, as for the session's reads. Without it
            they propagate unchanged: callers that retry (TxManager) see the same exceptions as
            through web3.
    """

    def __init__(self, w3: Any, *, reads: bool = False) -> None:
        self.w3 = w3
        self.reads = reads
        self._batching: bool | None = None  # unknown until the first batch

    def request(self, method: str, params: list[Any], parse: Callable[[Any], Any] | None = None) -> Any:
        req = Request(method, params, parse)
        try:
            response = self.w3.provider.make_request(method, params)
        except TRANSIENT as exc:
            if not self.reads:
                raise
            raise unreachable(self.w3, exc) from None
        return _result(req, response)

    #: The most requests sent in one JSON-RPC batch; a longer list goes out in several.
    MAX_BATCH = 500

    def run(self, requests: Sequence[Request]) -> list[Any]:
        """Results of `requests` in order: one round trip when the provider batches, or one per
        :attr:`MAX_BATCH` requests for longer lists.

        Raises:
            RPCUnavailable: (with ``reads``) the node did not answer.
        """
        try:
            out: list[Any] = []
            for start in range(0, len(requests), self.MAX_BATCH):
                out += self._run(requests[start : start + self.MAX_BATCH])
            return out
        except TRANSIENT as exc:
            if not self.reads:
                raise
            raise unreachable(self.w3, exc) from None

    def _run(self, requests: Sequence[Request]) -> list[Any]:
        if len(requests) == 1:
            return [_result(requests[0], self.w3.provider.make_request(requests[0].method, requests[0].params))]
        responses = self._batch(requests)
        if responses is None:
            return [_result(r, self.w3.provider.make_request(r.method, r.params)) for r in requests]
        return [_result(r, resp) for r, resp in zip(requests, responses)]

    def _batch(self, requests: Sequence[Request]) -> list[Any] | None:
        if self._batching is False:
            return None
        batch = getattr(self.w3.provider, "make_batch_request", None)
        if batch is None:
            self._batching = False
            return None
        try:
            responses = self._with_provider_retries(batch, [(r.method, r.params) for r in requests])
        except NotImplementedError:
            self._batching = False
            return None
        if not isinstance(responses, list) or len(responses) != len(requests):
            self._batching = False  # the node refused the batch as a whole: one by one from now on
            return None
        self._batching = True
        return responses

    def _with_provider_retries(self, batch: Callable[[Any], Any], payload: Any) -> Any:
        """web3 retries single requests on connection errors (the provider's
        exception_retry_configuration) but not batches; the SDK's batches hold only reads and
        simulations, so they get the same retries."""
        config = getattr(self.w3.provider, "exception_retry_configuration", None)
        retries = getattr(config, "retries", 0) if config else 0
        errors = tuple(getattr(config, "errors", ()) or ()) if config else ()
        for attempt in range(max(retries, 1)):
            try:
                return batch(payload)
            except errors:
                if attempt >= retries - 1:
                    raise
                time.sleep(config.backoff_factor * 2**attempt)  # type: ignore[union-attr]
        raise AssertionError("unreachable")  # pragma: no cover

    # ── request builders ──
    @staticmethod
    def call(to: str, fn: Function, *args: Any, block: str | int = "latest") -> Request:
        return Request("eth_call", [{"to": to, "data": fn.encode(*args)}, _block(block)], fn.decode)

    @staticmethod
    def latest_timestamp() -> Request:
        return Request("eth_getBlockByNumber", ["latest", False], lambda b: int(b["timestamp"], 16))

    @staticmethod
    def estimate(sender: str, to: str, data: str, value: int = 0, *, lenient: bool = False) -> Request:
        tx = {"from": sender, "data": data, "value": hex(value)}
        if to:  # no `to`: a contract creation
            tx["to"] = to
        return Request("eth_estimateGas", [tx], lambda g: int(g, 16), lenient=lenient)


def _block(block: str | int) -> str:
    return hex(block) if isinstance(block, int) else block


def format_receipt(raw: dict[str, Any]) -> Any:
    """A JSON-RPC receipt as web3 returns it (ints, HexBytes, AttributeDict), or None when this
    web3 has no public-enough formatter (the caller then asks w3.eth)."""
    if _receipt_formatter is None:  # pragma: no cover
        return None
    return AttributeDict.recursive(_receipt_formatter(raw))
