"""JobEscrow.createJobWithPermit (EIP-2612) and JobEscrow.createJobs (batches)."""

import pytest
from eth_account import Account

from tests.support.escrow import (
    ESCROW,
    MAX_UNITS,
    SPEC_HASH,
    UINT48_MAX,
    UNIT_PRICE,
    Status,
    events,
    job_view,
    norm,
)
from tests.support.reverts import reverts

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def sign_permit(token, owner, spender, value, deadline, chain_id, *, nonce=None, signer=None):
    """(v, r, s) of an EIP-2612 permit for MockUSD, signed with eth-account."""
    domain = {"name": "Mock USD", "version": "1", "chainId": chain_id, "verifyingContract": token.address}
    message = {
        "owner": owner.address,
        "spender": spender.address,
        "value": value,
        "nonce": token.nonces(owner) if nonce is None else nonce,
        "deadline": deadline,
    }
    signed = Account.sign_typed_data((signer or owner).private_key, domain, PERMIT_TYPES, message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def create_with_permit(protocol, escrow, usd, client, provider, permit):
    v, r, s, permit_deadline = permit
    deadline = protocol.now() + 86_400
    return escrow.createJobWithPermit(
        provider, usd, UNIT_PRICE, MAX_UNITS, deadline, SPEC_HASH, permit_deadline, v, r, s, sender=client
    )


# ─────────────────────────────── permit ───────────────────────────────


def test_create_with_permit__no_approval__creates_and_pulls(protocol, chain, escrow, usd, client, provider):
    usd.mint(client, ESCROW, sender=client)
    assert usd.allowance(client, escrow) == 0
    permit_deadline = protocol.now() + 3_600
    v, r, s = sign_permit(usd, client, escrow, ESCROW, permit_deadline, chain.chain_id)

    receipt = create_with_permit(protocol, escrow, usd, client, provider, (v, r, s, permit_deadline))

    assert [e["jobId"] for e in events(receipt, escrow.JobCreated)] == [1]
    assert escrow.jobStatus(1) == Status.OPEN
    assert usd.balanceOf(client) == 0
    assert usd.balanceOf(escrow) == ESCROW
    assert usd.allowance(client, escrow) == 0
    assert usd.nonces(client) == 1


def test_create_with_permit__permit_front_run__still_works_with_allowance(
    protocol, chain, escrow, usd, client, provider, relayer
):
    usd.mint(client, ESCROW, sender=client)
    permit_deadline = protocol.now() + 3_600
    v, r, s = sign_permit(usd, client, escrow, ESCROW, permit_deadline, chain.chain_id)
    # Someone submits the permit first: the nonce is used, the allowance is set.
    usd.permit(client, escrow, ESCROW, permit_deadline, v, r, s, sender=relayer)
    assert usd.allowance(client, escrow) == ESCROW

    create_with_permit(protocol, escrow, usd, client, provider, (v, r, s, permit_deadline))

    assert escrow.jobStatus(1) == Status.OPEN
    assert usd.balanceOf(escrow) == ESCROW
    assert usd.allowance(client, escrow) == 0
    assert usd.nonces(client) == 1


def test_create_with_permit__bad_permit_but_existing_allowance__works(protocol, escrow, usd, client, provider):
    protocol.fund_usd(client, ESCROW)  # approves the escrow

    create_with_permit(protocol, escrow, usd, client, provider, (27, b"\x01" * 32, b"\x02" * 32, 0))

    assert escrow.jobStatus(1) == Status.OPEN
    assert usd.balanceOf(escrow) == ESCROW


@pytest.mark.parametrize("defect", ["wrong-signer", "wrong-value", "expired"])
def test_create_with_permit__invalid_permit_without_allowance__insufficient_allowance(
    protocol, chain, escrow, usd, client, provider, attacker, state, defect
):
    usd.mint(client, ESCROW, sender=client)
    permit_deadline = protocol.now() + 3_600
    if defect == "wrong-signer":
        v, r, s = sign_permit(usd, client, escrow, ESCROW, permit_deadline, chain.chain_id, signer=attacker)
    elif defect == "wrong-value":
        v, r, s = sign_permit(usd, client, escrow, ESCROW - 1, permit_deadline, chain.chain_id)
    else:
        permit_deadline = protocol.now() - 1
        v, r, s = sign_permit(usd, client, escrow, ESCROW, permit_deadline, chain.chain_id)
    before = state()

    with reverts(usd.ERC20InsufficientAllowance, spender=escrow, allowance=0, needed=ESCROW):
        create_with_permit(protocol, escrow, usd, client, provider, (v, r, s, permit_deadline))

    assert state() == before
    assert usd.nonces(client) == 0
    assert usd.allowance(client, escrow) == 0


def test_create_with_permit__paused__enforced_pause(protocol, chain, escrow, usd, client, provider, governance, state):
    usd.mint(client, ESCROW, sender=client)
    permit_deadline = protocol.now() + 3_600
    v, r, s = sign_permit(usd, client, escrow, ESCROW, permit_deadline, chain.chain_id)
    escrow.pause(sender=governance)
    before = state()

    with reverts(escrow.EnforcedPause):
        create_with_permit(protocol, escrow, usd, client, provider, (v, r, s, permit_deadline))

    assert state() == before


# ─────────────────────────────── batches ───────────────────────────────


def request(provider, token, deadline, *, unit_price=UNIT_PRICE, max_units=MAX_UNITS, spec=SPEC_HASH):
    return (provider.address, token.address, unit_price, max_units, deadline, spec)


def test_create_jobs__batch__consecutive_ids_and_views(protocol, escrow, usd, client, provider, other_provider):
    protocol.create_job(client, provider)  # job 1 exists already
    protocol.fund_usd(client, 6 * UNIT_PRICE)
    deadline = protocol.now() + 86_400
    requests = [
        request(provider, usd, deadline, max_units=1),
        request(other_provider, usd, deadline, max_units=2),
        request(provider, usd, deadline + 1, max_units=3),
    ]
    assert escrow.createJobs.call(requests, sender=client) == 2

    receipt = escrow.createJobs(requests, sender=client)

    assert [e["jobId"] for e in events(receipt, escrow.JobCreated)] == [2, 3, 4]
    assert escrow.jobCount() == 4
    for job_id, (prov, units, dl) in zip(
        [2, 3, 4], [(provider, 1, deadline), (other_provider, 2, deadline), (provider, 3, deadline + 1)]
    ):
        view = job_view(escrow, job_id)
        assert (view["provider"], view["maxUnits"], view["escrow"], view["deadline"], view["status"]) == (
            norm(prov),
            units,
            units * UNIT_PRICE,
            dl,
            Status.OPEN,
        )
    assert usd.balanceOf(escrow) == ESCROW + 6 * UNIT_PRICE
    assert usd.balanceOf(client) == 0


def test_create_jobs__token_runs__one_transfer_per_run(protocol, escrow, usd, second_usd, client, provider):
    protocol.fund_usd(client, 1_000 * UNIT_PRICE)
    second_usd.mint(client, 1_000 * UNIT_PRICE, sender=client)
    second_usd.approve(escrow, 2**256 - 1, sender=client)
    deadline = protocol.now() + 86_400
    requests = [
        request(provider, usd, deadline, max_units=1),
        request(provider, usd, deadline, max_units=2),
        request(provider, second_usd, deadline, max_units=4),
        request(provider, second_usd, deadline, max_units=8),
        request(provider, usd, deadline, max_units=16),
    ]

    receipt = escrow.createJobs(requests, sender=client)

    transfer = {"from": norm(client), "to": norm(escrow)}
    assert events(receipt, usd.Transfer) == [
        {**transfer, "value": 3 * UNIT_PRICE},
        {**transfer, "value": 16 * UNIT_PRICE},
    ]
    assert events(receipt, second_usd.Transfer) == [{**transfer, "value": 12 * UNIT_PRICE}]
    assert [escrow.job(i).token for i in range(1, 6)] == [usd.address] * 2 + [second_usd.address] * 2 + [usd.address]
    assert usd.balanceOf(escrow) == 19 * UNIT_PRICE
    assert second_usd.balanceOf(escrow) == 12 * UNIT_PRICE


def test_create_jobs__empty__empty_batch(escrow, client, state):
    before = state()

    with reverts(escrow.EmptyBatch):
        escrow.createJobs([], sender=client)

    assert state() == before


@pytest.mark.parametrize("bad_index", [0, 2])
def test_create_jobs__one_invalid_request__nothing_created(
    protocol, escrow, usd, second_usd, client, provider, state, bad_index
):
    protocol.fund_usd(client, 1_000 * UNIT_PRICE)
    second_usd.mint(client, 1_000 * UNIT_PRICE, sender=client)
    second_usd.approve(escrow, 2**256 - 1, sender=client)
    deadline = protocol.now() + 86_400
    requests = [
        request(provider, usd, deadline),
        request(provider, second_usd, deadline),
        request(provider, usd, deadline),
    ]
    requests[bad_index] = request(provider, usd, deadline, max_units=0)
    before = state(tokens=[usd, second_usd])

    with reverts(escrow.MaxUnitsOutOfRange, min=1, max=UINT48_MAX, value=0):
        escrow.createJobs(requests, sender=client)

    assert state(tokens=[usd, second_usd]) == before
    assert escrow.jobStatus(1) == Status.NONE


def test_create_jobs__unfunded_later_run__whole_batch_reverts(
    protocol, escrow, usd, second_usd, client, provider, state
):
    protocol.fund_usd(client, ESCROW)
    second_usd.approve(escrow, 2**256 - 1, sender=client)  # approved but no balance
    deadline = protocol.now() + 86_400
    before = state(tokens=[usd, second_usd])

    with reverts(second_usd.ERC20InsufficientBalance, sender=client, balance=0, needed=ESCROW):
        escrow.createJobs([request(provider, usd, deadline), request(provider, second_usd, deadline)], sender=client)

    assert state(tokens=[usd, second_usd]) == before


def test_create_jobs__paused__enforced_pause(protocol, escrow, usd, client, provider, governance, state):
    protocol.fund_usd(client, ESCROW)
    escrow.pause(sender=governance)
    before = state()

    with reverts(escrow.EnforcedPause):
        escrow.createJobs([request(provider, usd, protocol.now() + 86_400)], sender=client)

    assert state() == before
