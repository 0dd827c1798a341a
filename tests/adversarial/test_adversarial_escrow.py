"""Escrow attacks: paying twice, reclaiming or disputing out of turn, rounding the fee away,
extreme amounts, unregistered providers, and an attacker at every privileged entry point.
Every test ends with `assert_books` (via the `books` fixture)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ape import project

from computerails.devnet import DEFAULT_PARAMS
from tests.support.books import FEE_BPS, SPEC_HASH, STAKE, USD, Status, assert_books, fund

UINT96_MAX = 2**96 - 1
UINT48_MAX = 2**48 - 1


def claimables(escrow, token, accounts):
    return [escrow.claimable(a, token) for a in accounts]


# ─────────────────────────── paying twice ───────────────────────────


def test_double_settle__second_settle__unexpected_status_nothing_credited_twice(
    reverts, protocol, escrow, usd, attested_job, client, registered_provider, treasury, attacker, books
):
    protocol.warp(escrow.challengeWindow())
    escrow.settle(attested_job, sender=attacker)
    parties = [client, registered_provider, treasury, attacker]
    before = (
        claimables(escrow, usd, parties),
        escrow.job(attested_job),
        protocol.staking.providerInfo(registered_provider),
    )

    with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.ATTESTED, actual=Status.SETTLED):
        escrow.settle(attested_job, sender=attacker)

    after = (
        claimables(escrow, usd, parties),
        escrow.job(attested_job),
        protocol.staking.providerInfo(registered_provider),
    )
    assert after == before
    books()


def test_double_settle__same_job_twice_in_one_batch__settled_once_second_skipped(
    protocol, escrow, usd, attested_job, registered_provider, attacker, books
):
    protocol.warp(escrow.challengeWindow())

    receipt = escrow.settleMany([attested_job, attested_job], sender=attacker)

    assert receipt.events.filter(escrow.JobSettleSkipped) == [
        escrow.JobSettleSkipped(jobId=attested_job, status=Status.SETTLED)
    ]
    assert len(receipt.events.filter(escrow.JobSettled)) == 1
    gross = 60 * (USD // 10)
    assert escrow.claimable(registered_provider, usd) == gross - gross * FEE_BPS // 10_000
    assert protocol.staking.providerInfo(registered_provider).locked == 0
    books()


def test_double_withdraw__second_withdraw__nothing_to_withdraw_paid_once(
    reverts, protocol, escrow, usd, open_job, client, books
):
    escrow.cancel(open_job, sender=client)
    escrow.withdraw(usd, sender=client)
    paid = usd.balanceOf(client)
    assert paid == 10 * USD

    with reverts(escrow.NothingToWithdraw, account=client, token=usd):
        escrow.withdraw(usd, sender=client)

    assert usd.balanceOf(client) == paid
    books()


def test_double_reclaim__expired_job_reclaimed_twice__unexpected_status_slashed_once(
    reverts, protocol, escrow, staking, accepted_job, client, registered_provider, attacker, books
):
    protocol.warp_to(escrow.job(accepted_job).deadline + 1)
    escrow.reclaimExpired(accepted_job, sender=attacker)
    before = (
        staking.providerInfo(registered_provider),
        escrow.claimable(client, protocol.usd),
        staking.claimable(client),
    )

    with reverts(escrow.UnexpectedJobStatus, jobId=accepted_job, expected=Status.ACCEPTED, actual=Status.EXPIRED):
        escrow.reclaimExpired(accepted_job, sender=attacker)

    assert (
        staking.providerInfo(registered_provider),
        escrow.claimable(client, protocol.usd),
        staking.claimable(client),
    ) == before
    assert escrow.claimable(attacker, protocol.usd) == staking.claimable(attacker) == 0  # the caller gains nothing
    books()


# ─────────────────────────── out of turn ───────────────────────────


def test_reclaim_after_attestation__client_reclaims_past_deadline__unexpected_status_provider_still_paid(
    reverts, protocol, escrow, usd, attested_job, client, registered_provider, books
):
    # The client waits for the job's deadline hoping to reclaim the escrow of delivered work.
    protocol.warp_to(escrow.job(attested_job).deadline + 1)
    before = escrow.job(attested_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.ACCEPTED, actual=Status.ATTESTED):
        escrow.reclaimExpired(attested_job, sender=client)

    assert escrow.job(attested_job) == before
    escrow.settle(attested_job, sender=registered_provider)
    gross = 60 * (USD // 10)
    assert escrow.claimable(registered_provider, usd) == gross - gross * FEE_BPS // 10_000
    assert protocol.staking.providerInfo(registered_provider).jailed is False
    books()


def test_dispute_after_window__client_disputes_at_challenge_end__challenge_window_closed_no_bond_taken(
    reverts, protocol, escrow, usd, attested_job, client, books
):
    ends = escrow.job(attested_job).challengeEnds
    usd.mint(client, 10 * USD, sender=client)
    balance = usd.balanceOf(client)
    protocol.warp_to(ends)

    with reverts(escrow.ChallengeWindowClosed, challengeEnds=ends, nowTime=ends):
        escrow.dispute(attested_job, sender=client)

    assert escrow.job(attested_job).status == Status.ATTESTED
    assert usd.balanceOf(client) == balance
    books()


def test_griefing__client_sets_deadline_one_minute_out__accepting_provider_loses_collateral_to_client(
    protocol, escrow, staking, usd, client, registered_provider, attacker, books
):
    # The client alone picks the deadline (anything after now). A provider that accepts a job
    # it cannot finish in time is slashed, and half the collateral goes to the client: the
    # provider's software must vet deadlines before accepting. Pinned as designed behaviour.
    job = protocol.accepted_job(client, registered_provider, deadline=protocol.now() + 60)
    collateral = escrow.job(job).collateral
    protocol.warp(61)

    escrow.reclaimExpired(job, sender=attacker)

    assert escrow.claimable(client, usd) == 10 * USD
    assert staking.claimable(client) == collateral // 2
    assert staking.providerInfo(registered_provider).jailed
    books()


# ─────────────────────────── rounding ───────────────────────────


@pytest.mark.parametrize("unit_price, fee", [(1, 0), (39, 0), (40, 1)])
def test_fee_rounding__one_unit_job__fee_rounds_down_provider_gets_rest_sums_match(
    protocol, escrow, usd, client, registered_provider, treasury, attacker, books, unit_price, fee
):
    # 250 bps of 39 base units is 0.975: the fee rounds down to 0, in the payer's favour.
    job = protocol.accepted_job(client, registered_provider, unit_price=unit_price, max_units=1)
    protocol.attest(job, units=1)
    protocol.warp(escrow.challengeWindow())

    receipt = escrow.settle(job, sender=attacker)

    assert receipt.events.filter(escrow.JobSettled) == [
        escrow.JobSettled(
            jobId=job,
            provider=registered_provider.address,
            client=client.address,
            gross=unit_price,
            providerNet=unit_price - fee,
            fee=fee,
            refund=0,
        )
    ]
    assert escrow.claimable(registered_provider, usd) == unit_price - fee
    assert escrow.claimable(treasury, usd) == fee
    assert usd.balanceOf(escrow) == unit_price
    books()


# ─────────────────────────── extreme amounts ───────────────────────────


@pytest.mark.parametrize(
    "unit_price, max_units, error, args",
    [
        pytest.param(0, 100, "UnitPriceOutOfRange", {"min": 1, "max": UINT96_MAX, "value": 0}, id="zero-price"),
        pytest.param(
            UINT96_MAX + 1,
            1,
            "UnitPriceOutOfRange",
            {"min": 1, "max": UINT96_MAX, "value": UINT96_MAX + 1},
            id="price-2^96",
        ),
        pytest.param(1, 0, "MaxUnitsOutOfRange", {"min": 1, "max": UINT48_MAX, "value": 0}, id="zero-units"),
        pytest.param(
            1,
            UINT48_MAX + 1,
            "MaxUnitsOutOfRange",
            {"min": 1, "max": UINT48_MAX, "value": UINT48_MAX + 1},
            id="units-2^48",
        ),
    ],
)
def test_extremes__zero_or_oversized_price_or_units__named_error_no_job(
    reverts, protocol, escrow, usd, client, registered_provider, books, unit_price, max_units, error, args
):
    # Oversized values would overflow the packed job struct if they got through.
    protocol.fund_usd(client, 10 * USD)

    with reverts(getattr(escrow, error), **args):
        escrow.createJob(
            registered_provider, usd, unit_price, max_units, protocol.now() + 86_400, SPEC_HASH, sender=client
        )

    assert escrow.jobCount() == 0
    assert usd.balanceOf(client) == 10 * USD
    books()


def test_extremes__maximal_price_and_units__job_runs_to_settlement_accounted_exactly(
    protocol, escrow, staking, governance, client, provider, treasury, attacker, everyone
):
    # escrow = (2^96-1)(2^48-1) ~ 2^144 base units. At the USD rate its collateral would not fit
    # 128 bits (CollateralTooLarge, covered by the escrow suite); at a rate of 1 it does, so
    # the job can run all the way.
    token = project.MockUSD.deploy(sender=governance)
    escrow.setPaymentToken(token.address, True, 1, sender=governance)
    amount = UINT96_MAX * UINT48_MAX
    collateral = amount // 10**18
    fund(token, client, amount, escrow)
    protocol.register(provider, collateral + 1_000 * STAKE)
    job = protocol.accepted_job(client, provider, token=token, unit_price=UINT96_MAX, max_units=UINT48_MAX)
    assert escrow.job(job).escrow == amount == token.balanceOf(escrow)
    assert escrow.job(job).collateral == collateral
    units = UINT48_MAX - 1
    protocol.attest(job, units=units)
    protocol.warp(escrow.challengeWindow())

    escrow.settle(job, sender=attacker)

    gross = units * UINT96_MAX
    fee = gross * FEE_BPS // 10_000
    assert escrow.claimable(provider, token) == gross - fee
    assert escrow.claimable(treasury, token) == fee
    assert escrow.claimable(client, token) == UINT96_MAX
    assert staking.providerInfo(provider).locked == 0
    for account in (provider, treasury, client):
        escrow.withdraw(token, sender=account)
    assert token.balanceOf(escrow) == 0
    assert token.balanceOf(provider) + token.balanceOf(treasury) + token.balanceOf(client) == amount
    assert_books(protocol, [protocol.usd, token], everyone)


# ─────────────────────────── unregistered provider ───────────────────────────


def test_unregistered_provider__job_for_never_registered_address__accept_not_registered_client_refunded(
    reverts, protocol, escrow, staking, usd, client, other_provider, books
):
    job = protocol.create_job(client, other_provider)
    before = escrow.job(job)

    with reverts(staking.NotRegistered, provider=other_provider):
        escrow.accept(job, sender=other_provider)

    assert escrow.job(job) == before
    assert before.status == Status.OPEN
    escrow.cancel(job, sender=client)
    escrow.withdraw(usd, sender=client)
    assert usd.balanceOf(client) == 10 * USD
    books()


# ─────────────────────────── privileged entry points ───────────────────────────


def _entry_points(d, job=1):
    """(contract, function, args, role getter) for every role-gated function of the protocol."""
    e, s, h, u, m = d.escrow, d.staking, d.hub, d.slasher, d.metered
    usd = d.payment_tokens[0].address
    a = "0x" + "ab" * 20
    uptime = tuple(DEFAULT_PARAMS["uptime"].values())
    return {
        "escrow.setPaymentToken": (e, "setPaymentToken", (usd, True, 1), "GOVERNOR_ROLE"),
        "escrow.setFee": (e, "setFee", (0,), "GOVERNOR_ROLE"),
        "escrow.setWindows": (e, "setWindows", (60, 60, 60, 60), "GOVERNOR_ROLE"),
        "escrow.setDisputeBond": (e, "setDisputeBond", (0,), "GOVERNOR_ROLE"),
        "escrow.setClientSlashShare": (e, "setClientSlashShare", (1,), "GOVERNOR_ROLE"),
        "escrow.setTreasury": (e, "setTreasury", (a,), "GOVERNOR_ROLE"),
        "escrow.pause": (e, "pause", (), "PAUSER_ROLE"),
        "escrow.unpause": (e, "unpause", (), "PAUSER_ROLE"),
        "escrow.resolveDispute": (e, "resolveDispute", (job, False), "ARBITRATOR_ROLE"),
        "escrow.recordAttestation": (e, "recordAttestation", (job, a, True, 100, b"\x42" * 32), "ATTESTER_ROLE"),
        "escrow.grantRole": (e, "grantRole", (bytes(32), a), "DEFAULT_ADMIN_ROLE"),
        "escrow.revokeRole": (e, "revokeRole", (e.ARBITRATOR_ROLE(), d.arbitrator), "DEFAULT_ADMIN_ROLE"),
        "staking.setMinStake": (s, "setMinStake", (0,), "GOVERNOR_ROLE"),
        "staking.setUnbondingDelay": (s, "setUnbondingDelay", (0,), "GOVERNOR_ROLE"),
        "staking.setTreasury": (s, "setTreasury", (a,), "GOVERNOR_ROLE"),
        "staking.lockCollateral": (s, "lockCollateral", (a, 1), "COLLATERAL_MANAGER_ROLE"),
        "staking.releaseCollateral": (s, "releaseCollateral", (a, 1), "COLLATERAL_MANAGER_ROLE"),
        "staking.slashCollateral": (s, "slashCollateral", (a, 1, a, 10_000), "COLLATERAL_MANAGER_ROLE"),
        "staking.adjustCollateral": (s, "adjustCollateral", (a, 0, 1), "COLLATERAL_MANAGER_ROLE"),
        "staking.slashForFraud": (s, "slashForFraud", (a, 0, 1, a, 0), "COLLATERAL_MANAGER_ROLE"),
        "staking.slash": (s, "slash", (a, 1, a, 10_000, 2**256 - 1), "SLASHER_ROLE"),
        "staking.setReportWindow": (s, "setReportWindow", (0,), "SLASHER_ROLE"),
        "staking.grantRole": (s, "grantRole", (bytes(32), a), "DEFAULT_ADMIN_ROLE"),
        "hub.addOracle": (h, "addOracle", (a,), "GOVERNOR_ROLE"),
        "hub.removeOracle": (h, "removeOracle", (d.oracles[0],), "GOVERNOR_ROLE"),
        "hub.setThreshold": (h, "setThreshold", (1,), "GOVERNOR_ROLE"),
        "hub.grantRole": (h, "grantRole", (bytes(32), a), "DEFAULT_ADMIN_ROLE"),
        "slasher.setParams": (u, "setParams", (uptime,), "GOVERNOR_ROLE"),
        "slasher.onUptimeReport": (u, "onUptimeReport", (a, 0, 0, a), "REPORTER_ROLE"),
        "slasher.grantRole": (u, "grantRole", (bytes(32), a), "DEFAULT_ADMIN_ROLE"),
        "metered.setPaymentToken": (m, "setPaymentToken", (usd, True, 1), "GOVERNOR_ROLE"),
        "metered.setFee": (m, "setFee", (0,), "GOVERNOR_ROLE"),
        "metered.setFraudTerms": (m, "setFraudTerms", (1, 0), "GOVERNOR_ROLE"),
        "metered.setPeriods": (m, "setPeriods", (60, 60, 121, 121), "GOVERNOR_ROLE"),
        "metered.setTreasury": (m, "setTreasury", (a,), "GOVERNOR_ROLE"),
        "metered.pause": (m, "pause", (), "PAUSER_ROLE"),
        "metered.unpause": (m, "unpause", (), "PAUSER_ROLE"),
        "metered.grantRole": (m, "grantRole", (bytes(32), a), "DEFAULT_ADMIN_ROLE"),
    }


ENTRY_POINTS = (
    "escrow.setPaymentToken",
    "escrow.setFee",
    "escrow.setWindows",
    "escrow.setDisputeBond",
    "escrow.setClientSlashShare",
    "escrow.setTreasury",
    "escrow.pause",
    "escrow.unpause",
    "escrow.resolveDispute",
    "escrow.recordAttestation",
    "escrow.grantRole",
    "escrow.revokeRole",
    "staking.setMinStake",
    "staking.setUnbondingDelay",
    "staking.setTreasury",
    "staking.lockCollateral",
    "staking.releaseCollateral",
    "staking.slashCollateral",
    "staking.adjustCollateral",
    "staking.slashForFraud",
    "staking.slash",
    "staking.setReportWindow",
    "staking.grantRole",
    "hub.addOracle",
    "hub.removeOracle",
    "hub.setThreshold",
    "hub.grantRole",
    "slasher.setParams",
    "slasher.onUptimeReport",
    "slasher.grantRole",
    "metered.setPaymentToken",
    "metered.setFee",
    "metered.setFraudTerms",
    "metered.setPeriods",
    "metered.setTreasury",
    "metered.pause",
    "metered.unpause",
    "metered.grantRole",
)


CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SOURCES = {
    "escrow": "JobEscrow",
    "staking": "ProviderStaking",
    "hub": "AttestationHub",
    "slasher": "UptimeSlasher",
    "metered": "MeteredEscrow",
}


def _role_gated_in_sources():
    """`contract.function` for every function whose declaration carries `onlyRole(...)`, read
    from the contracts' sources, so that a new role-gated function cannot be left out here."""
    gated = set()
    for short, name in SOURCES.items():
        source = (CONTRACTS / f"{name}.sol").read_text()
        for function, header in re.findall(r"function\s+(\w+)\s*\(([^{;]*)\{", source):
            if "onlyRole(" in header:
                gated.add(f"{short}.{function}")
    return gated


def test_privileged__entry_point_list__covers_every_role_gated_function(deployment):
    assert set(_entry_points(deployment)) == set(ENTRY_POINTS)
    gated = _role_gated_in_sources()
    assert "staking.slashCollateral" in gated  # the scan does see multi-line declarations
    assert gated - set(ENTRY_POINTS) == set()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_privileged__attacker_calls_role_gated_entry_point__access_control_unauthorized_state_unchanged(
    reverts, deployment, protocol, attested_job, client, attacker, books, entry
):
    contract, function, args, role_name = _entry_points(deployment, attested_job)[entry]
    role = getattr(contract, role_name)()
    job_before = protocol.escrow.job(attested_job)

    with reverts(contract.AccessControlUnauthorizedAccount, account=attacker, neededRole=role):
        getattr(contract, function)(*args, sender=attacker)

    assert not contract.hasRole(role, attacker)
    assert protocol.escrow.job(attested_job) == job_before
    assert not protocol.escrow.paused()
    books()
