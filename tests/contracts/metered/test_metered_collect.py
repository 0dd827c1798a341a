"""MeteredEscrow.collect: the voucher's digest, payment, partial collection, fee snapshot,
replays across every signed field, forged and malleable signatures."""

import pytest
from eth_account import Account
from eth_utils import keccak

from computerails.vouchers import VOUCHER_TYPE
from tests.support.escrow import events
from tests.support.metered import (
    FEE_BPS,
    OTHER_CID,
    USD,
    deploy_metered,
    sign_voucher,
    voucher,
    voucher_digest,
)
from tests.support.reverts import reverts
from tests.support.signatures import high_s_twin


def net(gross, fee_bps=FEE_BPS):
    return gross - gross * fee_bps // 10_000


def recovered(metered, chain_id, v, signature):
    return Account._recover_hash(voucher_digest(metered, chain_id, v), signature=signature)


# ─────────────────────────────── the signed type ───────────────────────────────


def test_voucher_typehash__is_the_published_type(metered):
    assert bytes(metered.VOUCHER_TYPEHASH()) == keccak(text=VOUCHER_TYPE)


def test_voucher_digest__matches_eth_account_typed_data(metered, chain, client, provider, usd):
    v = voucher(client, provider, usd, valueAggregate=2**128 - 1, requestCount=2**64 - 1, timestamp=2**64 - 1)
    assert bytes(metered.voucherDigest(v.args())) == voucher_digest(metered, chain.chain_id, v)


def test_domain__name_version_chain_and_contract(metered, chain):
    domain = metered.eip712Domain()
    assert (domain[1], domain[2], domain[3], domain[4]) == (
        "ComputeRails MeteredEscrow",
        "1",
        chain.chain_id,
        metered.address,
    )


# ─────────────────────────────── payment ───────────────────────────────


def test_collect__pays_provider_net_and_treasury_fee(metered, usd, client, provider, treasury, funded, make_voucher):
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)

    receipt = metered.collect(v.args(), sig, sender=provider)

    fee = 10 * USD * FEE_BPS // 10_000
    assert events(receipt, metered.VoucherCollected) == [
        {
            "payer": client.address,
            "provider": provider.address,
            "collectionId": v.collectionId,
            "token": usd.address,
            "signer": client.address,
            "gross": 10 * USD,
            "providerNet": 10 * USD - fee,
            "fee": fee,
            "collected": 10 * USD,
            "outstanding": 0,
            "requestCount": v.requestCount,
        }
    ]
    assert metered.claimable(provider, usd) == 10 * USD - fee
    assert metered.claimable(treasury, usd) == fee
    assert metered.account(client, provider, usd).balance == 90 * USD
    assert metered.collection(client, provider, usd, v.collectionId).collected == 10 * USD
    assert usd.balanceOf(metered) == 100 * USD


def test_collect__next_voucher__pays_only_the_difference(metered, usd, client, provider, funded, make_voucher):
    v1, s1 = make_voucher(client, provider, valueAggregate=3 * USD, requestCount=30)
    v2, s2 = make_voucher(client, provider, valueAggregate=7 * USD, requestCount=70)
    metered.collect(v1.args(), s1, sender=provider)

    receipt = metered.collect(v2.args(), s2, sender=provider)

    assert [e["gross"] for e in events(receipt, metered.VoucherCollected)] == [4 * USD]
    assert metered.claimable(provider, usd) == net(3 * USD) + net(4 * USD)
    assert metered.account(client, provider, usd).balance == 93 * USD


def test_collect__then_claim__provider_receives_tokens(metered, usd, client, provider, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider)
    metered.collect(v.args(), sig, sender=provider)

    receipt = metered.claim(usd, sender=provider)

    assert events(receipt, metered.Claimed) == [
        {"account": provider.address, "token": usd.address, "amount": net(v.valueAggregate)}
    ]
    assert usd.balanceOf(provider) == net(v.valueAggregate)
    with reverts(metered.NothingToWithdraw, account=provider, token=usd):
        metered.claim(usd, sender=provider)


