"""MeteredEscrow.collectMany: pays what it can, skips the rest with the exact revert data."""

from tests.support.escrow import events
from tests.support.metered import OTHER_CID, USD
from tests.support.reverts import error_data, reverts, selector


def test_collect_many__many_payers__skips_bad_items_with_reason(
    metered, usd, client, other_client, provider, other_provider, attacker, fund, make_voucher
):
    fund(client, provider)
    fund(other_client, provider)
    good_a, sa = make_voucher(client, provider, valueAggregate=10 * USD)
    good_b, sb = make_voucher(other_client, provider, valueAggregate=20 * USD)
    stale, ss = good_a, sa
    forged, sf = make_voucher(client, provider, key=attacker, collectionId=OTHER_CID)
    foreign, so = make_voucher(client, other_provider)

    receipt = metered.collectMany(
        [v.args() for v in (good_a, good_b, stale, forged, foreign)], [sa, sb, ss, sf, so], sender=provider
    )

    assert [e["gross"] for e in events(receipt, metered.VoucherCollected)] == [10 * USD, 20 * USD]
    skipped = events(receipt, metered.VoucherSkipped)
    assert [(e["index"], bytes(e["reason"])) for e in skipped] == [
        (
            2,
            error_data(
                metered.StaleVoucher, collectionId=stale.collectionId, collected=10 * USD, valueAggregate=10 * USD
            ),
        ),
        (3, error_data(metered.SignerNotAuthorized, payer=client, signer=attacker)),
        (4, error_data(metered.NotVoucherProvider, expected=other_provider, caller=provider)),
    ]
    assert bytes(skipped[0]["reason"])[:4] == selector(metered.StaleVoucher)
    assert metered.account(client, provider, usd).balance == 90 * USD
    assert metered.account(other_client, provider, usd).balance == 80 * USD


def test_collect_many__empty_account_skipped(metered, client, provider, make_voucher, usd):
    v, sig = make_voucher(client, provider)
    receipt = metered.collectMany([v.args()], [sig], sender=provider)
    assert [bytes(e["reason"]) for e in events(receipt, metered.VoucherSkipped)] == [
        error_data(metered.EmptyEscrowAccount, payer=client, provider=provider, token=usd)
    ]


def test_collect_many__empty__refused(metered, provider):
    with reverts(metered.EmptyBatch):
        metered.collectMany([], [], sender=provider)


def test_collect_many__lengths_differ__refused(metered, client, provider, make_voucher):
    v, sig = make_voucher(client, provider)
    with reverts(metered.VoucherBatchLengthMismatch, vouchers=2, signatures=1):
        metered.collectMany([v.args(), v.args()], [sig], sender=provider)
