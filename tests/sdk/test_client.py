"""ClientAPI: create (permit, approve, batch), cancel, reclaim, dispute, withdraw, job(s)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from eth_utils import function_signature_to_4byte_selector

from computerails import Job, JobStatus
from computerails.client import MAX_UINT
from tests.support.sdk import SPEC, nonce_of, warp

CREATE_JOB = function_signature_to_4byte_selector("createJob(address,address,uint256,uint256,uint256,bytes32)")
CREATE_JOB_WITH_PERMIT = function_signature_to_4byte_selector(
    "createJobWithPermit(address,address,uint256,uint256,uint256,bytes32,uint256,uint8,bytes32,bytes32)"
)


def _selector_of_last_tx(rails) -> bytes:
    return bytes(rails.w3.eth.get_transaction(rails.tx.sent[-1].tx_hash)["input"])[:4]


def _allowance(rails, token) -> int:
    return rails.erc20(token.address).functions.allowance(rails.address, rails.escrow.address).call()


def test_create_job__permit_path__one_tx_and_allowance_stays_zero(client_rails, registered_provider, faucet, usd):
    faucet(client_rails, usd=100)
    before = nonce_of(client_rails)
    now = client_rails.now()
    deadline = datetime.fromtimestamp(now + 7_200, tz=timezone.utc)

    job = client_rails.client.create_job(registered_provider.address, "0.10", 100, deadline, SPEC, payment="permit")

    created = client_rails.now()
    assert nonce_of(client_rails) == before + 1  # no approve transaction
    assert _selector_of_last_tx(client_rails) == CREATE_JOB_WITH_PERMIT
    assert _allowance(client_rails, usd) == 0
    assert client_rails.erc20(usd.address).functions.nonces(client_rails.address).call() == 1
    assert job == Job(
        id=1,
        status=JobStatus.OPEN,
        client=client_rails.address,
        provider=registered_provider.address,
        token=usd,
        unit_price=Decimal("0.1"),
        max_units=100,
        escrow=Decimal(10),
        units=0,
        fee_bps=250,
        collateral=Decimal(0),
        deadline=deadline,
        accept_by=datetime.fromtimestamp(created + 3_600, tz=timezone.utc),
        spec_hash="0x" + SPEC.hex(),
    )
    assert job.deadline.tzinfo is timezone.utc
    assert client_rails.views.wallet(client_rails.address) == Decimal(90)
    assert client_rails.views.wallet(client_rails.escrow.address) == Decimal(10)


def test_create_job__approve_path__approves_exact_amount_then_creates(client_rails, registered_provider, faucet, usd):
    faucet(client_rails, usd=100)
    before = nonce_of(client_rails)

    job = client_rails.client.create_job(
        registered_provider.address, Decimal("0.25"), 40, timedelta(hours=2), SPEC, payment="approve"
    )

    assert nonce_of(client_rails) == before + 2
    assert [s.label for s in client_rails.tx.sent[-2:]] == ["approve", "createJob"]
    assert _selector_of_last_tx(client_rails) == CREATE_JOB
    assert _allowance(client_rails, usd) == 0  # exactly the escrow was approved and pulled
    assert (job.status, job.escrow, job.unit_price) == (JobStatus.OPEN, Decimal(10), Decimal("0.25"))
    assert client_rails.views.job(job.id).escrow == Decimal(10)


def test_create_job__existing_allowance__neither_permit_nor_approve(client_rails, registered_provider, faucet, usd):
    faucet(client_rails, usd=100)
    client_rails.send(
        client_rails.erc20(usd.address).functions.approve(client_rails.escrow.address, MAX_UINT), "approve"
    )
    before = nonce_of(client_rails)

    job = client_rails.client.create_job(registered_provider.address, 1, 5, timedelta(hours=1), SPEC, payment="none")

    assert nonce_of(client_rails) == before + 1
    assert _selector_of_last_tx(client_rails) == CREATE_JOB
    assert job.escrow == Decimal(5)
    assert _allowance(client_rails, usd) == MAX_UINT  # an infinite allowance is not consumed


def test_create_jobs__three_requests__one_tx_consecutive_ids(
    client_rails, registered_provider, other_provider_rails, faucet, usd
):
    faucet(client_rails, usd=100)
    before = nonce_of(client_rails)
    requests = [
        {
            "provider": registered_provider.address,
            "unit_price": "0.10",
            "max_units": 100,
            "deadline": timedelta(hours=2),
            "spec_hash": SPEC,
        },
        {
            "provider": other_provider_rails.address,
            "unit_price": 2,
            "max_units": 3,
            "deadline": timedelta(hours=3),
            "spec_hash": "0x" + "03" * 32,
        },
        {
            "provider": registered_provider.address,
            "unit_price": "0.000001",
            "max_units": 1,
            "deadline": timedelta(days=1),
            "spec_hash": SPEC,
        },
    ]

    jobs = client_rails.client.create_jobs(requests)

    assert nonce_of(client_rails) == before + 2  # approve the total, then one createJobs
    assert [s.label for s in client_rails.tx.sent[-2:]] == ["approve", "createJobs"]
    assert [j.id for j in jobs] == [1, 2, 3]
    assert [(j.provider, j.escrow, j.spec_hash) for j in jobs] == [
        (registered_provider.address, Decimal(10), "0x" + SPEC.hex()),
        (other_provider_rails.address, Decimal(6), "0x" + "03" * 32),
        (registered_provider.address, Decimal("0.000001"), "0x" + SPEC.hex()),
    ]
    assert client_rails.views.wallet(client_rails.escrow.address) == Decimal("16.000001")
    assert [client_rails.views.job_status(j.id) for j in jobs] == [JobStatus.OPEN] * 3


def test_cancel__open_job__cancelled_and_escrow_claimable(client_rails, make_job, usd):
    job = make_job()

    cancelled = client_rails.client.cancel(job.id)

    assert cancelled.status is JobStatus.CANCELLED
    assert client_rails.views.claimable(client_rails.address)[usd] == Decimal(10)


def test_withdraw__after_cancel__pays_refund_once(client_rails, make_job, usd):
    job = make_job()
    client_rails.client.cancel(job.id)
    wallet = client_rails.views.wallet(client_rails.address)

    payout = client_rails.client.withdraw()

    assert (payout.token, payout.amount, payout.source) == (usd, Decimal(10), "escrow")
    assert payout.tx_hash == client_rails.tx.sent[-1].tx_hash
    assert client_rails.views.wallet(client_rails.address) == wallet + 10
    assert client_rails.views.claimable(client_rails.address)[usd] == 0


def test_reclaim_expired__after_deadline__refund_and_collateral_share(
    w3, client_rails, accepted_job, registered_provider, usd, stk
):
    warp(w3, 7_201)

    job = client_rails.client.reclaim_expired(accepted_job.id)

    assert job.status is JobStatus.EXPIRED
    raw = client_rails.views.claimable_raw(client_rails.address)
    assert raw[usd]["escrow"] == 10 * 10**6
    assert raw[stk]["staking"] == 25 * 10**17  # half of the 5-token collateral
    provider = registered_provider.provider.status()
    assert provider.jailed and provider.staked == Decimal(1_995) and provider.total_slashed == Decimal(5)


def test_reclaim_expired__client_claims_slash_share__staking_payout(w3, client_rails, accepted_job, stk):
    warp(w3, 7_201)
    client_rails.client.reclaim_expired(accepted_job.id)

    payouts = client_rails.provider.claim_rewards()

    assert [(p.token, p.amount, p.source) for p in payouts] == [
        (client_rails.token(), Decimal(10), "escrow"),
        (stk, Decimal("2.5"), "staking"),
    ]
    assert client_rails.views.wallet(client_rails.address, stk.address) == Decimal("2.5")


def test_dispute__attested_job__disputed_with_bond(client_rails, attested_job, faucet):
    faucet(client_rails, usd=5)
    wallet = client_rails.views.wallet(client_rails.address)
    before = nonce_of(client_rails)

    job = client_rails.client.dispute(attested_job.id)

    assert nonce_of(client_rails) == before + 2  # approve the bond, dispute
    assert job.status is JobStatus.DISPUTED
    assert job.dispute_bond == Decimal(1)  # 10 % of the 10 mUSD escrow
    assert job.dispute_ends == datetime.fromtimestamp(client_rails.now() + 3 * 86_400, tz=timezone.utc)
    assert client_rails.views.wallet(client_rails.address) == wallet - 1


def test_job_and_jobs__two_clients__each_lists_only_its_own(client_rails, other_client_rails, make_job):
    mine = [make_job(), make_job(units=50)]
    theirs = make_job(rails=other_client_rails)

    assert client_rails.client.job(mine[1].id) == client_rails.views.job_with_spec(mine[1].id)
    assert client_rails.client.job(mine[1].id).spec_hash == "0x" + SPEC.hex()
    listed = client_rails.client.jobs()
    assert [j.id for j in listed] == [m.id for m in mine]
    assert all(j.spec_hash == "0x" + SPEC.hex() and j.client == client_rails.address for j in listed)
    assert [j.id for j in client_rails.client.jobs(other_client_rails.address)] == [theirs.id]
