"""JobEscrow governance: payment-token allowlist, parameters, pausing, roles and views."""

import pytest

from tests.support.escrow import (
    ACCEPT_WINDOW,
    BOND,
    CHALLENGE_WINDOW,
    CLIENT_SLASH_SHARE_BPS,
    COLLATERAL,
    COLLATERAL_RATE,
    DAY,
    DISPUTE_BOND_BPS,
    DISPUTE_TIMEOUT,
    ESCROW,
    FEE_BPS,
    MAX_JOB_DURATION,
    MAX_UNITS,
    SPEC_HASH,
    UINT128_MAX,
    UNIT_PRICE,
    Status,
    assert_event,
    ceil_div,
    fee_of,
    role_error,
    terms_set,
)
from tests.support.reverts import reverts

ZERO = "0x0000000000000000000000000000000000000000"
WINDOWS = (ACCEPT_WINDOW, CHALLENGE_WINDOW, DISPUTE_TIMEOUT, MAX_JOB_DURATION)


def params(escrow):
    return {
        "feeBps": escrow.feeBps(),
        "windows": (escrow.acceptWindow(), escrow.challengeWindow(), escrow.disputeTimeout(), escrow.maxJobDuration()),
        "disputeBondBps": escrow.disputeBondBps(),
        "clientSlashShareBps": escrow.clientSlashShareBps(),
        "currentTermsId": escrow.currentTermsId(),
        "treasury": escrow.treasury(),
        "paused": escrow.paused(),
        "tokens": escrow.paymentTokens(),
    }


def test_initial_parameters__documented_defaults(escrow, usd, treasury):
    assert params(escrow) == {
        "feeBps": FEE_BPS,
        "windows": WINDOWS,
        "disputeBondBps": DISPUTE_BOND_BPS,
        "clientSlashShareBps": CLIENT_SLASH_SHARE_BPS,
        "currentTermsId": 1,
        "treasury": treasury.address,
        "paused": False,
        "tokens": [usd.address],
    }


# ─────────────────────────────── access control ───────────────────────────────


def governance_call(escrow, usd, name):
    """(bound method, args) of a governance call with otherwise valid arguments."""
    return {
        "setPaymentToken": (escrow.setPaymentToken, (usd.address, True, COLLATERAL_RATE)),
        "setFee": (escrow.setFee, (100,)),
        "setWindows": (escrow.setWindows, WINDOWS),
        "setDisputeBond": (escrow.setDisputeBond, (500,)),
        "setClientSlashShare": (escrow.setClientSlashShare, (2_000,)),
        "setTreasury": (escrow.setTreasury, (usd.address,)),
        "pause": (escrow.pause, ()),
        "unpause": (escrow.unpause, ()),
    }[name]


@pytest.mark.parametrize(
    "name, role",
    [
        ("setPaymentToken", "GOVERNOR_ROLE"),
        ("setFee", "GOVERNOR_ROLE"),
        ("setWindows", "GOVERNOR_ROLE"),
        ("setDisputeBond", "GOVERNOR_ROLE"),
        ("setClientSlashShare", "GOVERNOR_ROLE"),
        ("setTreasury", "GOVERNOR_ROLE"),
        ("pause", "PAUSER_ROLE"),
        ("unpause", "PAUSER_ROLE"),
    ],
)
def test_governance__attacker__unauthorized(escrow, usd, governance, attacker, name, role):
    if name == "unpause":
        escrow.pause(sender=governance)
    method, args = governance_call(escrow, usd, name)
    before = params(escrow)

    with reverts(escrow.AccessControlUnauthorizedAccount, **role_error(attacker, getattr(escrow, role)())):
        method(*args, sender=attacker)

    assert params(escrow) == before


def test_pause__pauser_only__not_governor(escrow, governance, relayer, attacker):
    escrow.grantRole(escrow.PAUSER_ROLE(), relayer, sender=governance)
    escrow.grantRole(escrow.GOVERNOR_ROLE(), attacker, sender=governance)

    with reverts(escrow.AccessControlUnauthorizedAccount, **role_error(attacker, escrow.PAUSER_ROLE())):
        escrow.pause(sender=attacker)  # a governor without the pauser role

    escrow.pause(sender=relayer)
    assert escrow.paused()
    with reverts(escrow.EnforcedPause):
        escrow.pause(sender=relayer)

    escrow.unpause(sender=relayer)
    assert not escrow.paused()
    with reverts(escrow.ExpectedPause):
        escrow.unpause(sender=relayer)