def test_collect__while_paused__still_pays(metered, usd, client, provider, governance, funded, make_voucher):
    v, sig = make_voucher(client, provider)
    metered.pause(sender=governance)
    metered.collect(v.args(), sig, sender=provider)
    assert metered.claimable(provider, usd) == net(v.valueAggregate)


def test_collect__two_collections_of_one_account__tracked_apart(metered, usd, client, provider, funded, make_voucher):
    a, sa = make_voucher(client, provider, valueAggregate=5 * USD)
    b, sb = make_voucher(client, provider, collectionId=OTHER_CID, valueAggregate=5 * USD)
    metered.collect(a.args(), sa, sender=provider)
    metered.collect(b.args(), sb, sender=provider)
    assert metered.account(client, provider, usd).balance == 90 * USD


# ─────────────────────────────── partial collection ───────────────────────────────


def test_collect__voucher_above_balance__partial_then_rest_after_top_up(
    metered, usd, client, provider, fund, make_voucher
):
    fund(client, provider, 4 * USD)
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)

    first = metered.collect(v.args(), sig, sender=provider)
    assert [(e["gross"], e["collected"], e["outstanding"]) for e in events(first, metered.VoucherCollected)] == [
        (4 * USD, 4 * USD, 6 * USD)
    ]
    assert metered.account(client, provider, usd).balance == 0
    with reverts(metered.EmptyEscrowAccount, payer=client, provider=provider, token=usd):
        metered.collect(v.args(), sig, sender=provider)

    fund(client, provider, 20 * USD)
    second = metered.collect(v.args(), sig, sender=provider)

    assert [(e["gross"], e["collected"], e["outstanding"]) for e in events(second, metered.VoucherCollected)] == [
        (6 * USD, 10 * USD, 0)
    ]
    assert metered.account(client, provider, usd).balance == 14 * USD
    with reverts(metered.StaleVoucher, collectionId=v.collectionId, collected=10 * USD, valueAggregate=10 * USD):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__empty_account__named_error(metered, usd, client, provider, make_voucher, reverts):
    v, sig = make_voucher(client, provider)
    with reverts(metered.EmptyEscrowAccount, payer=client, provider=provider, token=usd):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__other_token_account_empty__named_error(
    metered, project, governance, client, provider, funded, make_voucher, reverts
):
    other = project.MockUSD.deploy(sender=governance)
    v, sig = make_voucher(client, provider, token=other)
    with reverts(metered.EmptyEscrowAccount, payer=client, provider=provider, token=other):
        metered.collect(v.args(), sig, sender=provider)


# ─────────────────────────────── fee snapshot ───────────────────────────────


def test_collect__fee_fixed_at_first_collection_of_a_collection(
    metered, usd, client, provider, treasury, governance, funded, make_voucher
):
    v1, s1 = make_voucher(client, provider, valueAggregate=10 * USD)
    metered.collect(v1.args(), s1, sender=provider)
    metered.setFee(1_000, sender=governance)

    v2, s2 = make_voucher(client, provider, valueAggregate=20 * USD)
    metered.collect(v2.args(), s2, sender=provider)
    fresh, sf = make_voucher(client, provider, collectionId=OTHER_CID, valueAggregate=10 * USD)
    metered.collect(fresh.args(), sf, sender=provider)

    assert metered.collection(client, provider, usd, v1.collectionId).feeBps == FEE_BPS
    assert metered.collection(client, provider, usd, OTHER_CID).feeBps == 1_000
    assert metered.claimable(treasury, usd) == 20 * USD * FEE_BPS // 10_000 + 10 * USD // 10


def test_collect__zero_fee__treasury_credited_nothing(
    metered, usd, client, provider, treasury, governance, funded, make_voucher
):
    metered.setFee(0, sender=governance)
    v, sig = make_voucher(client, provider)
    metered.collect(v.args(), sig, sender=provider)
    assert metered.claimable(treasury, usd) == 0
    assert metered.claimable(provider, usd) == v.valueAggregate


# ─────────────────────────────── refusals ───────────────────────────────


