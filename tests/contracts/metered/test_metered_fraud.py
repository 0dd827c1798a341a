"""A provably wrong answer is slashed: oracles that recompute a request and get another answer
sign a FraudAttestation (the MeteredEscrow's EIP-712 domain) over the provider's own countersigned
ResponseReceipt; anyone submits it with a quorum of the AttestationHub's oracles. MeteredEscrow
slashes the collection's `fraudPenaltyBps` of the provider's locked and free stake (its
collections' lock first), pays the payer its share, jails the provider, and never punishes a
receipt twice (per collection, in increasing request order)."""

import pytest

from tests.support.metered import (
    FRAUD_PAYER_SHARE_BPS,
    FRAUD_PENALTY_BPS,
    RESPONSE_HASH,
    RIGHT_HASH,
    STAKE,
    USD,
    fraud_digest,
    receipt,
    receipt_digest,
    sign_receipt,
    sign_voucher,
    stake_for,
    voucher,
)
from tests.support.signatures import recover

ZERO = "0x" + "00" * 20
BPS = 10_000


@pytest.fixture
def collected(metered, client, provider, funded, make_voucher):
    """`provider` collected 10 USD from `client`: 50 stake tokens locked."""
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)
    metered.collect(v.args(), sig, sender=provider)
    return stake_for(10 * USD)


@pytest.fixture
def attest(metered, hub, chain, client, provider, usd, sorted_oracles, quorum):
    """attest(signers=2 oracles, recomputed=RIGHT_HASH, key=provider, deadline, version, **receipt
    fields) -> (attestation tuple, oracle signatures, receipt digest)."""

    def go(signers=None, recomputed=RIGHT_HASH, key=None, deadline=None, version=None, **fields):
        r = receipt(client, provider, usd, **fields)
        rsig = sign_receipt(metered, chain.chain_id, r, (key or provider).private_key)
        deadline = deadline or chain.pending_timestamp + 3_600
        version = version or hub.configVersion()
        rdigest = receipt_digest(metered, chain.chain_id, r)
        digest = fraud_digest(metered, chain.chain_id, rdigest, recomputed, deadline, version)
        attestation = (r.args(), rsig, recomputed, deadline, version)
        assert metered.fraudAttestationDigest(attestation) == digest
        signers = sorted_oracles[:2] if signers is None else signers
        return attestation, quorum.sign(digest, signers), rdigest

    return go


def test_fraud__wrong_answer__slashes_lock_first_pays_payer_jails(
    metered, staking, treasury, client, provider, relayer, collected, attest
):
    info = staking.providerInfo(provider)
    penalty = (collected + info.free) * FRAUD_PENALTY_BPS // BPS
    payer_share = penalty * FRAUD_PAYER_SHARE_BPS // BPS
    payer_before, treasury_before = staking.claimable(client), staking.claimable(treasury)
    attestation, sigs, rdigest = attest()

    tx = metered.submitFraudAttestation(attestation, sigs, sender=relayer)

    (event,) = tx.events.filter(metered.FraudPunished)
    assert (event.receiptDigest, event.requestIndex) == (rdigest, attestation[0][4])
    (slash,) = tx.events.filter(staking.FraudSlashed)
    assert (slash.amount, slash.fromLocked, slash.beneficiaryAmount) == (penalty, collected, payer_share)
    after = staking.providerInfo(provider)
    assert after.jailed and not after.jailedForDowntime
    assert (after.staked, after.locked) == (info.staked - penalty, info.locked - collected)
    assert metered.stakeLock(provider).locked == 0  # the lock it took is gone
    assert staking.claimable(client) - payer_before == payer_share
    assert staking.claimable(treasury) - treasury_before == penalty - payer_share
    assert (
        metered.collection(client, provider, attestation[0][2], attestation[0][3]).fraudFloor == attestation[0][4] + 1
    )


def test_fraud__penalty_smaller_than_the_lock__older_bucket_first(
    metered, staking, chain, usd, client, provider, relayer, fund, make_voucher, attest
):
    staking.requestUnbond(staking.providerInfo(provider).free - 30_000 * STAKE, sender=provider)
    fund(client, provider, 10_000 * USD)
    v1, s1 = make_voucher(client, provider, valueAggregate=1_000 * USD)
    metered.collect(v1.args(), s1, sender=provider)
    older = stake_for(1_000 * USD)
    chain.pending_timestamp = metered.stakeLock(provider).currentRelease - 1  # the next window
    v2, s2 = make_voucher(client, provider, valueAggregate=3_000 * USD)
    metered.collect(v2.args(), s2, sender=provider)
    newer = stake_for(2_000 * USD)
    assert (metered.stakeLock(provider).previous, metered.stakeLock(provider).current) == (older, newer)
    collection = metered.collection(client, provider, usd, v1.collectionId)
    assert (collection.fraudPenaltyBps, collection.fraudPayerShareBps) == (FRAUD_PENALTY_BPS, FRAUD_PAYER_SHARE_BPS)
    info = staking.providerInfo(provider)
    penalty = (older + newer + info.free) * FRAUD_PENALTY_BPS // BPS
    assert 0 < penalty < older
    attestation, sigs, _ = attest()
    metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    lock = metered.stakeLock(provider)
    assert (lock.previous, lock.current) == (older - penalty, newer)
    assert staking.providerInfo(provider).locked == older + newer - penalty


