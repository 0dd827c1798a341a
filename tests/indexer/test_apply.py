"""The state rules on hand-made events (no chain): where a dispute bond goes, and an address that
never registered. The history-based suites check the rest against the chain's views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from computerails.indexer import open_index
from computerails.indexer import schema as s
from computerails.indexer.apply import replay
from computerails.indexer.decode import Event

TOKEN, STAKE = "0x" + "A1" * 20, "0x" + "B2" * 20
CLIENT, PROVIDER, TREASURY, ARBITRATOR = ("0x" + c * 40 for c in "1234")


def event(contract: str, name: str, n: int, **args: Any) -> tuple[Event, int]:
    return Event(n, 0, "0x" + "00" * 32, "", contract, "0x" + "EE" * 20, name, args), 1_000 + n


def job_until_disputed() -> list[tuple[Event, int]]:
    return [
        event("JobEscrow", "TreasurySet", 1, treasury=TREASURY),
        event(
            "JobEscrow",
            "JobCreated",
            2,
            jobId="1",
            client=CLIENT,
            provider=PROVIDER,
            token=TOKEN,
            unitPrice="10",
            maxUnits="100",
            deadline="9999",
            acceptBy="9000",
            feeBps="100",
            specHash="0x" + "00" * 32,
        ),  # fmt: skip
        event("JobEscrow", "JobAccepted", 3, jobId="1", provider=PROVIDER, collateral="50"),
        event(
            "JobEscrow",
            "JobAttested",
            4,
            jobId="1",
            success=True,
            units="60",
            resultHash="0x" + "42" * 32,
            challengeEnds="5000",
        ),  # fmt: skip
        event("JobEscrow", "JobDisputed", 5, jobId="1", client=CLIENT, bond="7", disputeEnds="6000"),
    ]


def settled(n: int) -> tuple[Event, int]:
    return event(
        "JobEscrow", "JobSettled", n, jobId="1", provider=PROVIDER, client=CLIENT, gross="600", providerNet="594",
        fee="6", refund="400",
    )  # fmt: skip


def claimable(tmp_path: Path, events: list[tuple[Event, int]]) -> dict[str, int]:
    engine = open_index(tmp_path / "i.sqlite")
    with engine.begin() as conn:
        replay(conn, STAKE, events)
        rows = conn.execute(select(s.balances.c.account, s.balances.c.amount)).all()
        job = conn.execute(select(s.jobs.c.status, s.jobs.c.bond_outstanding)).one()
    assert tuple(job) == ("settled", 0)
    return {a: int(v) for a, v in rows}


def test_dispute_rejected__bond_to_provider(tmp_path: Path) -> None:
    resolved = event("JobEscrow", "DisputeResolved", 6, jobId="1", arbitrator=ARBITRATOR, upheld=False)
    got = claimable(tmp_path, [*job_until_disputed(), resolved, settled(6)])
    assert got == {PROVIDER: 594 + 7, CLIENT: 400, TREASURY: 6}


def test_dispute_lapsed__bond_back_to_client(tmp_path: Path) -> None:
    got = claimable(tmp_path, [*job_until_disputed(), settled(7)])
    assert got == {PROVIDER: 594, CLIENT: 400 + 7, TREASURY: 6}


@pytest.mark.parametrize("name", ["FraudSlashed", "ProviderJailed"])
def test_never_registered_address__no_provider_row(tmp_path: Path, name: str) -> None:
    args = (
        {"provider": PROVIDER, "beneficiary": CLIENT, "amount": "0", "fromLocked": "0", "beneficiaryAmount": "0"}
        if name == "FraudSlashed"
        else {"provider": PROVIDER, "forDowntime": False}
    )
    engine = open_index(tmp_path / "i.sqlite")
    with engine.begin() as conn:
        replay(conn, STAKE, [event("ProviderStaking", name, 1, **args)])
        assert conn.execute(select(s.providers)).all() == []
