"""The SDK's word-by-word ABI codec (computerails._rpc.Function) against eth-abi, on every
function of every shipped ABI: the same call data for any arguments, the same results for any
return data, and eth-abi's own error for an argument the fast path will not interpret."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_abi.exceptions import EncodingError
from eth_abi.tools import get_abi_strategy
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computerails._rpc import Codec
from computerails.deployments import load_artifact

CONTRACTS = ("JobEscrow", "ProviderStaking", "AttestationHub", "UptimeSlasher", "ProtocolTimelock")
FUNCTIONS = [
    pytest.param(fn, id=f"{name}.{fn.name}")
    for name in CONTRACTS
    for fn in Codec(load_artifact(name)["abi"]).functions.values()
]


def _checksummed(value):
    """eth-abi's strategy draws lower-case addresses; the SDK passes checksummed ones."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, tuple):
        return tuple(_checksummed(v) for v in value)
    if isinstance(value, list):
        return [_checksummed(v) for v in value]
    return value


def _reference(fn, raw: bytes):
    values = decode(fn.outputs, raw)
    values = tuple(n(v) if n else v for n, v in zip(fn._out_norm, values))
    return values[0] if len(values) == 1 else values


@pytest.mark.parametrize("fn", FUNCTIONS)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_codec__any_function__same_bytes_and_values_as_eth_abi(fn, data):
    args = [_checksummed(data.draw(get_abi_strategy(t), label=t)) for t in fn.inputs]
    for variant in (args, [a.lower() if isinstance(a, str) else a for a in args]):
        assert fn.encode(*variant) == "0x" + (fn.selector + encode(fn.inputs, variant)).hex()

    if fn.outputs:
        values = data.draw(get_abi_strategy(f"({','.join(fn.outputs)})"), label="outputs")
        raw = encode(fn.outputs, values)
        assert fn.decode(raw) == _reference(fn, raw)
        assert fn.decode("0x" + raw.hex()) == _reference(fn, raw)


def test_codec__fast_path_covers_the_hot_functions():
    """The point of the word codec: the reads and writes the SDK and the harness make most."""
    escrow = Codec(load_artifact("JobEscrow")["abi"])
    staking = Codec(load_artifact("ProviderStaking")["abi"])
    for fn in (escrow["createJob"], escrow["accept"], escrow["claimable"], staking["claimable"]):
        assert fn._in_words is not None, fn.name
    for fn in (escrow["job"], escrow["claimable"], staking["slashableStake"]):
        assert fn._out_words is not None, fn.name
    assert staking["providerInfo"]._out_words is None  # it carries a string: eth-abi decodes it


def test_codec__values_the_fast_path_will_not_interpret__eth_abi_decides():
    escrow = Codec(load_artifact("JobEscrow")["abi"])
    accept, claimable = escrow["accept"], escrow["claimable"]
    with pytest.raises(EncodingError):
        accept.encode(-1)  # not a uint256
    with pytest.raises(EncodingError):
        accept.encode(2**256)
    with pytest.raises(EncodingError):
        claimable.encode("0xnot-an-address-at-all-but-42-characters!", "0x" + "11" * 20)
    raw_address = bytes.fromhex("52908400098527886e0f7030069857d2e4169ee7")
    as_bytes = claimable.encode(raw_address, "0x" + "11" * 20)  # 20 bytes: eth-abi takes them too
    assert as_bytes == "0x" + (claimable.selector + encode(claimable.inputs, [raw_address, "0x" + "11" * 20])).hex()
