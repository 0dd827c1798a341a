"""Strict assertion helpers for the JobEscrow tests.

``ape.reverts(contract.SomeError, **inputs)`` is lenient in two ways that matter here: it skips
the error-type check when the revert data was not decoded (errors bubbling up from the staking
contract or a token are not in the called contract's ABI), and it ignores inputs the test does
not name. ``reverts_with`` decodes the revert data against the expected error's own ABI and
compares *all* of its inputs, so a test cannot pass on the wrong error or the wrong arguments.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, Iterator

from ape.exceptions import ContractLogicError, CustomError
from eth_abi import decode as abi_decode
from eth_utils import is_hex_address, keccak, to_checksum_address
from hexbytes import HexBytes

USD = 10**6
STAKE = 10**18
DAY = 86_400
HOUR = 3_600

SPEC_HASH = b"\x07" * 32
RESULT_HASH = b"\x42" * 32

# Defaults from scripts/deploy.py, repeated so the tests state the numbers they expect.
FEE_BPS = 250
ACCEPT_WINDOW = HOUR
CHALLENGE_WINDOW = HOUR
DISPUTE_TIMEOUT = 3 * DAY
MAX_JOB_DURATION = 30 * DAY
DISPUTE_BOND_BPS = 1_000
CLIENT_SLASH_SHARE_BPS = 5_000
# 5,000 bps collateral, 6-decimal payment token, 18-decimal stake token.
COLLATERAL_RATE = 5_000 * 10**30 // 10_000

# The default job of tests/conftest.py: 100 units at 0.10 USD.
UNIT_PRICE = USD // 10
MAX_UNITS = 100
ESCROW = UNIT_PRICE * MAX_UNITS  # 10 USD
COLLATERAL = ESCROW * COLLATERAL_RATE // 10**18  # 5 stake tokens
BOND = ESCROW * DISPUTE_BOND_BPS // 10_000  # 1 USD

UINT96_MAX = 2**96 - 1
UINT48_MAX = 2**48 - 1
UINT128_MAX = 2**128 - 1


class Status(IntEnum):
    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    ATTESTED = 3
    DISPUTED = 4
    SETTLED = 5
    FAILED = 6
    EXPIRED = 7
    CANCELLED = 8


# ───────────────────────────── value normalisation ─────────────────────────────


def norm(value: Any) -> Any:
    """Bring accounts, contracts, addresses, bytes and ints to one comparable form."""
    if hasattr(value, "address") and not isinstance(value, (str, bytes)):
        return to_checksum_address(str(value.address))
    if isinstance(value, str) and is_hex_address(value):
        return to_checksum_address(value)
    if isinstance(value, (bytes, bytearray)):
        return HexBytes(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    return value


# ───────────────────────────── reverts ─────────────────────────────


def _error_abi(error: Any) -> Any:
    abi = getattr(error, "abi", None)
    if abi is None or getattr(abi, "type", None) != "error":
        raise TypeError(f"expected a contract error class such as escrow.TokenNotAllowed, got {error!r}")
    return abi


def _revert_data(err: ContractLogicError) -> bytes | None:
    """The raw revert data of an error Ape did not decode.

    Ape reports it as a hex string, or (when decoding failed, e.g. because the data holds a
    0x27 quote byte) as the repr of a bytes object: accept both.
    """
    message = err.revert_message
    if isinstance(message, (bytes, bytearray)):
        return bytes(message)
    if not isinstance(message, str):
        return None
    if message.startswith("0x"):
        try:
            return bytes(HexBytes(message))
        except ValueError:
            return None
    if message[:2] in ("b'", 'b"'):
        try:
            value = ast.literal_eval(message)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    return None


def decode_revert(err: ContractLogicError, abi: Any) -> tuple[str, dict[str, Any]]:
    """(error name, inputs) of a revert, decoded against `abi` when Ape could not decode it."""
    if isinstance(err, CustomError):
        return err.abi.name, dict(err.inputs)
    data = _revert_data(err)
    selector = keccak(text=abi.selector)[:4]
    if data is None or data[:4] != selector:
        return f"<undecoded revert {err.revert_message!r}>", {}
    types = [i.canonical_type for i in abi.inputs]
    values = abi_decode(types, data[4:])
    return abi.name, {i.name: v for i, v in zip(abi.inputs, values)}


@contextmanager
def reverts_with(error: Any, **expected: Any) -> Iterator[None]:
    """Assert the block reverts with exactly `error` and exactly these inputs (all of them)."""
    abi = _error_abi(error)
    names = [i.name for i in abi.inputs]
    assert sorted(expected) == sorted(names), f"give every input of {abi.name}: {names}"
    try:
        yield
    except ContractLogicError as err:
        name, inputs = decode_revert(err, abi)
        assert name == abi.name, f"expected {abi.name}, reverted with {name}"
        assert norm(inputs) == norm(expected), f"{abi.name} inputs: got {norm(inputs)}, expected {norm(expected)}"
    else:
        raise AssertionError(f"did not revert (expected {abi.name})")


# ───────────────────────────── events and views ─────────────────────────────


def events(receipt: Any, event: Any) -> list[dict[str, Any]]:
    """All `event` logs of the receipt (from that contract), as normalised argument dicts."""
    return [norm(dict(log.event_arguments)) for log in receipt.events.filter(event)]


def assert_event(receipt: Any, event: Any, **expected: Any) -> None:
    """Exactly one `event` was emitted and its arguments are exactly `expected`."""
    assert events(receipt, event) == [norm(expected)]


def as_dict(struct: Any) -> dict[str, Any]:
    """A returned ABI struct as a normalised dict."""
    items = struct.items() if hasattr(struct, "items") else struct._asdict().items()
    return norm(dict(items))


def job_view(escrow: Any, job_id: int) -> dict[str, Any]:
    return as_dict(escrow.job(job_id))


def role_error(account: Any, role: bytes) -> dict[str, Any]:
    return {"account": account, "neededRole": role}


# ───────────────────────────── state snapshots ─────────────────────────────


def snapshot(escrow: Any, tokens: list[Any], accounts: list[Any], job_ids: list[int] = ()) -> dict[str, Any]:
    """Everything a reverted call must leave alone: balances, claimables, jobs, the job count."""
    holders = list(accounts) + [escrow]
    return {
        "balances": {(t.address, norm(a)): int(t.balanceOf(a)) for t in tokens for a in holders},
        "claimable": {(t.address, norm(a)): int(escrow.claimable(a, t)) for t in tokens for a in accounts},
        "jobs": {j: job_view(escrow, j) for j in job_ids},
        "jobCount": int(escrow.jobCount()),
    }


def fee_of(gross: int, fee_bps: int = FEE_BPS) -> int:
    return gross * fee_bps // 10_000


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
