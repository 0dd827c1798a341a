"""Every path a job can take, from creation until everyone has withdrawn, with exact balances.

The job: 100 units at 0.10 USD, so 10 USD in escrow, 5 stake tokens of collateral, a 2.5% fee
and a 1 USD dispute bond. The provider starts with 10,000 stake tokens, the client with exactly
the escrow (plus the bond where it disputes); client, provider and treasury start at zero.
"""

from tests.support.protocol import STAKE, USD

ESCROW = 10 * USD
COLLATERAL = 5 * STAKE
BOND = 1 * USD  # 10% of the escrow
PROVIDER_STAKE = 10_000 * STAKE
HALF_COLLATERAL = COLLATERAL // 2  # clientSlashShareBps = 5000: half to the client, half to the treasury

# An attested success for 60 of the 100 units: gross 6 USD, fee 2.5% of it, 4 USD refunded.
GROSS = 6 * USD
FEE = GROSS * 250 // 10_000  # 0.15 USD
PROVIDER_NET = GROSS - FEE  # 5.85 USD
REFUND = ESCROW - GROSS  # 4 USD

SETTLED, FAILED, EXPIRED, CANCELLED = 5, 6, 7, 8  # IJobEscrow.JobStatus


def fund_bond(protocol, client, job):
    assert protocol.escrow.disputeBondFor(job) == BOND
    protocol.usd.mint(client, BOND, sender=client)


def test_lifecycle__settled(lifecycle, protocol, escrow, job, client, provider, treasury, relayer):
    protocol.attest(job, success=True, units=60)
    protocol.warp(escrow.challengeWindow())

    receipt = escrow.settle(job, sender=relayer)

    assert receipt.events.filter(escrow.JobSettled) == [
        escrow.JobSettled(
            jobId=job, provider=provider, client=client, gross=GROSS, providerNet=PROVIDER_NET, fee=FEE, refund=REFUND
        )
    ]
    assert escrow.jobStatus(job) == SETTLED
    lifecycle.withdraw_everything()
    lifecycle.assert_balances(
        usd={client: REFUND, provider: PROVIDER_NET, treasury: FEE},
        stake={client: 0, provider: PROVIDER_STAKE, treasury: 0},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__failed_attestation(lifecycle, protocol, escrow, job, client, provider, treasury):
    receipt = protocol.attest(job, success=False, units=0)

    assert receipt.events.filter(escrow.JobRefunded) == [
        escrow.JobRefunded(
            jobId=job,
            client=client,
            status=FAILED,
            refund=ESCROW,
            collateralSlashed=COLLATERAL,
            clientCollateralShare=HALF_COLLATERAL,
        )
    ]
    lifecycle.withdraw_everything()
    lifecycle.assert_balances(
        usd={client: ESCROW, provider: 0, treasury: 0},
        stake={client: HALF_COLLATERAL, provider: PROVIDER_STAKE - COLLATERAL, treasury: HALF_COLLATERAL},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__expired_and_reclaimed(lifecycle, protocol, escrow, client, provider, treasury, relayer):
    job = protocol.accepted_job(client, provider, deadline=protocol.now() + 7_200)
    protocol.warp_to(escrow.job(job).deadline + 1)

    escrow.reclaimExpired(job, sender=relayer)  # anyone may; the refund still goes to the client

    assert escrow.jobStatus(job) == EXPIRED
    lifecycle.withdraw_everything()
    lifecycle.assert_balances(
        usd={client: ESCROW, provider: 0, treasury: 0, relayer: 0},
        stake={client: HALF_COLLATERAL, provider: PROVIDER_STAKE - COLLATERAL, treasury: HALF_COLLATERAL},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__dispute_upheld(lifecycle, protocol, escrow, job, client, provider, treasury, arbitrator):
    protocol.attest(job, success=True, units=60)
    fund_bond(protocol, client, job)
    escrow.dispute(job, sender=client)

    escrow.resolveDispute(job, True, sender=arbitrator)

    assert escrow.jobStatus(job) == FAILED
    lifecycle.withdraw_everything()
    # The client gets the whole escrow and its bond back, plus half the slashed collateral.
    lifecycle.assert_balances(
        usd={client: ESCROW + BOND, provider: 0, treasury: 0},
        stake={client: HALF_COLLATERAL, provider: PROVIDER_STAKE - COLLATERAL, treasury: HALF_COLLATERAL},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__dispute_rejected(lifecycle, protocol, escrow, job, client, provider, treasury, arbitrator):
    protocol.attest(job, success=True, units=60)
    fund_bond(protocol, client, job)
    escrow.dispute(job, sender=client)

    escrow.resolveDispute(job, False, sender=arbitrator)

    assert escrow.jobStatus(job) == SETTLED
    lifecycle.withdraw_everything()
    # The attestation stands and the provider takes the client's bond.
    lifecycle.assert_balances(
        usd={client: REFUND, provider: PROVIDER_NET + BOND, treasury: FEE},
        stake={client: 0, provider: PROVIDER_STAKE, treasury: 0},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__dispute_lapsed(lifecycle, protocol, escrow, job, client, provider, treasury, relayer):
    protocol.attest(job, success=True, units=60)
    fund_bond(protocol, client, job)
    escrow.dispute(job, sender=client)
    protocol.warp_to(escrow.job(job).disputeEnds + 1)

    escrow.settle(job, sender=relayer)

    assert escrow.jobStatus(job) == SETTLED
    lifecycle.withdraw_everything()
    # The arbitrator never ruled: the attestation stands and the bond goes back to the client.
    lifecycle.assert_balances(
        usd={client: REFUND + BOND, provider: PROVIDER_NET, treasury: FEE},
        stake={client: 0, provider: PROVIDER_STAKE, treasury: 0},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()


def test_lifecycle__cancelled(lifecycle, protocol, escrow, staking, client, provider, treasury):
    job = protocol.create_job(client, provider)

    escrow.cancel(job, sender=client)

    assert escrow.jobStatus(job) == CANCELLED
    assert staking.providerInfo(provider).locked == 0  # never accepted, nothing was locked
    lifecycle.withdraw_everything()
    lifecycle.assert_balances(
        usd={client: ESCROW, provider: 0, treasury: 0},
        stake={client: 0, provider: PROVIDER_STAKE, treasury: 0},
    )
    lifecycle.assert_contracts_hold_only_what_is_owed()