def test_fraud__full_penalty__takes_lock_and_free_stake_not_unbonding(
    metered, staking, governance, client, provider, relayer, fund, make_voucher, attest
):
    metered.setFraudTerms(BPS, 0, sender=governance)  # everything that backs the answers
    fund(client, provider)
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)
    metered.collect(v.args(), sig, sender=provider)  # the collection keeps 100% / 0%
    info = staking.providerInfo(provider)
    staking.requestUnbond(info.free // 2, sender=provider)
    info = staking.providerInfo(provider)
    attestation, sigs, _ = attest()
    tx = metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    (slash,) = tx.events.filter(staking.FraudSlashed)
    assert (slash.amount, slash.fromLocked, slash.beneficiaryAmount) == (info.staked, info.locked, 0)
    after = staking.providerInfo(provider)
    assert (after.staked, after.locked, after.unbonding) == (0, 0, info.unbonding)


def test_fraud__collection_keeps_its_terms__governance_change_applies_to_new_collections(
    metered, staking, governance, client, provider, relayer, collected, attest
):
    metered.setFraudTerms(BPS, BPS, sender=governance)
    info = staking.providerInfo(provider)
    attestation, sigs, _ = attest()
    tx = metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    (slash,) = tx.events.filter(staking.FraudSlashed)
    penalty = (collected + info.free) * FRAUD_PENALTY_BPS // BPS
    assert (slash.amount, slash.beneficiaryAmount) == (penalty, penalty * FRAUD_PAYER_SHARE_BPS // BPS)
    # a collection never collected takes today's terms
    fresh, fresh_sigs, _ = attest(collectionId=b"\x0e" * 32)
    info = staking.providerInfo(provider)
    tx = metered.submitFraudAttestation(fresh, fresh_sigs, sender=relayer)
    (slash,) = tx.events.filter(staking.FraudSlashed)
    assert (slash.amount, slash.beneficiaryAmount) == (info.staked - info.locked, info.staked - info.locked)


def test_fraud__job_collateral__never_taken(
    metered, staking, governance, protocol, client, provider, relayer, collected, attest
):
    protocol.accepted_job(client, provider)
    job_collateral = staking.providerInfo(provider).locked - collected
    assert job_collateral > 0
    metered.setFraudTerms(BPS, 0, sender=governance)
    attestation, sigs, _ = attest()
    metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    assert staking.providerInfo(provider).locked == job_collateral


def test_fraud__same_receipt_or_an_earlier_request__receipt_already_punished(
    metered, client, provider, relayer, collected, attest, reverts
):
    attestation, sigs, _ = attest(requestIndex=7)
    metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    for index in (7, 3):
        again, again_sigs, _ = attest(requestIndex=index, recomputed=b"\x77" * 32)
        with reverts(metered.ReceiptAlreadyPunished, collectionId=attestation[0][3], fraudFloor=8, requestIndex=index):
            metered.submitFraudAttestation(again, again_sigs, sender=relayer)
    later, later_sigs, _ = attest(requestIndex=8)  # a later request's receipt is its own evidence
    metered.submitFraudAttestation(later, later_sigs, sender=relayer)
    other, other_sigs, _ = attest(requestIndex=0, collectionId=b"\x05" * 32)  # another collection
    metered.submitFraudAttestation(other, other_sigs, sender=relayer)


def test_fraud__recomputed_answer_matches__response_matches(metered, relayer, collected, attest, reverts):
    attestation, sigs, rdigest = attest(recomputed=RESPONSE_HASH)
    with reverts(metered.ResponseMatches, receiptDigest=rdigest):
        metered.submitFraudAttestation(attestation, sigs, sender=relayer)


@pytest.mark.parametrize("forgery", ["other_key", "field_changed", "malformed"])
def test_fraud__receipt_not_signed_by_its_provider__invalid_receipt_signature(
    metered, chain, provider, other_provider, relayer, collected, attest, reverts, forgery
):
    if forgery == "other_key":
        attestation, sigs, _ = attest(key=other_provider)
        recovered = other_provider.address
    else:
        attestation, sigs, rdigest = attest()
        r = list(attestation[0])
        if forgery == "field_changed":
            # the provider signed units=2; the attestation (and the oracles) name units=1
            signed_other = receipt(*r[:3], units=2)
            bad = sign_receipt(metered, chain.chain_id, signed_other, provider.private_key)
            recovered = recover(rdigest, bad)
        else:
            bad, recovered = b"\x01" * 64, ZERO
        attestation = (attestation[0], bad, *attestation[2:])
    with reverts(metered.InvalidReceiptSignature, provider=provider, recovered=recovered):
        metered.submitFraudAttestation(attestation, sigs, sender=relayer)


def test_fraud__too_few_signatures_stale_config_or_expired__refused(
    metered, hub, chain, governance, relayer, collected, attest, sorted_oracles, reverts
):
    attestation, sigs, _ = attest(signers=sorted_oracles[:1])
    with reverts(hub.InsufficientSignatures, required=2, provided=1):
        metered.submitFraudAttestation(attestation, sigs, sender=relayer)
    old = hub.configVersion()
    hub.setThreshold(2, sender=governance)  # bumps the oracle configuration version
    stale, stale_sigs, _ = attest(version=old)
    with reverts(hub.StaleOracleConfig, current=old + 1, signed=old):
        metered.submitFraudAttestation(stale, stale_sigs, sender=relayer)
    deadline = chain.pending_timestamp + 10
    expired, expired_sigs, _ = attest(deadline=deadline)
    chain.pending_timestamp = deadline + 1
    with reverts(metered.FraudAttestationExpired, deadline=deadline, nowTime=deadline + 1):
        metered.submitFraudAttestation(expired, expired_sigs, sender=relayer)


def test_fraud__signed_by_outsiders_or_for_another_receipt__refused(
    metered, hub, relayer, collected, attest, outsider, sorted_oracles, quorum, reverts
):
    attestation, _, _ = attest()
    digest = metered.fraudAttestationDigest(attestation)
    with reverts(hub.SignerNotOracle, signer=outsider.address):
        metered.submitFraudAttestation(
            attestation,
            quorum.sign(digest, [outsider]) + quorum.sign(digest, sorted_oracles[:1])
            if outsider.address < sorted_oracles[0].address
            else quorum.sign(digest, sorted_oracles[:1]) + quorum.sign(digest, [outsider]),
            sender=relayer,
        )
    # the quorum signed request 7; naming request 9 changes the digest the signatures must cover
    _, sigs, _ = attest()
    r = list(attestation[0])
    r[4] = 9
    with pytest.raises(Exception):  # noqa: B017 - the recovered addresses are arbitrary: any quorum refusal
        metered.submitFraudAttestation((tuple(r), *attestation[1:]), sigs, sender=relayer)


def test_fraud__gas_with_k_of_3__within_budget(
    deployment, hub, governance, staking, chain, client, provider, other_provider, usd, sorted_oracles, quorum, relayer
):
    """Issue 12: a fraud attestation with k = 3 within its budget, on the deployment's own
    MeteredEscrow after a collection locked stake."""
    live = deployment.metered
    usd.mint(client, 100 * USD, sender=client)
    usd.approve(live, 100 * USD, sender=client)
    live.deposit(provider, usd, 100 * USD, sender=client)
    v = voucher(client, provider, usd, valueAggregate=10 * USD)
    live.collect(v.args(), sign_voucher(live, chain.chain_id, v, client.private_key), sender=provider)
    # As in production, an earlier slash left the treasury something to claim in ProviderStaking;
    # the payer's claimable slot starts empty.
    staking.grantRole(staking.SLASHER_ROLE(), governance, sender=governance)
    staking.slash(other_provider, STAKE, ZERO, 0, 0, sender=governance)
    assert staking.claimable(client) == 0
    hub.setThreshold(3, sender=governance)
    r = receipt(client, provider, usd)
    rsig = sign_receipt(live, chain.chain_id, r, provider.private_key)
    deadline, version = chain.pending_timestamp + 3_600, hub.configVersion()
    digest = fraud_digest(live, chain.chain_id, receipt_digest(live, chain.chain_id, r), RIGHT_HASH, deadline, version)
    attestation = (r.args(), rsig, RIGHT_HASH, deadline, version)
    tx = live.submitFraudAttestation(attestation, quorum.sign(digest, sorted_oracles), sender=relayer)
    print(f"fraud attestation k=3: {tx.gas_used} gas")
    assert tx.gas_used <= 130_000
