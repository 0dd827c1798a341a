"""MeteredEscrow signers: consent proofs bound to chain, contract, payer and deadline; thawed
revocation; vouchers signed before revocation pay until it is final, and nothing after."""

import pytest
from eth_account import Account

from tests.support.escrow import events
from tests.support.metered import SIGNER_THAW_PERIOD, deploy_metered, domain, sign_proof
from tests.support.reverts import reverts

ZERO = "0x" + "00" * 20


def proof_signer(contract, chain_id, payer, signer, deadline, proof):
    """Who signed `proof` over SignerProof(payer, signer, deadline) in `contract`'s domain."""
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    from tests.support.metered import PROOF_FIELDS

    msg = encode_typed_data(
        domain(contract, chain_id),
        {"SignerProof": PROOF_FIELDS},
        {"payer": payer.address, "signer": signer, "deadline": deadline},
    )
    return Account._recover_hash(_hash_eip191_message(msg), signature=proof)


def test_authorize__with_proof__signer_signs_for_payer(
    metered, usd, client, provider, hot_key, funded, authorize, make_voucher
):
    receipt = authorize(client, hot_key)
    assert events(receipt, metered.SignerAuthorized) == [{"payer": client.address, "signer": hot_key.address}]
    assert metered.isAuthorizedSigner(client, hot_key.address)
    assert metered.signerInfo(hot_key.address) == (client.address, 0, False)

    v, sig = make_voucher(client, provider, key=hot_key)
    receipt = metered.collect(v.args(), sig, sender=provider)
    assert [e["signer"] for e in events(receipt, metered.VoucherCollected)] == [hot_key.address]


def test_authorize__digest_view_matches_eth_account(metered, chain, client, hot_key):
    deadline = 2_000_000_000
    proof = sign_proof(metered, chain.chain_id, client, hot_key.private_key, deadline)
    digest = bytes(metered.signerProofDigest(client, hot_key.address, deadline))
    assert Account._recover_hash(digest, signature=proof) == hot_key.address


def test_authorize__at_deadline__accepted__after__expired(metered, chain, client, hot_key):
    deadline = chain.pending_timestamp + 100
    proof = sign_proof(metered, chain.chain_id, client, hot_key.private_key, deadline)
    chain.pending_timestamp = deadline + 1
    with reverts(metered.SignerProofExpired, deadline=deadline, nowTime=deadline + 1):
        metered.authorizeSigner(hot_key.address, deadline, proof, sender=client)
    deadline = chain.pending_timestamp + 100
    proof = sign_proof(metered, chain.chain_id, client, hot_key.private_key, deadline)
    chain.pending_timestamp = deadline
    metered.authorizeSigner(hot_key.address, deadline, proof, sender=client)


def test_authorize__zero_signer__refused(metered, client):
    with reverts(metered.ZeroAddress):
        metered.authorizeSigner(ZERO, 2**40, b"", sender=client)


def test_authorize__while_paused__refused(metered, chain, governance, client, hot_key):
    metered.pause(sender=governance)
    deadline = chain.pending_timestamp + 100
    proof = sign_proof(metered, chain.chain_id, client, hot_key.private_key, deadline)
    with reverts(metered.EnforcedPause):
        metered.authorizeSigner(hot_key.address, deadline, proof, sender=client)


@pytest.mark.parametrize("replay", ["other_payer", "other_chain", "other_contract", "other_deadline", "other_key"])
def test_authorize__proof_replayed_elsewhere__refused(
    metered, project, chain, governance, treasury, staking, hub, client, other_client, hot_key, other_hot_key, replay
):
    deadline = chain.pending_timestamp + 3_600
    contract, chain_id, payer, key, submitted_deadline = metered, chain.chain_id, client, hot_key, deadline
    if replay == "other_chain":
        chain_id += 1
    elif replay == "other_contract":
        contract = deploy_metered(project, governance, treasury, staking, hub)
    elif replay == "other_deadline":
        submitted_deadline = deadline + 1
    elif replay == "other_key":
        key = other_hot_key
    proof = sign_proof(contract, chain_id, client, key.private_key, deadline, signer=hot_key.address)
    sender = other_client if replay == "other_payer" else payer
    signed_by = proof_signer(metered, chain.chain_id, sender, hot_key.address, submitted_deadline, proof)
    assert signed_by != hot_key.address
    with reverts(metered.InvalidSignerProof, signer=hot_key.address, recovered=signed_by):
        metered.authorizeSigner(hot_key.address, submitted_deadline, proof, sender=sender)


def test_authorize__malformed_proof__recovered_zero(metered, chain, client, hot_key):
    with reverts(metered.InvalidSignerProof, signer=hot_key.address, recovered=ZERO):
        metered.authorizeSigner(hot_key.address, chain.pending_timestamp + 10, b"\x01" * 64, sender=client)


