"""Issue 9, item 3: a job keeps the terms it was created under (fee, challenge window, dispute
timeout, dispute bond, client's share of slashed collateral). Governance changes make a new
terms id that only jobs created afterwards get.

Regression tests for "terms of live jobs change under them": before the fix,
`clientSlashShareBps`, `challengeWindow` and `disputeTimeout` were read when used, so governance
could cut a live client's compensation to 1 bps or leave it a minute to dispute.
"""

import pytest

from computerails.devnet import DEFAULT_PARAMS, escrow_init_params
from tests.support.escrow import (
    ACCEPT_WINDOW,
    BOND,
    CHALLENGE_WINDOW,
    CLIENT_SLASH_SHARE_BPS,
    COLLATERAL,
    COLLATERAL_RATE,
    DEFAULT_TERMS,
    DISPUTE_TIMEOUT,
    ESCROW,
    FEE_BPS,
    INITIAL_TERMS_ID,
    MAX_JOB_DURATION,
    MAX_UNITS,
    RESULT_HASH,
    SPEC_HASH,
    UINT24_MAX,
    UNIT_PRICE,
    Status,
    assert_event,
    events,
    fee_of,
    job_view,
    norm,
    terms_of,
    terms_set,
)
from tests.support.reverts import reverts

GROSS = 60 * UNIT_PRICE  # the jobs below are attested for 60 of 100 units
ONE_MINUTE = 60


def share_of(bps):
    return COLLATERAL * bps // 10_000


def fail(protocol, escrow, usd, client, arbitrator, job_id, path):
    """End an Accepted job without payment by `path`; returns the receipt that slashed."""
    if path == "failure-attestation":
        return protocol.attest(job_id, success=False, units=0)
    if path == "expiry":
        protocol.warp_to(escrow.job(job_id).deadline + 1)
        return escrow.reclaimExpired(job_id, sender=arbitrator)
    protocol.attest(job_id, success=True, units=60)
    usd.mint(client, escrow.disputeBondFor(job_id), sender=client)
    escrow.dispute(job_id, sender=client)
    return escrow.resolveDispute(job_id, True, sender=arbitrator)


FAILURE_PATHS = ["failure-attestation", "expiry", "upheld-dispute"]


# ─────────────────────────── client's share of slashed collateral ───────────────────────────


@pytest.mark.parametrize("path", FAILURE_PATHS)
def test_client_slash_share__governance_cuts_it_to_1_bps_on_live_job__client_gets_its_job_terms_share(
    protocol,
    escrow,
    staking,
    usd,
    governance,
    client,
    other_client,
    registered_provider,
    treasury,
    arbitrator,
    accepted_job,
    path,
):
    escrow.setClientSlashShare(1, sender=governance)
    # Under the 1 bps terms, with a later deadline so that it can still be attested below.
    later_job = protocol.accepted_job(other_client, registered_provider, deadline=protocol.now() + 2 * 86_400)
    assert job_view(escrow, accepted_job)["termsId"] == INITIAL_TERMS_ID
    assert job_view(escrow, later_job)["termsId"] == INITIAL_TERMS_ID + 1

    receipt = fail(protocol, escrow, usd, client, arbitrator, accepted_job, path)

    expected_share = share_of(CLIENT_SLASH_SHARE_BPS)
    assert expected_share == 2_500_000_000_000_000_000  # half of the 5-token collateral
    status = Status.EXPIRED if path == "expiry" else Status.FAILED
    bond = BOND if path == "upheld-dispute" else 0
    assert_event(
        receipt,
        escrow.JobRefunded,
        jobId=accepted_job,
        client=client,
        status=status,
        refund=ESCROW + bond,
        collateralSlashed=COLLATERAL,
        clientCollateralShare=expected_share,
    )
    assert_event(
        receipt,
        staking.CollateralSlashed,
        provider=registered_provider,
        beneficiary=client,
        amount=COLLATERAL,
        beneficiaryAmount=expected_share,
        treasuryAmount=COLLATERAL - expected_share,
    )
    assert staking.claimable(client) == expected_share
    assert staking.claimable(treasury) == COLLATERAL - expected_share
    assert escrow.claimable(client, usd) == ESCROW + bond

    # The job created after the change does get the 1 bps the new terms say.
    receipt = protocol.attest(later_job, success=False, units=0)
    assert events(receipt, escrow.JobRefunded)[0]["clientCollateralShare"] == share_of(1)
    assert staking.claimable(other_client) == share_of(1) == 500_000_000_000_000


# ─────────────────────────── challenge window ───────────────────────────