def test_collect__replayed_voucher__stale(metered, client, provider, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider)
    metered.collect(v.args(), sig, sender=provider)
    with reverts(
        metered.StaleVoucher, collectionId=v.collectionId, collected=v.valueAggregate, valueAggregate=v.valueAggregate
    ):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__older_voucher_after_newer__stale(metered, client, provider, funded, make_voucher, reverts):
    old, so = make_voucher(client, provider, valueAggregate=3 * USD)
    new, sn = make_voucher(client, provider, valueAggregate=5 * USD)
    metered.collect(new.args(), sn, sender=provider)
    with reverts(metered.StaleVoucher, collectionId=old.collectionId, collected=5 * USD, valueAggregate=3 * USD):
        metered.collect(old.args(), so, sender=provider)


def test_collect__zero_value_voucher__stale(metered, client, provider, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider, valueAggregate=0)
    with reverts(metered.StaleVoucher, collectionId=v.collectionId, collected=0, valueAggregate=0):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__not_the_provider__refused(metered, client, provider, attacker, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider)
    with reverts(metered.NotVoucherProvider, expected=provider, caller=attacker):
        metered.collect(v.args(), sig, sender=attacker)


@pytest.mark.parametrize(
    "field",
    ["payer", "provider", "token", "collectionId", "valueAggregate", "requestCount", "timestamp", "metadata"],
)
def test_collect__any_signed_field_changed__signature_no_longer_the_payers(
    metered,
    chain,
    usd,
    client,
    other_client,
    provider,
    other_provider,
    fund,
    make_voucher,
    reverts,
    project,
    governance,
    field,
):
    fund(client, provider)
    v, sig = make_voucher(client, provider)
    other_token = project.MockUSD.deploy(sender=governance)
    changed = {
        "payer": other_client.address,
        "provider": other_provider.address,
        "token": other_token.address,
        "collectionId": OTHER_CID,
        "valueAggregate": v.valueAggregate + 1,
        "requestCount": v.requestCount + 1,
        "timestamp": v.timestamp + 1,
        "metadata": b"\x44" * 32,
    }
    forged = v.but(**{field: changed[field]})
    caller = other_provider if field == "provider" else provider
    with reverts(
        metered.SignerNotAuthorized, payer=forged.payer, signer=recovered(metered, chain.chain_id, forged, sig)
    ):
        metered.collect(forged.args(), sig, sender=caller)


def test_collect__signed_for_another_chain__refused(metered, chain, usd, client, provider, funded, reverts):
    v = voucher(client, provider, usd)
    sig = sign_voucher(metered, chain.chain_id + 1, v, client.private_key)
    with reverts(metered.SignerNotAuthorized, payer=client, signer=recovered(metered, chain.chain_id, v, sig)):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__signed_for_another_contract__refused(
    metered, project, chain, usd, client, provider, governance, treasury, staking, hub, funded, reverts
):
    twin = deploy_metered(project, governance, treasury, staking, hub)
    v = voucher(client, provider, usd)
    sig = sign_voucher(twin, chain.chain_id, v, client.private_key)
    with reverts(metered.SignerNotAuthorized, payer=client, signer=recovered(metered, chain.chain_id, v, sig)):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__forged_by_attacker__refused(metered, client, provider, attacker, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider, key=attacker)
    with reverts(metered.SignerNotAuthorized, payer=client, signer=attacker):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__signer_of_another_payer__refused(
    metered, client, other_client, provider, hot_key, funded, authorize, make_voucher, reverts
):
    authorize(other_client, hot_key)
    v, sig = make_voucher(client, provider, key=hot_key)
    with reverts(metered.SignerNotAuthorized, payer=client, signer=hot_key.address):
        metered.collect(v.args(), sig, sender=provider)


def test_collect__high_s_twin__refused(metered, client, provider, funded, make_voucher, reverts):
    v, sig = make_voucher(client, provider)
    with reverts(metered.InvalidVoucherSignature):
        metered.collect(v.args(), high_s_twin(sig), sender=provider)
    metered.collect(v.args(), sig, sender=provider)  # the canonical one still pays


@pytest.mark.parametrize("length", [0, 64, 66])
def test_collect__signature_of_wrong_length__refused(metered, client, provider, funded, make_voucher, reverts, length):
    v, sig = make_voucher(client, provider)
    with reverts(metered.InvalidVoucherSignature):
        metered.collect(v.args(), (sig + b"\x00")[:length], sender=provider)
