"""The SDK's fast voucher path (computerails.vouchers) and the contract agree byte for byte: the
same digest, and a Meter's signatures collect on chain."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computerails.vouchers import Meter, Voucher, VoucherDomain, VoucherSigner
from tests.support.metered import USD

WORD = st.binary(min_size=32, max_size=32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cid=WORD,
    value=st.integers(0, 2**128 - 1),
    count=st.integers(0, 2**64 - 1),
    timestamp=st.integers(0, 2**64 - 1),
    metadata=WORD,
)
def test_voucher_digest__any_fields__sdk_equals_contract(
    metered, chain, usd, client, provider, cid, value, count, timestamp, metadata
):
    voucher = Voucher(
        payer=client.address,
        provider=provider.address,
        token=usd.address,
        collection_id=cid,
        value_aggregate=value,
        request_count=count,
        timestamp=timestamp,
        metadata=metadata,
    )
    domain = VoucherDomain(chain.chain_id, metered.address)

    assert domain.digest(voucher) == bytes(metered.voucherDigest(voucher.as_tuple()))


def test_meter__vouchers_signed_by_the_sdk__collect_on_chain(
    metered, chain, usd, client, provider, funded, authorize, hot_key
):
    authorize(client, hot_key)
    domain = VoucherDomain(chain.chain_id, metered.address)
    meter = Meter(
        VoucherSigner(domain, hot_key.private_key),
        payer=client.address,
        provider=provider.address,
        token=usd.address,
        budget=50 * USD,
    )
    for _ in range(3):
        voucher, signature = meter.next(2 * USD)

    metered.collect(voucher.as_tuple(), signature, sender=provider)

    assert metered.collection(client, provider, usd, voucher.collection_id).collected == 6 * USD
    assert metered.account(client, provider, usd).balance == 94 * USD
