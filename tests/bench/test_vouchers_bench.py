"""The voucher throughput section of the benchmark at a tiny size: every figure is there and the
README table names both paths. Behaviour only: no timing is asserted."""

from __future__ import annotations

from bench import vouchers
from bench.run import markdown


def test_measure__tiny_run__every_rate_and_ratio_reported():
    result = vouchers.measure(n=5, rounds=2)

    assert result["fast_per_s"] > 0 and result["eth_account_per_s"] > 0 and result["meter_book_per_s"] > 0
    assert len(result["round_ratios"]) == 2 and result["median_ratio"] > 0


def test_markdown__results_with_vouchers__table_in_the_readme_section():
    result = vouchers.measure(n=3, rounds=1)
    table = markdown({"operations": [], "batches": [], "vouchers": result})

    assert "Pay per request (issue 12)" in table
    assert "eth-account: `encode_typed_data`" in table and "`VoucherSigner.sign` + `VoucherDomain.verify`" in table
