"""JobEscrow.createJob: validation, escrow pull, the JobCreated event, the job view, fee snapshot."""

import pytest

from tests.support.escrow import (
    ACCEPT_WINDOW,
    COLLATERAL_RATE,
    ESCROW,
    FEE_BPS,
    MAX_JOB_DURATION,
    MAX_UNITS,
    SPEC_HASH,
    UINT48_MAX,
    UINT96_MAX,
    UNIT_PRICE,
    Status,
    assert_event,
    fee_of,
    job_view,
    norm,
)
from tests.support.reverts import reverts


def create(escrow, client, provider, token, *, unit_price=UNIT_PRICE, max_units=MAX_UNITS, deadline, spec=SPEC_HASH):
    return escrow.createJob(provider, token, unit_price, max_units, deadline, spec, sender=client)


def job_view_expected(client, provider, token, **overrides):
    view = {
        "id": 1,
        "client": client,
        "provider": provider,
        "token": token,
        "unitPrice": UNIT_PRICE,
        "maxUnits": MAX_UNITS,
        "escrow": ESCROW,
        "units": 0,
        "termsId": 1,  # the terms the deployment started with
        "feeBps": FEE_BPS,
        "collateral": 0,
        "deadline": 0,
        "acceptBy": 0,
        "challengeEnds": 0,
        "disputeEnds": 0,
        "disputeBond": 0,
        "status": 0,
    }
    view.update(overrides)
    return norm(view)


@pytest.mark.parametrize("deadline_offset", [7 * 86_400, 600], ids=["accept-window", "deadline-caps-acceptBy"])
def test_create_job__valid__pulls_escrow_and_emits_job_created(
    protocol, escrow, usd, client, provider, deadline_offset
):
    protocol.fund_usd(client, ESCROW)
    before_escrow_balance = usd.balanceOf(escrow)
    now = protocol.now()
    deadline = now + deadline_offset

    receipt = create(escrow, client, provider, usd, deadline=deadline)

    assert receipt.timestamp == now
    accept_by = min(now + ACCEPT_WINDOW, deadline)
    assert_event(
        receipt,
        escrow.JobCreated,
        jobId=1,
        client=client,
        provider=provider,
        token=usd,
        unitPrice=UNIT_PRICE,
        maxUnits=MAX_UNITS,
        deadline=deadline,
        acceptBy=accept_by,
        feeBps=FEE_BPS,
        specHash=SPEC_HASH,
    )
    assert usd.balanceOf(client) == 0
    assert usd.balanceOf(escrow) == before_escrow_balance + ESCROW
    assert escrow.jobCount() == 1
    assert escrow.jobStatus(1) == Status.OPEN
    assert job_view(escrow, 1) == job_view_expected(
        client, provider, usd, deadline=deadline, acceptBy=accept_by, status=Status.OPEN
    )


def test_create_job__return_value__is_new_id(protocol, escrow, usd, client, provider):
    protocol.create_job(client, provider)
    protocol.fund_usd(client, ESCROW)
    deadline = protocol.now() + 86_400
    assert escrow.createJob.call(provider, usd, UNIT_PRICE, MAX_UNITS, deadline, SPEC_HASH, sender=client) == 2


def test_job__unknown_id__empty_view(escrow, attacker):
    view = job_view(escrow, 42)
    assert view["id"] == 42
    assert view["status"] == Status.NONE
    assert view["escrow"] == 0 and view["token"] == "0x0000000000000000000000000000000000000000"


def test_create_job__unknown_token__token_not_allowed(
    protocol, escrow, second_usd, project, client, provider, governance, state
):
    unknown = project.MockUSD.deploy(sender=governance)
    unknown.mint(client, ESCROW, sender=client)
    unknown.approve(escrow, ESCROW, sender=client)
    before = state(tokens=[unknown])

    with reverts(escrow.TokenNotAllowed, token=unknown):
        create(escrow, client, provider, unknown, deadline=protocol.now() + 86_400)

    assert state(tokens=[unknown]) == before


def test_create_job__token_disallowed_by_governance__token_not_allowed(
    protocol, escrow, usd, client, provider, governance, state
):
    escrow.setPaymentToken(usd, False, COLLATERAL_RATE, sender=governance)
    protocol.fund_usd(client, ESCROW)
    before = state()

    with reverts(escrow.TokenNotAllowed, token=usd):
        create(escrow, client, provider, usd, deadline=protocol.now() + 86_400)

    assert state() == before


def test_create_job__zero_provider__zero_address(protocol, escrow, usd, client, state):
    protocol.fund_usd(client, ESCROW)
    before = state()

    with reverts(escrow.ZeroAddress):
        create(escrow, client, "0x0000000000000000000000000000000000000000", usd, deadline=protocol.now() + 86_400)

    assert state() == before


@pytest.mark.parametrize("unit_price", [0, 2**96], ids=["zero", "2^96"])
def test_create_job__unit_price_out_of_range__reverts(protocol, escrow, usd, client, provider, state, unit_price):
    protocol.fund_usd(client, 2**96 * MAX_UNITS)
    before = state()

    with reverts(escrow.UnitPriceOutOfRange, min=1, max=UINT96_MAX, value=unit_price):
        create(escrow, client, provider, usd, unit_price=unit_price, deadline=protocol.now() + 86_400)

    assert state() == before


