"""Assertion helpers for the JobEscrow tests: normalised values, events as values, views and
state snapshots. Reverts are matched strictly by tests/utils/reverts.py."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from eth_utils import is_hex_address, to_checksum_address
from hexbytes import HexBytes

from tests.support.views import fast

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

# The terms every job created on the fresh deployment gets (terms id 1).
INITIAL_TERMS_ID = 1
DEFAULT_TERMS = {
    "feeBps": FEE_BPS,
    "challengeWindow": CHALLENGE_WINDOW,
    "disputeTimeout": DISPUTE_TIMEOUT,
    "disputeBondBps": DISPUTE_BOND_BPS,
    "clientSlashShareBps": CLIENT_SLASH_SHARE_BPS,
}

UINT96_MAX = 2**96 - 1
UINT24_MAX = 2**24 - 1
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
    return as_dict(fast(escrow).job(job_id))


def terms_of(escrow: Any, terms_id: int) -> dict[str, Any]:
    """The stored terms with id `terms_id`, as a normalised dict."""
    return as_dict(fast(escrow).terms(terms_id))


def terms_set(terms_id: int, **overrides: Any) -> dict[str, Any]:
    """The arguments of TermsSet for `terms_id`: the default terms with `overrides`."""
    return {"termsId": terms_id, **DEFAULT_TERMS, **overrides}


def role_error(account: Any, role: bytes) -> dict[str, Any]:
    return {"account": account, "neededRole": role}


# ───────────────────────────── state snapshots ─────────────────────────────


def snapshot(escrow: Any, tokens: list[Any], accounts: list[Any], job_ids: list[int] = ()) -> dict[str, Any]:
    """Everything a reverted call must leave alone: balances, claimables, jobs, the job count."""
    holders = list(accounts) + [escrow]
    e = fast(escrow)
    return {
        "balances": {(t.address, norm(a)): int(fast(t).balanceOf(a)) for t in tokens for a in holders},
        "claimable": {(t.address, norm(a)): int(e.claimable(a, t)) for t in tokens for a in accounts},
        "jobs": {j: job_view(escrow, j) for j in job_ids},
        "jobCount": int(e.jobCount()),
    }


def fee_of(gross: int, fee_bps: int = FEE_BPS) -> int:
    return gross * fee_bps // 10_000


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