def test_challenge_window__governance_shortens_it_after_creation__attested_job_keeps_its_window(
    protocol, escrow, usd, governance, client, registered_provider, open_job
):
    escrow.setWindows(ACCEPT_WINDOW, ONE_MINUTE, DISPUTE_TIMEOUT, MAX_JOB_DURATION, sender=governance)
    assert escrow.challengeWindow() == ONE_MINUTE
    escrow.accept(open_job, sender=registered_provider)  # terms are fixed at creation, not at accept
    now = protocol.now()

    receipt = protocol.attest(open_job, success=True, units=60)

    assert receipt.timestamp == now
    assert_event(
        receipt,
        escrow.JobAttested,
        jobId=open_job,
        success=True,
        units=60,
        resultHash=RESULT_HASH,
        challengeEnds=now + CHALLENGE_WINDOW,
    )
    assert job_view(escrow, open_job)["challengeEnds"] == now + CHALLENGE_WINDOW
    # Well past the new one-minute window, the client can still dispute within its own hour.
    protocol.warp_to(now + 10 * ONE_MINUTE)
    usd.mint(client, BOND, sender=client)
    escrow.dispute(open_job, sender=client)
    assert escrow.jobStatus(open_job) == Status.DISPUTED

    # A job created under the new terms gets the new window.
    later_job = protocol.accepted_job(client, registered_provider)
    receipt = protocol.attest(later_job, success=True, units=60)
    assert job_view(escrow, later_job)["challengeEnds"] == receipt.timestamp + ONE_MINUTE


# ─────────────────────────── dispute timeout and bond ───────────────────────────


def test_dispute_terms__governance_changes_timeout_and_bond_after_creation__dispute_uses_job_terms(
    protocol, escrow, usd, governance, client, registered_provider, arbitrator, attested_job
):
    escrow.setWindows(ACCEPT_WINDOW, CHALLENGE_WINDOW, ONE_MINUTE, MAX_JOB_DURATION, sender=governance)
    escrow.setDisputeBond(10_000, sender=governance)
    assert (escrow.disputeTimeout(), escrow.disputeBondBps()) == (ONE_MINUTE, 10_000)
    assert escrow.disputeBondFor(attested_job) == BOND
    usd.mint(client, ESCROW, sender=client)  # enough for either bond: only the job's is pulled
    balance = usd.balanceOf(client)
    now = protocol.now()

    receipt = escrow.dispute(attested_job, sender=client)

    assert receipt.timestamp == now
    assert_event(
        receipt, escrow.JobDisputed, jobId=attested_job, client=client, bond=BOND, disputeEnds=now + DISPUTE_TIMEOUT
    )
    assert events(receipt, usd.Transfer) == [norm({"from": client, "to": escrow, "value": BOND})]
    assert usd.balanceOf(client) == balance - BOND
    view = job_view(escrow, attested_job)
    assert (view["status"], view["disputeBond"], view["disputeEnds"]) == (Status.DISPUTED, BOND, now + DISPUTE_TIMEOUT)

    # The new one-minute timeout would have let the dispute lapse; the job's own has not.
    protocol.warp_to(now + 10 * ONE_MINUTE)
    with reverts(escrow.DisputeNotLapsed, disputeEnds=now + DISPUTE_TIMEOUT, nowTime=now + 10 * ONE_MINUTE):
        escrow.settle(attested_job, sender=client)
    escrow.resolveDispute(attested_job, True, sender=arbitrator)
    assert escrow.claimable(client, usd) == ESCROW + BOND