def test_pause__blocks_only_creation_and_acceptance(
    protocol, escrow, usd, client, governance, registered_provider, attested_job
):
    open_job = protocol.create_job(client, registered_provider)
    escrow.pause(sender=governance)

    with reverts(escrow.EnforcedPause):
        escrow.accept(open_job, sender=registered_provider)
    protocol.warp_to(escrow.job(attested_job).challengeEnds)
    escrow.settle(attested_job, sender=client)
    escrow.cancel(open_job, sender=client)
    escrow.withdraw(usd, sender=client)

    assert escrow.jobStatus(attested_job) == Status.SETTLED


# ─────────────────────────────── payment tokens ───────────────────────────────


def test_set_payment_token__new_tokens__get_consecutive_ids(project, escrow, usd, governance):
    first = project.MockUSD.deploy(sender=governance)
    second = project.MockUSD.deploy(sender=governance)

    receipt = escrow.setPaymentToken(first, True, 7, sender=governance)
    escrow.setPaymentToken(second, False, 9, sender=governance)

    assert_event(receipt, escrow.PaymentTokenSet, token=first, id=1, allowed=True, collateralRate=7)
    assert escrow.paymentTokens() == [usd.address, first.address, second.address]
    assert escrow.paymentToken(first) == (1, True, True, 7)
    assert escrow.paymentToken(second) == (2, True, False, 9)


def test_set_payment_token__re_registration__keeps_id(project, escrow, usd, governance):
    token = project.MockUSD.deploy(sender=governance)
    escrow.setPaymentToken(token, True, 7, sender=governance)

    escrow.setPaymentToken(token, False, 8, sender=governance)
    receipt = escrow.setPaymentToken(token, True, 11, sender=governance)

    assert_event(receipt, escrow.PaymentTokenSet, token=token, id=1, allowed=True, collateralRate=11)
    assert escrow.paymentToken(token) == (1, True, True, 11)
    assert escrow.paymentTokens() == [usd.address, token.address]


def test_set_payment_token__usd_rate_change__same_id(escrow, usd, governance):
    receipt = escrow.setPaymentToken(usd, True, COLLATERAL_RATE * 2, sender=governance)

    assert_event(receipt, escrow.PaymentTokenSet, token=usd, id=0, allowed=True, collateralRate=COLLATERAL_RATE * 2)
    assert escrow.paymentToken(usd) == (0, True, True, COLLATERAL_RATE * 2)
    assert escrow.collateralFor(usd, ESCROW) == 2 * COLLATERAL


@pytest.mark.parametrize("rate", [0, 2**128], ids=["zero", "2^128"])
def test_set_payment_token__rate_out_of_range__reverts(escrow, usd, governance, rate):
    before = escrow.paymentToken(usd)

    with reverts(escrow.CollateralRateOutOfRange, min=1, max=UINT128_MAX, value=rate):
        escrow.setPaymentToken(usd, True, rate, sender=governance)

    assert escrow.paymentToken(usd) == before


def test_set_payment_token__max_rate__accepted(escrow, usd, governance):
    escrow.setPaymentToken(usd, True, UINT128_MAX, sender=governance)

    assert escrow.paymentToken(usd) == (0, True, True, UINT128_MAX)


def test_set_payment_token__zero_address__reverts(escrow, usd, governance):
    with reverts(escrow.ZeroAddress):
        escrow.setPaymentToken(ZERO, True, COLLATERAL_RATE, sender=governance)

    assert escrow.paymentTokens() == [usd.address]


def test_set_payment_token__disallowed__existing_job_runs_to_the_end(
    protocol, escrow, usd, governance, client, registered_provider
):
    job_id = protocol.create_job(client, registered_provider)
    escrow.setPaymentToken(usd, False, COLLATERAL_RATE, sender=governance)

    escrow.accept(job_id, sender=registered_provider)
    protocol.attest(job_id, success=True, units=10)
    protocol.warp_to(escrow.job(job_id).challengeEnds)
    escrow.settle(job_id, sender=client)
    escrow.withdraw(usd, sender=registered_provider)

    assert usd.balanceOf(registered_provider) == 10 * UNIT_PRICE - fee_of(10 * UNIT_PRICE)