def test_authorize__key_already_serves_a_payer__refused_for_life(
    metered, chain, client, other_client, hot_key, authorize
):
    authorize(client, hot_key)
    deadline = chain.pending_timestamp + 100
    proof = sign_proof(metered, chain.chain_id, other_client, hot_key.private_key, deadline)
    with reverts(metered.SignerAlreadyAuthorized, signer=hot_key.address, payer=client):
        metered.authorizeSigner(hot_key.address, deadline, proof, sender=other_client)
    # Revoked keys stay bound: re-authorizing could make old vouchers pay again.
    metered.thawSigner(hot_key.address, sender=client)
    chain.pending_timestamp += SIGNER_THAW_PERIOD
    metered.revokeSigner(hot_key.address, sender=client)
    proof = sign_proof(metered, chain.chain_id, client, hot_key.private_key, chain.pending_timestamp + 100)
    with reverts(metered.SignerAlreadyAuthorized, signer=hot_key.address, payer=client):
        metered.authorizeSigner(hot_key.address, chain.pending_timestamp + 100, proof, sender=client)


def test_thaw_signer__not_its_payer__refused(metered, client, attacker, hot_key, authorize):
    authorize(client, hot_key)
    with reverts(metered.NotSignerPayer, signer=hot_key.address, expected=client, caller=attacker):
        metered.thawSigner(hot_key.address, sender=attacker)
    with reverts(metered.NotSignerPayer, signer=hot_key.address, expected=client, caller=attacker):
        metered.revokeSigner(hot_key.address, sender=attacker)


def test_revoke__needs_thaw_then_period(metered, chain, client, hot_key, authorize):
    authorize(client, hot_key)
    with reverts(metered.SignerNotThawing, signer=hot_key.address):
        metered.revokeSigner(hot_key.address, sender=client)
    receipt = metered.thawSigner(hot_key.address, sender=client)
    end = receipt.timestamp + SIGNER_THAW_PERIOD
    assert events(receipt, metered.SignerThawStarted) == [
        {"payer": client.address, "signer": hot_key.address, "thawEnd": end}
    ]
    chain.pending_timestamp = end - 1
    with reverts(metered.SignerThawNotElapsed, thawEnd=end, nowTime=end - 1):
        metered.revokeSigner(hot_key.address, sender=client)
    chain.pending_timestamp = end
    receipt = metered.revokeSigner(hot_key.address, sender=client)
    assert events(receipt, metered.SignerRevoked) == [{"payer": client.address, "signer": hot_key.address}]
    assert not metered.isAuthorizedSigner(client, hot_key.address)
    with reverts(metered.SignerAlreadyRevoked, signer=hot_key.address):
        metered.thawSigner(hot_key.address, sender=client)


def test_cancel_signer_thaw__signer_stays(metered, chain, client, hot_key, authorize):
    authorize(client, hot_key)
    with reverts(metered.SignerNotThawing, signer=hot_key.address):
        metered.cancelSignerThaw(hot_key.address, sender=client)
    metered.thawSigner(hot_key.address, sender=client)
    receipt = metered.cancelSignerThaw(hot_key.address, sender=client)
    assert events(receipt, metered.SignerThawCancelled) == [{"payer": client.address, "signer": hot_key.address}]
    chain.pending_timestamp += SIGNER_THAW_PERIOD
    with reverts(metered.SignerNotThawing, signer=hot_key.address):
        metered.revokeSigner(hot_key.address, sender=client)


def test_voucher_signed_before_revocation__pays_during_thaw__nothing_after(
    metered, chain, usd, client, provider, hot_key, funded, authorize, make_voucher
):
    authorize(client, hot_key)
    early, se = make_voucher(client, provider, key=hot_key, valueAggregate=5 * 10**6)
    late, sl = make_voucher(client, provider, key=hot_key, valueAggregate=9 * 10**6)
    end = metered.thawSigner(hot_key.address, sender=client).timestamp + SIGNER_THAW_PERIOD

    chain.pending_timestamp = end - 1  # the provider collects in the last second of the thaw
    metered.collect(early.args(), se, sender=provider)
    chain.pending_timestamp = end
    metered.revokeSigner(hot_key.address, sender=client)

    with reverts(metered.SignerRevokedForPayer, payer=client, signer=hot_key.address):
        metered.collect(late.args(), sl, sender=provider)
    assert metered.collection(client, provider, usd, early.collectionId).collected == 5 * 10**6


def test_payer_key_always_signs_for_itself(metered, client, other_client):
    assert metered.isAuthorizedSigner(client, client.address)
    assert not metered.isAuthorizedSigner(client, other_client.address)
    assert not metered.isAuthorizedSigner(ZERO, ZERO)
