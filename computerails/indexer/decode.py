"""Decoding a deployment's logs into :class:`Event` values with JSON-ready arguments.

Arguments are kept in their JSON form everywhere (the ``events`` table stores exactly this):
integers as decimal strings (uint256 does not fit a JSON number every reader handles), addresses
EIP-55 checksummed, bytes as lowercase ``0x`` hex, tuples and arrays as lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from computerails.deployments import Deployment, load_artifact

#: The protocol contracts the indexer follows (tokens are not indexed).
#: A contract a deployment lacks (MeteredEscrow, RewardsDistributor before issues 12 and 16) is skipped.
CONTRACTS = (
    "AttestationHub",
    "JobEscrow",
    "MeteredEscrow",
    "ProviderStaking",
    "UptimeSlasher",
    "ProtocolTimelock",
    "RewardsDistributor",
)


@dataclass(frozen=True)
class Event:
    """One decoded log."""

    block_number: int
    log_index: int
    tx_hash: str
    block_hash: str
    contract: str
    address: str
    event: str
    args: dict[str, Any]

    @classmethod
    def from_row(cls, r: Any) -> Event:
        """The event an ``events`` row records (a mapping of its columns; the block hash is not kept)."""
        return cls(
            block_number=int(r["block_number"]),
            log_index=int(r["log_index"]),
            tx_hash=str(r["tx_hash"]),
            block_hash="",
            contract=str(r["contract"]),
            address=str(r["address"]),
            event=str(r["event"]),
            args=dict(r["args"]),
        )

    @property
    def where(self) -> dict[str, Any]:
        return {"block_number": self.block_number, "log_index": self.log_index, "tx_hash": self.tx_hash}


def _abi_type(item: dict[str, Any]) -> str:
    t = str(item["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + t[len("tuple") :]
    return t


@lru_cache(maxsize=65_536)
def _checksum(address: str) -> str:
    """EIP-55 form of a lowercase address (a log names the same few addresses again and again)."""
    return str(to_checksum_address(address))


def _word_decoder(t: str) -> Callable[[bytes], Any] | None:
    """The JSON form of one 32-byte ABI word of static type `t` (None: not a one-word type)."""
    if t == "address":
        return lambda w: _checksum("0x" + w[12:].hex())
    if t == "bool":
        return lambda w: w[-1] != 0
    if t.startswith("uint") and not t.endswith("]"):
        return lambda w: str(int.from_bytes(w, "big"))
    if t.startswith("int") and not t.endswith("]"):
        return lambda w: str(int.from_bytes(w, "big", signed=True))
    if t.startswith("bytes") and t != "bytes" and not t.endswith("]"):
        n = int(t[5:])
        return lambda w: "0x" + w[:n].hex()
    return None


def _jsonable(item: dict[str, Any], value: Any) -> Any:
    t = str(item["type"])
    if t.endswith("]"):
        inner = {**item, "type": t[: t.rindex("[")]}
        return [_jsonable(inner, v) for v in value]
    if t == "tuple":
        return [_jsonable(c, v) for c, v in zip(item["components"], value)]
    if t == "address":
        return _checksum(str(value).lower())
    if t == "bool":
        return bool(value)
    if t.startswith(("uint", "int")):
        return str(int(value))
    if t.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value  # string


class _EventAbi:
    def __init__(self, contract: str, item: dict[str, Any]) -> None:
        self.contract = contract
        self.name = str(item["name"])
        inputs = list(item["inputs"])
        self.inputs = inputs
        self.indexed = [i for i in inputs if i["indexed"]]
        self.data = [i for i in inputs if not i["indexed"]]
        self.data_types = [_abi_type(i) for i in self.data]
        self.topic0 = "0x" + keccak(text=f"{self.name}({','.join(_abi_type(i) for i in inputs)})").hex()
        self.topic_words = [_word_decoder(_abi_type(i)) for i in self.indexed]
        words = [_word_decoder(t) for t in self.data_types]
        # every data field one static word: slice the words (eth_abi's general decoder is several
        # times slower, and the indexer decodes every log)
        self.data_words: list[Callable[[bytes], Any]] | None = None
        if all(w is not None for w in words):
            self.data_words = [w for w in words if w is not None]

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for item, word, topic in zip(self.indexed, self.topic_words, topics[1:]):
            raw = bytes.fromhex(topic[2:])
            # a dynamic value's topic is its hash: what the log holds, kept as hex
            values[item["name"]] = word(raw) if word is not None else "0x" + raw.hex()
        blob = bytes.fromhex(data[2:])
        if self.data_words is not None:
            for i, (item, word) in enumerate(zip(self.data, self.data_words)):
                values[item["name"]] = word(blob[32 * i : 32 * i + 32])
        elif self.data:
            for item, value in zip(self.data, abi_decode(self.data_types, blob)):
                values[item["name"]] = _jsonable(item, value)
        return {i["name"]: values[i["name"]] for i in self.inputs}


class Decoder:
    """Decodes the logs of one deployment's protocol contracts.

    Args:
        deployment: whose contract addresses to follow.
    """

    def __init__(self, deployment: Deployment) -> None:
        self._by_address: dict[str, dict[str, _EventAbi]] = {}
        self.names: dict[str, str] = {}
        for contract in CONTRACTS:
            address = deployment.contracts.get(contract)
            if contract == "ProtocolTimelock" and address is None:
                address = deployment.governance.get("timelock")  # the deploy script files it there
            if address is None:
                continue
            address = to_checksum_address(address)
            self.names[address] = contract
            events = [
                _EventAbi(contract, item) for item in load_artifact(contract)["abi"] if item.get("type") == "event"
            ]
            self._by_address[address.lower()] = {e.topic0: e for e in events}

    @property
    def addresses(self) -> list[str]:
        return list(self.names)

    def decode(self, log: dict[str, Any]) -> Event | None:
        """The log as an :class:`Event`, or None for a log of an event the ABI does not know."""
        table = self._by_address.get(str(log["address"]).lower())
        topics = list(log.get("topics") or [])
        if table is None or not topics:
            return None
        abi = table.get(str(topics[0]).lower())
        if abi is None:
            return None
        return Event(
            block_number=int(log["blockNumber"], 16),
            log_index=int(log["logIndex"], 16),
            tx_hash=str(log["transactionHash"]).lower(),
            block_hash=str(log["blockHash"]).lower(),
            contract=abi.contract,
            address=_checksum(str(log["address"]).lower()),
            event=abi.name,
            args=abi.decode(topics, str(log["data"])),
        )
