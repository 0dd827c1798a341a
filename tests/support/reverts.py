"""Strict revert matching: compares the complete revert data (selector and every argument).

Why not plain ``ape.reverts(contract.Error, **inputs)``: with Ape 0.8 it silently accepts an
input name the error does not have, and when Ape cannot decode the revert data (e.g. an error
bubbling up from another contract on the in-process provider) it skips the type check
altogether. ``reverts`` below ABI-encodes the expected error and compares bytes, so a wrong
name, a missing argument or a different error fails the test.

    from tests.support.reverts import reverts
    with reverts(escrow.NotJobClient, expected=client, caller=attacker):
        escrow.cancel(job_id, sender=attacker)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ape
from ape.exceptions import ContractLogicError, CustomError
from eth_abi import decode, encode
from eth_utils import keccak

PROTOCOL = (
    "AttestationHub",
    "JobEscrow",
    "MeteredEscrow",
    "UptimeSlasher",
    "ProviderStaking",
    "MockUSD",
    "MockStakeToken",
)


def _abi_value(value: Any) -> Any:
    return value.address if hasattr(value, "address") else value


def encode_error(abi: Any, inputs: dict[str, Any]) -> bytes:
    """``selector ‖ abi.encode(args)`` of a custom error, arguments taken by name."""
    names = [i.name for i in abi.inputs]
    if set(inputs) != set(names):
        raise AssertionError(f"{abi.name} takes {names}, the test passed {sorted(inputs)}")
    types = [i.canonical_type for i in abi.inputs]
    return keccak(text=abi.selector)[:4] + encode(types, [_abi_value(inputs[n]) for n in names])


def revert_data(exc: ContractLogicError) -> bytes:
    """The raw revert data of a failed call, whether or not Ape decoded it to a custom error."""
    if isinstance(exc, CustomError):
        return encode_error(exc.abi, exc.inputs)
    message = exc.revert_message or ""
    if message.startswith("0x"):
        return bytes.fromhex(message[2:])
    if message[:2] in ('b"', "b'"):
        # eth-tester prints revert data that happens to be valid UTF-8 as a bytes literal.
        return ast.literal_eval(message)
    raise AssertionError(f"expected a custom error, the call reverted with {message!r}")


def _known_errors() -> dict[bytes, Any]:
    known = {}
    for name in PROTOCOL:
        for abi in ape.project.get_contract(name).contract_type.errors:
            known[keccak(text=abi.selector)[:4]] = abi
    return known


def describe(data: bytes) -> str:
    """``Name(arg=value, ...)`` for the protocol's errors, else the raw hex."""
    abi = _known_errors().get(data[:4])
    if abi is None:
        return f"0x{data.hex()}"
    try:
        values = decode([i.canonical_type for i in abi.inputs], data[4:])
    except Exception:
        return f"{abi.selector} with undecodable arguments 0x{data[4:].hex()}"
    args = ", ".join(f"{i.name}={v.hex() if isinstance(v, bytes) else v}" for i, v in zip(abi.inputs, values))
    return f"{abi.name}({args})"


@contextmanager
def reverts(error: Any, **inputs: Any) -> Iterator[Any]:
    expected = encode_error(error.abi, inputs)
    with ape.reverts() as info:
        yield info
    actual = revert_data(info.value)
    if actual != expected:
        raise AssertionError(f"expected revert {describe(expected)}\n     got revert {describe(actual)}")


def selector(error: Any) -> bytes:
    """``selector(hub.InsufficientSignatures)``: the error's 4-byte selector."""
    return keccak(text=error.abi.selector)[:4]


def error_data(error: Any, **inputs: Any) -> bytes:
    """``error_data(hub.InsufficientSignatures, required=2, provided=1)``: full revert data."""
    return encode_error(error.abi, inputs)
