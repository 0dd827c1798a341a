"""A fast driver for the stateful harness: anvil over raw JSON-RPC, with an Ape-like surface.

No Ape and no web3 middleware in the hot loop:

- one keep-alive HTTP connection (``http.client``), JSON-RPC batches;
- calldata and results through the SDK's precomputed ABI codecs (``computerails._rpc``);
- transactions signed locally (eth-account with coincurve) with a fixed gas limit and a zero gas
  price (anvil runs with a zero base fee), sent with ``eth_sendRawTransactionSync`` in the same
  round trip as ``evm_setNextBlockTimestamp``: one round trip per transaction, receipt included;
- a call the model predicts to revert is not sent: it is simulated with ``eth_call`` at the
  exact timestamp the transaction would have run at (a block override), and its revert data
  compared byte for byte with the prediction;
- views for invariants go out as one batch per step (:meth:`RpcChain.read_many`).

Contracts look like Ape's (``escrow.createJob(..., sender=client)``, ``escrow.EnforcedPause``,
``receipt.events.filter(escrow.JobCreated)``) so that the rules read the same as the unit tests.
Every operation is also recorded, so a failing example can be written out as a replay script.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from computerails import _rpc
from computerails.errors import abi_type

GAS_LIMIT = 3_000_000  # fixed: no estimate in the hot loop


class RpcError(RuntimeError):
    """The node answered a request with an error that is not a revert."""


@dataclass
class Actor:
    """A test account: address and key (what Ape's test accounts offer the rules)."""

    address: str
    private_key: str
    name: str = ""

    def __str__(self) -> str:
        return self.name or self.address

    def __hash__(self) -> int:
        return hash(self.address)


@dataclass(frozen=True)
class ErrorRef:
    """A contract's custom error: what the rules name as a predicted outcome."""

    contract: str
    name: str
    inputs: tuple[dict[str, Any], ...]

    @property
    def abi(self) -> SimpleNamespace:  # Ape-like: error.abi.name
        return SimpleNamespace(name=self.name)

    @cached_property
    def selector(self) -> bytes:
        return keccak(text=f"{self.name}({','.join(abi_type(i) for i in self.inputs)})")[:4]

    def data(self, **args: Any) -> bytes:
        """The complete revert data for these arguments."""
        names = [i["name"] for i in self.inputs]
        if set(args) != set(names):
            raise TypeError(f"{self.name} takes {names}, got {sorted(args)}")
        values = [_plain(args[n]) for n in names]
        return self.selector + encode([abi_type(i) for i in self.inputs], values)


@dataclass(frozen=True)
class EventRef:
    contract: RpcContract
    name: str
    inputs: tuple[dict[str, Any], ...]

    @cached_property
    def topic(self) -> bytes:
        return keccak(text=f"{self.name}({','.join(abi_type(i) for i in self.inputs)})")

    def decode(self, log: dict[str, Any]) -> SimpleNamespace:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"][1:]]
        indexed = [i for i in self.inputs if i.get("indexed")]
        plain = [i for i in self.inputs if not i.get("indexed")]
        values: dict[str, Any] = {}
        for spec, topic in zip(indexed, topics):
            values[spec["name"]] = _clean(spec, decode([abi_type(spec)], topic)[0])
        data = bytes.fromhex(log["data"][2:])
        for spec, value in zip(plain, decode([abi_type(i) for i in plain], data)):
            values[spec["name"]] = _clean(spec, value)
        return SimpleNamespace(event_name=self.name, **values)


class Events:
    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.logs = logs

    def filter(self, event: EventRef) -> list[SimpleNamespace]:
        address = event.contract.address.lower()
        topic = "0x" + event.topic.hex()
        return [
            event.decode(log)
            for log in self.logs
            if log["address"].lower() == address and log["topics"] and log["topics"][0] == topic
        ]


@dataclass
class Receipt:
    tx_hash: str
    status: int
    gas_used: int
    timestamp: int
    logs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> Events:
        return Events(self.logs)


@dataclass
class Operation:
    """One recorded step: a transaction sent, or a revert predicted and checked."""

    kind: str  # "send" or "expect_revert"
    sender: str
    to: str
    data: str
    timestamp: int
    expected: str = ""  # revert data, for expect_revert


class RpcChain:
    """anvil over one keep-alive connection: time, transactions, calls, snapshots."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.url = url
        self._conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 8545, timeout=60)
        self._id = 0
        self.chain_id = int(self.request("eth_chainId", []), 16)
        self.time = int(self.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) + 1
        self._nonces: dict[str, int] = {}
        self._expect: bytes | None = None
        self._expect_error: str = ""
        self.ops: list[Operation] = []
        self.calls = 0  # contract calls: transactions sent plus predicted reverts checked

    # ── JSON-RPC ──
    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload)
        try:
            self._conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self._conn.getresponse().read())
        except (http.client.HTTPException, OSError):
            self._conn.close()  # one retry on a fresh connection (anvil closed an idle one)
            self._conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self._conn.getresponse().read())

    def _req(self, method: str, params: list[Any]) -> dict[str, Any]:
        self._id += 1
        return {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}

    def request(self, method: str, params: list[Any]) -> Any:
        answer = self._post(self._req(method, params))
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error']}")
        return answer["result"]

    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Answers in request order (each a JSON-RPC response object)."""
        if not requests:
            return []
        payload = [self._req(m, p) for m, p in requests]
        answers = {a["id"]: a for a in self._post(payload)}
        return [answers[r["id"]] for r in payload]

    # ── time ──
    @property
    def pending_timestamp(self) -> int:
        """The timestamp the next transaction runs at (Ape-like)."""
        return self.time

    @pending_timestamp.setter
    def pending_timestamp(self, value: int) -> None:
        if value < self.time:
            raise ValueError(f"time only moves forward: {value} < {self.time}")
        self.time = value

    # ── snapshots ──
    def snapshot(self) -> tuple[str, int, dict[str, int]]:
        return self.request("evm_snapshot", []), self.time, dict(self._nonces)

    def restore(self, snap: tuple[str, int, dict[str, int]]) -> None:
        """Revert to `snap` (anvil deletes it: take a new one after)."""
        snap_id, self.time, nonces = snap
        if not self.request("evm_revert", [snap_id]):
            raise RpcError(f"evm_revert({snap_id}) refused")
        self._nonces = dict(nonces)

    # ── transactions ──
    def nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(self.request("eth_getTransactionCount", [address, "pending"]), 16)
        return self._nonces[address]

    def transact(self, sender: Actor, to: str, data: bytes) -> Receipt:
        """Send at the current time, or check a predicted revert (inside `expect_revert`)."""
        self.calls += 1
        hexdata = "0x" + data.hex()
        if self._expect is not None:
            self._check_revert(sender, to, hexdata)
            return Receipt("", 0, 0, self.time)
        tx = {
            "to": to,
            "data": hexdata,
            "gas": GAS_LIMIT,
            "gasPrice": 0,
            "nonce": self.nonce(sender.address),
            "chainId": self.chain_id,
            "value": 0,
        }
        raw = "0x" + bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction).hex()
        timestamp = self.time
        _, answer = self.batch([("evm_setNextBlockTimestamp", [timestamp]), ("eth_sendRawTransactionSync", [raw])])
        if "error" in answer:
            raise RpcError(f"sending {hexdata[:10]} to {to}: {answer['error']}")
        self._nonces[sender.address] += 1
        self.time = timestamp + 1
        receipt = answer["result"]
        self.ops.append(Operation("send", sender.address, to, hexdata, timestamp))
        result = Receipt(
            receipt["transactionHash"],
            int(receipt["status"], 16),
            int(receipt["gasUsed"], 16),
            timestamp,
            receipt["logs"],
        )
        if result.status != 1:
            # The model predicted success: show what the chain said instead.
            reason = self.simulate(sender.address, to, hexdata, timestamp)
            raise AssertionError(f"predicted success, but the transaction reverted: {reason}")
        return result

    def simulate(self, sender: str, to: str, data: str, timestamp: int) -> str:
        """Revert data (0x...) of the call at `timestamp`, or "" if it succeeds."""
        call = {"from": sender, "to": to, "data": data, "gas": hex(GAS_LIMIT)}
        answer = self.batch([("eth_call", [call, "latest", {}, {"time": hex(timestamp)}])])[0]
        if "error" not in answer:
            return ""
        error = answer["error"]
        revert = error.get("data")
        if isinstance(revert, dict):
            revert = revert.get("data")
        if not isinstance(revert, str):
            raise RpcError(f"eth_call failed without revert data: {error}")
        return revert

    def _check_revert(self, sender: Actor, to: str, data: str) -> None:
        got = self.simulate(sender.address, to, data, self.time)
        expected = "0x" + (self._expect or b"").hex()
        self.ops.append(Operation("expect_revert", sender.address, to, data, self.time, expected))
        if got != expected:
            self._expect_seen = True
            raise AssertionError(
                f"expected revert {self._expect_error}\n     got {'success' if not got else describe(got)}"
            )
        self._expect_seen = True

    @contextmanager
    def expect_revert(self, error: ErrorRef, **args: Any) -> Iterator[None]:
        """Inside: the (single) transaction is checked against the predicted revert, not sent."""
        self._expect = error.data(**args)
        self._expect_error = f"{error.name}({', '.join(f'{k}={_plain(v)}' for k, v in args.items())})"
        self._expect_seen = False
        try:
            yield
            if not self._expect_seen:
                raise AssertionError(f"expected revert {self._expect_error}, but no transaction was made")
        finally:
            self._expect = None

    # ── reads ──
    def call(self, to: str, data: bytes) -> bytes:
        answer = self.batch([("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])])[0]
        if "error" in answer:
            raise RpcError(f"view call to {to} failed: {answer['error']}")
        return bytes.fromhex(answer["result"][2:])

    def read_many(self, reads: Sequence[tuple[RpcContract, str, tuple[Any, ...]]]) -> list[Any]:
        """Views in one round trip: [(contract, function, args)] -> decoded values."""
        requests = []
        for contract, fn, args in reads:
            spec = contract.functions[fn]
            requests.append(("eth_call", [{"to": contract.address, "data": "0x" + spec.encode(args).hex()}, "latest"]))
        out = []
        for (contract, fn, _), answer in zip(reads, self.batch(requests)):
            if "error" in answer:
                raise RpcError(f"{contract.name}.{fn}: {answer['error']}")
            out.append(contract.functions[fn].decode(bytes.fromhex(answer["result"][2:])))
        return out

    def mine(self) -> None:
        """Mine an empty block at the current time (Ape-like)."""
        self.batch([("evm_setNextBlockTimestamp", [self.time]), ("evm_mine", [])])
        self.time += 1


# ───────────────────────────── contracts ─────────────────────────────


class Function:
    """One ABI function over the SDK's precomputed codec (``computerails._rpc.Function``: word by
    word for static types), with Ape-like results: structs as :class:`StructView`."""

    __slots__ = ("name", "inputs", "outputs", "view", "codec", "_shaped")

    def __init__(self, item: dict[str, Any]) -> None:
        self.name: str = item["name"]
        self.inputs: tuple[dict[str, Any], ...] = tuple(item["inputs"])
        self.outputs: tuple[dict[str, Any], ...] = tuple(item.get("outputs", ()))
        self.view = item.get("stateMutability") in ("view", "pure")
        self.codec = _rpc.Function(item)
        self._shaped = any(o["type"].startswith("tuple") for o in self.outputs)

    @property
    def selector(self) -> bytes:
        return self.codec.selector

    def encode(self, args: Sequence[Any]) -> bytes:
        return self.codec.encode_bytes([_plain(a) for a in args])

    def decode(self, data: bytes) -> Any:
        value = self.codec.decode(data)
        if not self._shaped:
            return value
        if len(self.outputs) == 1:
            return _shape(self.outputs[0], value)
        return tuple(_shape(spec, v) for spec, v in zip(self.outputs, value))


class RpcContract:
    """A deployed contract with an Ape-like surface over :class:`RpcChain`."""

    def __init__(self, chain: RpcChain, name: str, address: str, abi: list[dict[str, Any]]) -> None:
        self.chain = chain
        self.name = name
        self.address = to_checksum_address(address)
        self.functions: dict[str, Function] = {}
        self.errors: dict[str, ErrorRef] = {}
        self.events: dict[str, EventRef] = {}
        for item in abi:
            if item["type"] == "function":
                self.functions[item["name"]] = Function(item)
            elif item["type"] == "error":
                self.errors.setdefault(item["name"], ErrorRef(name, item["name"], tuple(item["inputs"])))
            elif item["type"] == "event":
                self.events[item["name"]] = EventRef(self, item["name"], tuple(item["inputs"]))

    def __getattr__(self, attr: str) -> Any:
        if attr in self.errors:
            return self.errors[attr]
        if attr in self.events:
            return self.events[attr]
        if attr in self.functions:
            fn = self.functions[attr]

            def invoke(*args: Any, sender: Actor | None = None) -> Any:
                if fn.view:
                    return fn.decode(self.chain.call(self.address, fn.encode(args)))
                if sender is None:
                    raise TypeError(f"{self.name}.{attr} sends a transaction: pass sender=")
                return self.chain.transact(sender, self.address, fn.encode(args))

            return invoke
        raise AttributeError(f"{self.name} has no function, error or event {attr!r}")


def describe(revert: str) -> str:
    return revert if len(revert) < 80 else revert[:80] + "..."


def _plain(value: Any) -> Any:
    """Actors and contracts stand for their address; everything else as is."""
    if isinstance(value, (Actor, RpcContract)):
        return value.address
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _clean(spec: dict[str, Any], value: Any) -> Any:
    """Checksummed addresses, structs as namespaces with attribute access (Ape-like)."""
    kind = spec["type"]
    if kind == "address":
        return _rpc.checksum(value)
    if kind.startswith("tuple"):
        components = spec["components"]
        if kind.endswith("[]"):
            inner = {**spec, "type": kind[:-2]}
            return [_clean(inner, v) for v in value]
        return StructView({c["name"]: _clean(c, v) for c, v in zip(components, value)})
    if kind.endswith("[]"):
        inner = {**spec, "type": kind[:-2]}
        return [_clean(inner, v) for v in value]
    return value


def _shape(spec: dict[str, Any], value: Any) -> Any:
    """The codec's tuples as Ape shows them: structs with named attributes (addresses are
    checksummed by the codec already)."""
    kind = spec["type"]
    if kind.endswith("]"):
        inner = {**spec, "type": kind[: kind.rindex("[")]}
        return [_shape(inner, v) for v in value]
    if kind == "tuple":
        return StructView({c["name"]: _shape(c, v) for c, v in zip(spec["components"], value)})
    return value


class StructView(tuple):  # type: ignore[type-arg]
    """A decoded struct: a tuple (for equality with plain tuples) with named attributes."""

    def __new__(cls, fields: dict[str, Any]) -> StructView:
        self = super().__new__(cls, fields.values())
        self.__dict__.update(fields)
        return self

    def _asdict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def items(self) -> Any:
        return self.__dict__.items()