# ─────────────────────────────── parameters ───────────────────────────────


def test_set_fee__max__accepted_and_emitted(escrow, governance):
    receipt = escrow.setFee(1_000, sender=governance)

    assert_event(receipt, escrow.FeeSet, feeBps=1_000)
    assert_event(receipt, escrow.TermsSet, **terms_set(2, feeBps=1_000))
    assert escrow.feeBps() == 1_000
    assert escrow.MAX_FEE_BPS() == 1_000


def test_set_fee__above_max__fee_out_of_range(escrow, governance):
    with reverts(escrow.FeeOutOfRange, min=0, max=1_000, value=1_001):
        escrow.setFee(1_001, sender=governance)

    assert escrow.feeBps() == FEE_BPS
    assert escrow.currentTermsId() == 1  # a refused change makes no terms


BOUNDS = [(60, 30 * DAY), (60, 30 * DAY), (60, 90 * DAY), (60, 365 * DAY)]


@pytest.mark.parametrize("index", range(4), ids=["acceptWindow", "challengeWindow", "disputeTimeout", "maxJobDuration"])
@pytest.mark.parametrize("side", ["below", "above"])
def test_set_windows__argument_out_of_range__window_out_of_range(escrow, governance, index, side):
    low, high = BOUNDS[index]
    value = low - 1 if side == "below" else high + 1
    args = list(WINDOWS)
    args[index] = value

    with reverts(escrow.WindowOutOfRange, min=low, max=high, value=value):
        escrow.setWindows(*args, sender=governance)

    assert params(escrow)["windows"] == WINDOWS
    assert escrow.currentTermsId() == 1  # a refused change makes no terms


@pytest.mark.parametrize("side", ["low", "high"])
def test_set_windows__bounds__accepted_and_emitted(escrow, governance, side):
    values = tuple(b[0] if side == "low" else b[1] for b in BOUNDS)

    receipt = escrow.setWindows(*values, sender=governance)

    assert_event(
        receipt,
        escrow.WindowsSet,
        acceptWindow=values[0],
        challengeWindow=values[1],
        disputeTimeout=values[2],
        maxJobDuration=values[3],
    )
    assert_event(receipt, escrow.TermsSet, **terms_set(2, challengeWindow=values[1], disputeTimeout=values[2]))
    assert params(escrow)["windows"] == values


def test_set_windows__new_windows__apply_to_new_jobs(protocol, escrow, usd, governance, client, registered_provider):
    escrow.setWindows(120, 300, 600, 7 * DAY, sender=governance)
    protocol.fund_usd(client, ESCROW + BOND)
    now = protocol.now()
    with reverts(escrow.DeadlineOutOfRange, min=now + 1, max=now + 7 * DAY, value=now + 7 * DAY + 1):
        escrow.createJob(registered_provider, usd, UNIT_PRICE, MAX_UNITS, now + 7 * DAY + 1, SPEC_HASH, sender=client)

    created = escrow.createJob(registered_provider, usd, UNIT_PRICE, MAX_UNITS, now + 7 * DAY, SPEC_HASH, sender=client)
    assert escrow.job(1).acceptBy == created.timestamp + 120
    escrow.accept(1, sender=registered_provider)
    attested = protocol.attest(1, success=True, units=1)
    assert escrow.job(1).challengeEnds == attested.timestamp + 300
    disputed = escrow.dispute(1, sender=client)
    assert escrow.job(1).disputeEnds == disputed.timestamp + 600


def test_set_dispute_bond__above_10000__bps_out_of_range(escrow, governance):
    with reverts(escrow.BpsOutOfRange, min=0, max=10_000, value=10_001):
        escrow.setDisputeBond(10_001, sender=governance)

    assert escrow.disputeBondBps() == DISPUTE_BOND_BPS
    assert escrow.currentTermsId() == 1  # a refused change makes no terms


@pytest.mark.parametrize("bps", [0, 10_000])
def test_set_dispute_bond__bounds__accepted(
    protocol, escrow, governance, client, registered_provider, attested_job, bps
):
    receipt = escrow.setDisputeBond(bps, sender=governance)
    later_job = protocol.create_job(client, registered_provider)

    assert_event(receipt, escrow.DisputeBondSet, disputeBondBps=bps)
    assert_event(receipt, escrow.TermsSet, **terms_set(2, disputeBondBps=bps))
    assert escrow.disputeBondBps() == bps
    assert escrow.disputeBondFor(later_job) == ESCROW * bps // 10_000
    assert escrow.disputeBondFor(attested_job) == BOND  # a live job keeps the bond of its terms


