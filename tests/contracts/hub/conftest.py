"""Helpers for the AttestationHub tests: strict revert matching, raw signature building and a
plain-Python model of the hub's quorum check.

Why not plain ``ape.reverts(hub.Error, **inputs)``: with Ape 0.8 it silently accepts an input
name the error does not have, and when Ape cannot decode the revert data (e.g. the escrow's
error bubbling up through the hub on the in-process provider) it skips the type check
altogether. ``reverts`` below compares the complete revert data, selector and every argument,
with the ABI encoding of the expected error, so a wrong name or a missing argument fails.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Iterator, Sequence

import ape
import pytest
from ape.exceptions import ContractLogicError, CustomError
from eth_abi import decode, encode
from eth_account import Account
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

from computerails import eip712

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# ─────────────────────────── revert data ───────────────────────────


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
    for name in ("AttestationHub", "JobEscrow", "UptimeSlasher", "ProviderStaking"):
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
def strict_reverts(error: Any, **inputs: Any) -> Iterator[Any]:
    expected = encode_error(error.abi, inputs)
    with ape.reverts() as info:
        yield info
    actual = revert_data(info.value)
    if actual != expected:
        raise AssertionError(f"expected revert {describe(expected)}\n     got revert {describe(actual)}")


@pytest.fixture(scope="session")
def reverts():
    """``with reverts(hub.SignerNotOracle, signer=x):`` – matches the complete revert data."""
    return strict_reverts


@pytest.fixture(scope="session")
def selector():
    """``selector(hub.InsufficientSignatures)``: the error's 4-byte selector."""
    return lambda error: keccak(text=error.abi.selector)[:4]


@pytest.fixture(scope="session")
def error_data():
    """``error_data(hub.InsufficientSignatures, required=2, provided=1)``: full revert data."""
    return lambda error, **inputs: encode_error(error.abi, inputs)


# ─────────────────────────── signatures ───────────────────────────


def addr_key(address: str) -> int:
    return int(address, 16)


def raw_signatures(digest: bytes, signers: Sequence[Any]) -> bytes:
    """Signatures of `signers` concatenated in the order given (no sorting, no dedup)."""
    return b"".join(eip712.sign_digest(digest, s.private_key) for s in signers)


def recover(digest: bytes, signature: bytes) -> str | None:
    """The address OpenZeppelin's ECDSA.tryRecover returns, or None where it reports an error."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N // 2 or v not in (27, 28) or not (0 < r < SECP256K1_N) or s == 0:
        return None
    try:
        return Account._recover_hash(digest, vrs=(v, r, s))
    except (BadSignature, ValueError):
        return None


def high_s_twin(signature: bytes) -> bytes:
    """The malleable twin of a signature: s' = n - s with v flipped 27 <-> 28. It verifies
    under plain secp256k1 for the same key; only the low-s rule rejects it."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def predicted_rejection(
    digest: bytes, signatures: bytes, oracle_set: Sequence[str], threshold: int
) -> tuple[str, dict[str, Any]] | None:
    """Mirror of AttestationHub._verifyQuorum: the (error name, arguments) it reverts with."""
    if len(signatures) % 65:
        return "SignatureLengthInvalid", {"length": len(signatures)}
    count = len(signatures) // 65
    if count < threshold:
        return "InsufficientSignatures", {"required": threshold, "provided": count}
    members = {addr_key(a) for a in oracle_set}
    previous = "0x" + "00" * 20
    for i in range(count):
        signer = recover(digest, signatures[65 * i : 65 * (i + 1)])
        if signer is None:
            return "InvalidSignature", {"index": i}
        if addr_key(signer) <= addr_key(previous):
            return "SignersNotAscending", {"previous": to_checksum_address(previous), "signer": signer}
        if addr_key(signer) not in members:
            return "SignerNotOracle", {"signer": signer}
        previous = signer
    return None


@pytest.fixture(scope="session")
def quorum():
    """Signature tools: ``quorum.sign(digest, signers)`` (order kept), ``quorum.recover``,
    ``quorum.predict(digest, signatures, oracle_set, threshold)`` and ``quorum.high_s_twin``."""
    return SimpleNamespace(sign=raw_signatures, recover=recover, predict=predicted_rejection, high_s_twin=high_s_twin)


@pytest.fixture(scope="session")
def sorted_oracles(oracles):
    """The oracle accounts in increasing address order (the order signatures must come in)."""
    return sorted(oracles, key=lambda o: addr_key(o.address))


@pytest.fixture(scope="session")
def outsider():
    """A key that is not and never was an oracle (signs like a test account)."""
    key = keccak(text="computerails outsider oracle")
    return SimpleNamespace(address=Account.from_key(key).address, private_key=key)


@pytest.fixture
def attestation(protocol, accepted_job):
    """A success attestation of `accepted_job` for 60 units, valid for an hour."""
    return protocol.attestation(accepted_job, units=60)


@pytest.fixture
def digest(protocol, attestation):
    return protocol.attestation_digest(attestation)