def test_dispute_bond_for__bond_bps_changed__follows_each_job_terms(
    protocol, escrow, governance, client, registered_provider, open_job
):
    assert escrow.disputeBondFor(open_job) == BOND

    escrow.setDisputeBond(5_000, sender=governance)
    later_job = protocol.create_job(client, registered_provider)
    escrow.setDisputeBond(0, sender=governance)
    latest_job = protocol.create_job(client, registered_provider)

    assert escrow.disputeBondBps() == 0
    assert [escrow.disputeBondFor(j) for j in (open_job, later_job, latest_job)] == [BOND, ESCROW // 2, 0]
    assert [job_view(escrow, j)["termsId"] for j in (open_job, later_job, latest_job)] == [1, 2, 3]


# ─────────────────────────── fee ───────────────────────────


def settle_by(protocol, escrow, usd, client, arbitrator, job_id, path):
    """Pay an Accepted job for 60 units by `path`; returns the receipt that settled."""
    protocol.attest(job_id, success=True, units=60)
    if path == "settle":
        protocol.warp_to(escrow.job(job_id).challengeEnds)
        return escrow.settle(job_id, sender=client)
    usd.mint(client, escrow.disputeBondFor(job_id), sender=client)
    escrow.dispute(job_id, sender=client)
    if path == "rejected-dispute":
        return escrow.resolveDispute(job_id, False, sender=arbitrator)
    protocol.warp_to(escrow.job(job_id).disputeEnds + 1)  # lapsed dispute
    return escrow.settle(job_id, sender=client)


@pytest.mark.parametrize("path", ["settle", "rejected-dispute", "lapsed-dispute"])
def test_fee__governance_raises_it_after_creation__settlement_charges_job_terms_fee(
    protocol, escrow, usd, governance, client, registered_provider, treasury, arbitrator, accepted_job, path
):
    escrow.setFee(1_000, sender=governance)

    receipt = settle_by(protocol, escrow, usd, client, arbitrator, accepted_job, path)

    fee = fee_of(GROSS, FEE_BPS)
    assert fee == 150_000
    assert_event(
        receipt,
        escrow.JobSettled,
        jobId=accepted_job,
        provider=registered_provider,
        client=client,
        gross=GROSS,
        providerNet=GROSS - fee,
        fee=fee,
        refund=ESCROW - GROSS,
    )
    assert escrow.claimable(treasury, usd) == fee


def test_settle_many__jobs_of_different_terms__each_pays_its_own_fee(
    protocol, escrow, usd, staking, governance, client, registered_provider, treasury, attacker
):
    first = protocol.accepted_job(client, registered_provider)  # terms 1: 250 bps
    first_again = protocol.accepted_job(client, registered_provider)  # terms 1
    escrow.setFee(1_000, sender=governance)
    second = protocol.accepted_job(client, registered_provider)  # terms 2: 1000 bps
    escrow.setFee(0, sender=governance)
    third = protocol.accepted_job(client, registered_provider)  # terms 3: no fee
    batch = [first, second, first_again, third]  # terms 1, 2, 1, 3: the fee changes between neighbours
    fees = {first: FEE_BPS, second: 1_000, first_again: FEE_BPS, third: 0}
    for job_id in batch:
        protocol.attest(job_id, success=True, units=60)
    protocol.warp_to(max(escrow.job(j).challengeEnds for j in batch))

    receipt = escrow.settleMany(batch, sender=attacker)

    assert events(receipt, escrow.JobSettled) == [
        norm(
            {
                "jobId": j,
                "provider": registered_provider,
                "client": client,
                "gross": GROSS,
                "providerNet": GROSS - fee_of(GROSS, fees[j]),
                "fee": fee_of(GROSS, fees[j]),
                "refund": ESCROW - GROSS,
            }
        )
        for j in batch
    ]
    assert [fee_of(GROSS, fees[j]) for j in batch] == [150_000, 600_000, 150_000, 0]
    assert escrow.claimable(treasury, usd) == 900_000
    assert escrow.claimable(registered_provider, usd) == 4 * GROSS - 900_000
    # One provider: its four collaterals are released in one call.
    assert_event(receipt, staking.CollateralReleased, provider=registered_provider, amount=4 * COLLATERAL, locked=0)


# ─────────────────────────── terms ids ───────────────────────────


def setter_calls(usd):
    """(setter, args, the terms fields it changes) for every governance call that changes terms."""
    return {
        "setFee": ("setFee", (1_000,), {"feeBps": 1_000}),
        "setWindows": (
            "setWindows",
            (2 * ACCEPT_WINDOW, 2 * CHALLENGE_WINDOW, 2 * DISPUTE_TIMEOUT, MAX_JOB_DURATION),
            {"challengeWindow": 2 * CHALLENGE_WINDOW, "disputeTimeout": 2 * DISPUTE_TIMEOUT},
        ),
        "setDisputeBond": ("setDisputeBond", (2_000,), {"disputeBondBps": 2_000}),
        "setClientSlashShare": ("setClientSlashShare", (7_500,), {"clientSlashShareBps": 7_500}),
    }


SETTERS = ["setFee", "setWindows", "setDisputeBond", "setClientSlashShare"]


def other_setter_calls(usd):
    """Like `setter_calls`, with other values: a second, different change."""
    return {
        "setFee": ("setFee", (999,), {"feeBps": 999}),
        "setWindows": (
            "setWindows",
            (2 * ACCEPT_WINDOW, 3 * CHALLENGE_WINDOW, 3 * DISPUTE_TIMEOUT, MAX_JOB_DURATION),
            {"challengeWindow": 3 * CHALLENGE_WINDOW, "disputeTimeout": 3 * DISPUTE_TIMEOUT},
        ),
        "setDisputeBond": ("setDisputeBond", (3_000,), {"disputeBondBps": 3_000}),
        "setClientSlashShare": ("setClientSlashShare", (7_000,), {"clientSlashShareBps": 7_000}),
    }


@pytest.mark.parametrize("setter", SETTERS)
def test_terms__setter_repeats_the_current_value__no_new_terms_id(escrow, usd, governance, setter):
    """An unchanged set of terms does not use up a terms id."""
    name, args, changes = setter_calls(usd)[setter]
    getattr(escrow, name)(*args, sender=governance)
    assert escrow.currentTermsId() == INITIAL_TERMS_ID + 1

    receipt = getattr(escrow, name)(*args, sender=governance)

    assert receipt.events.filter(escrow.TermsSet) == []
    assert escrow.currentTermsId() == INITIAL_TERMS_ID + 1
    assert terms_of(escrow, INITIAL_TERMS_ID + 1) == {**DEFAULT_TERMS, **changes}


@pytest.mark.parametrize("setter", SETTERS)
def test_terms__each_governance_change__exactly_one_new_terms_id(escrow, usd, governance, open_job, setter):
    name, args, changes = setter_calls(usd)[setter]
    assert escrow.currentTermsId() == INITIAL_TERMS_ID
    assert terms_of(escrow, INITIAL_TERMS_ID) == DEFAULT_TERMS

    receipt = getattr(escrow, name)(*args, sender=governance)

    assert_event(receipt, escrow.TermsSet, **terms_set(2, **changes))
    assert escrow.currentTermsId() == 2
    assert terms_of(escrow, 2) == {**DEFAULT_TERMS, **changes}
    assert terms_of(escrow, INITIAL_TERMS_ID) == DEFAULT_TERMS  # the live job's terms are untouched
    assert job_view(escrow, open_job)["termsId"] == INITIAL_TERMS_ID
    assert terms_of(escrow, 3) == {k: 0 for k in DEFAULT_TERMS}  # nothing beyond the new id


def test_terms__successive_changes__each_builds_on_the_current_terms(escrow, usd, governance):
    expected = dict(DEFAULT_TERMS)
    for terms_id, setter in enumerate(SETTERS, start=2):
        name, args, changes = setter_calls(usd)[setter]
        expected.update(changes)

        receipt = getattr(escrow, name)(*args, sender=governance)

        assert_event(receipt, escrow.TermsSet, termsId=terms_id, **expected)
        assert escrow.currentTermsId() == terms_id
    assert terms_of(escrow, 5) == expected
    assert [escrow.feeBps(), escrow.challengeWindow(), escrow.disputeTimeout()] == [
        1_000,
        2 * CHALLENGE_WINDOW,
        2 * DISPUTE_TIMEOUT,
    ]
    assert [escrow.disputeBondBps(), escrow.clientSlashShareBps()] == [2_000, 7_500]


def test_terms__non_terms_governance_calls__no_new_terms_id(escrow, usd, governance, relayer):
    receipts = [
        escrow.setPaymentToken(usd, True, COLLATERAL_RATE * 2, sender=governance),
        escrow.setTreasury(relayer, sender=governance),
        escrow.pause(sender=governance),
        escrow.unpause(sender=governance),
    ]

    assert [events(r, escrow.TermsSet) for r in receipts] == [[], [], [], []]
    assert escrow.currentTermsId() == INITIAL_TERMS_ID


# ─────────────────────────── TooManyTermsVersions ───────────────────────────


@pytest.fixture
def harness(project, staking, governance, treasury, usd):
    """A JobEscrowHarness (JobEscrow plus a test-only setter of the terms counter) with the
    deployment's parameters and USD allowlisted."""
    escrow = project.JobEscrowHarness.deploy(
        staking,
        governance,
        treasury,
        escrow_init_params(DEFAULT_PARAMS["escrow"]),
        sender=governance,
    )
    escrow.setPaymentToken(usd, True, COLLATERAL_RATE, sender=governance)
    return escrow


@pytest.mark.parametrize("setter", SETTERS)
def test_terms__id_space_exhausted__too_many_terms_versions_and_jobs_still_created(
    protocol, harness, usd, governance, client, registered_provider, setter
):
    name, args, changes = setter_calls(usd)[setter]
    harness.harnessSetCurrentTermsId(UINT24_MAX - 1, sender=governance)

    receipt = getattr(harness, name)(*args, sender=governance)  # the last id there is
    assert_event(receipt, harness.TermsSet, **terms_set(UINT24_MAX, **changes))
    assert harness.currentTermsId() == UINT24_MAX

    other_name, other_args, _ = other_setter_calls(usd)[setter]
    with reverts(harness.TooManyTermsVersions, max=2**24 - 1):
        getattr(harness, other_name)(*other_args, sender=governance)

    assert harness.currentTermsId() == UINT24_MAX
    assert terms_of(harness, UINT24_MAX) == {**DEFAULT_TERMS, **changes}
    # New jobs are still created, under the last terms.
    protocol.fund_usd(client, ESCROW, approve_to=harness)
    receipt = harness.createJob(
        registered_provider, usd, UNIT_PRICE, MAX_UNITS, protocol.now() + 86_400, SPEC_HASH, sender=client
    )
    job_id = receipt.events.filter(harness.JobCreated)[-1].jobId
    view = job_view(harness, job_id)
    assert (view["termsId"], view["feeBps"]) == (UINT24_MAX, changes.get("feeBps", FEE_BPS))