@pytest.mark.parametrize("max_units", [0, 2**48], ids=["zero", "2^48"])
def test_create_job__max_units_out_of_range__reverts(protocol, escrow, usd, client, provider, state, max_units):
    protocol.fund_usd(client, UNIT_PRICE * 2**48)
    before = state()

    with reverts(escrow.MaxUnitsOutOfRange, min=1, max=UINT48_MAX, value=max_units):
        create(escrow, client, provider, usd, max_units=max_units, deadline=protocol.now() + 86_400)

    assert state() == before


@pytest.mark.parametrize(
    "unit_price, max_units",
    [(UINT96_MAX, 1), (1, UINT48_MAX), (UINT96_MAX, UINT48_MAX)],
    ids=["max-price", "max-units", "both-max"],
)
def test_create_job__maximal_values__accepted(protocol, escrow, usd, client, provider, unit_price, max_units):
    amount = unit_price * max_units
    protocol.fund_usd(client, amount)

    create(escrow, client, provider, usd, unit_price=unit_price, max_units=max_units, deadline=protocol.now() + 86_400)

    view = job_view(escrow, 1)
    assert (view["unitPrice"], view["maxUnits"], view["escrow"]) == (unit_price, max_units, amount)
    assert usd.balanceOf(escrow) == amount
    assert usd.balanceOf(client) == 0


def test_accept__collateral_beyond_uint128__collateral_too_large_and_job_stays_cancellable(
    protocol, escrow, usd, client, registered_provider
):
    # The largest job's collateral (escrow * rate / 1e18) does not fit the uint128 collateral field.
    protocol.fund_usd(client, UINT96_MAX)
    create(
        escrow, client, registered_provider, usd, unit_price=UINT96_MAX, max_units=1, deadline=protocol.now() + 86_400
    )
    collateral = UINT96_MAX * COLLATERAL_RATE // 10**18
    assert collateral > 2**128

    with reverts(escrow.CollateralTooLarge, max=2**128 - 1, collateral=collateral):
        escrow.accept(1, sender=registered_provider)

    escrow.cancel(1, sender=client)
    assert escrow.claimable(client, usd) == UINT96_MAX


def test_create_job__deadline_now__out_of_range(protocol, escrow, usd, client, provider, state):
    protocol.fund_usd(client, ESCROW)
    before = state()
    now = protocol.now()

    with reverts(escrow.DeadlineOutOfRange, min=now + 1, max=now + MAX_JOB_DURATION, value=now):
        create(escrow, client, provider, usd, deadline=now)

    assert state() == before


def test_create_job__deadline_past_max_duration__out_of_range(protocol, escrow, usd, client, provider, state):
    protocol.fund_usd(client, ESCROW)
    before = state()
    now = protocol.now()
    deadline = now + MAX_JOB_DURATION + 1

    with reverts(escrow.DeadlineOutOfRange, min=now + 1, max=now + MAX_JOB_DURATION, value=deadline):
        create(escrow, client, provider, usd, deadline=deadline)

    assert state() == before


@pytest.mark.parametrize("offset", [1, MAX_JOB_DURATION], ids=["now+1", "now+maxJobDuration"])
def test_create_job__deadline_at_bounds__accepted(protocol, escrow, usd, client, provider, offset):
    protocol.fund_usd(client, ESCROW)
    now = protocol.now()

    create(escrow, client, provider, usd, deadline=now + offset)

    view = job_view(escrow, 1)
    assert view["deadline"] == now + offset
    assert view["acceptBy"] == min(now + ACCEPT_WINDOW, now + offset)


def test_create_job__paused__enforced_pause(protocol, escrow, usd, client, provider, governance, state):
    protocol.fund_usd(client, ESCROW)
    escrow.pause(sender=governance)
    before = state()

    with reverts(escrow.EnforcedPause):
        create(escrow, client, provider, usd, deadline=protocol.now() + 86_400)

    assert state() == before


def test_create_job__fee_changed_later__job_keeps_snapshotted_fee(
    protocol, escrow, usd, client, registered_provider, governance, treasury
):
    job_id = protocol.accepted_job(client, registered_provider)
    escrow.setFee(1_000, sender=governance)
    later_job = protocol.create_job(client, registered_provider)

    assert escrow.job(job_id).feeBps == FEE_BPS
    assert escrow.job(later_job).feeBps == 1_000

    protocol.attest(job_id, success=True, units=MAX_UNITS)
    protocol.warp_to(escrow.job(job_id).challengeEnds)
    escrow.settle(job_id, sender=client)
    assert escrow.claimable(treasury, usd) == fee_of(ESCROW, FEE_BPS)
    assert escrow.claimable(registered_provider, usd) == ESCROW - fee_of(ESCROW, FEE_BPS)


def test_create_job__insufficient_allowance__token_error_and_no_job(protocol, escrow, usd, client, provider, state):
    usd.mint(client, ESCROW, sender=client)
    usd.approve(escrow, ESCROW - 1, sender=client)
    before = state()

    with reverts(usd.ERC20InsufficientAllowance, spender=escrow, allowance=ESCROW - 1, needed=ESCROW):
        create(escrow, client, provider, usd, deadline=protocol.now() + 86_400)

    assert state() == before


def test_create_job__fee_on_transfer_token__transfer_amount_mismatch(
    protocol, escrow, fee_token, client, provider, state
):
    fee_token.mint(client, ESCROW, sender=client)
    fee_token.approve(escrow, ESCROW, sender=client)
    before = state(tokens=[fee_token])

    with reverts(escrow.TransferAmountMismatch, expected=ESCROW, received=ESCROW - ESCROW // 100):
        create(escrow, client, provider, fee_token, deadline=protocol.now() + 86_400)

    assert state(tokens=[fee_token]) == before
    assert fee_token.balanceOf(client) == ESCROW