@pytest.mark.parametrize("bps", [0, 10_001])
def test_set_client_slash_share__out_of_range__bps_out_of_range(escrow, governance, bps):
    with reverts(escrow.BpsOutOfRange, min=1, max=10_000, value=bps):
        escrow.setClientSlashShare(bps, sender=governance)

    assert escrow.clientSlashShareBps() == CLIENT_SLASH_SHARE_BPS
    assert escrow.currentTermsId() == 1  # a refused change makes no terms


@pytest.mark.parametrize("bps", [1, 10_000])
def test_set_client_slash_share__bounds__accepted(escrow, governance, bps):
    receipt = escrow.setClientSlashShare(bps, sender=governance)

    assert_event(receipt, escrow.ClientSlashShareSet, clientSlashShareBps=bps)
    assert_event(receipt, escrow.TermsSet, **terms_set(2, clientSlashShareBps=bps))
    assert escrow.clientSlashShareBps() == bps


def test_set_treasury__zero__zero_address(escrow, governance, treasury):
    with reverts(escrow.ZeroAddress):
        escrow.setTreasury(ZERO, sender=governance)

    assert escrow.treasury() == treasury.address


def test_set_treasury__new_treasury__receives_later_fees(
    protocol, escrow, usd, governance, treasury, relayer, client, attested_job
):
    receipt = escrow.setTreasury(relayer, sender=governance)
    assert_event(receipt, escrow.TreasurySet, treasury=relayer)
    protocol.warp_to(escrow.job(attested_job).challengeEnds)

    escrow.settle(attested_job, sender=client)

    assert escrow.claimable(relayer, usd) == fee_of(60 * UNIT_PRICE)
    assert escrow.claimable(treasury, usd) == 0


# ─────────────────────────────── views ───────────────────────────────


def test_views__payment_token_and_collateral_for(project, escrow, usd, governance):
    unknown = project.MockUSD.deploy(sender=governance)

    assert escrow.paymentToken(usd) == (0, True, True, COLLATERAL_RATE)
    assert escrow.paymentToken(unknown) == (0, False, False, 0)
    assert escrow.collateralFor(usd, ESCROW) == COLLATERAL
    assert escrow.collateralFor(usd, 0) == 0
    with reverts(escrow.TokenNotAllowed, token=unknown):
        escrow.collateralFor(unknown, ESCROW)
    escrow.setPaymentToken(usd, False, COLLATERAL_RATE, sender=governance)
    assert escrow.collateralFor(usd, ESCROW) == COLLATERAL  # registered, merely disallowed


def test_views__job_count_and_dispute_bond_for(protocol, escrow, client, provider):
    assert escrow.jobCount() == 0
    assert escrow.disputeBondFor(1) == 0

    job_id = protocol.create_job(client, provider, unit_price=3, max_units=7)

    assert escrow.jobCount() == 1
    assert escrow.disputeBondFor(job_id) == ceil_div(21 * DISPUTE_BOND_BPS, 10_000) == 3
    assert escrow.disputeBondFor(protocol.create_job(client, provider)) == BOND
    assert escrow.jobCount() == 2


def test_set_payment_token__257th_token__too_many_payment_tokens(escrow, usd, governance):
    # The allowlist only needs distinct non-zero addresses; ids 1..255 fill the uint8 id space.
    fillers = [f"0x{i:040x}" for i in range(1, 256)]
    for address in fillers:
        escrow.setPaymentToken(address, False, 1, sender=governance)
    assert len(escrow.paymentTokens()) == 256
    assert escrow.paymentToken(fillers[-1])[0] == 255

    with reverts(escrow.TooManyPaymentTokens, max=256):
        escrow.setPaymentToken(f"0x{256:040x}", True, 1, sender=governance)

    assert len(escrow.paymentTokens()) == 256
    escrow.setPaymentToken(fillers[0], True, 2, sender=governance)  # re-registering still works
    assert escrow.paymentToken(fillers[0]) == (1, True, True, 2)
