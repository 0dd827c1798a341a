"""Pay per request in the benchmark (issue 12): MeteredEscrow's floors (their arithmetic, and at
most the gas a real anvil measures), the gas-per-request computation and its tables, and the
budget of at most 15 gas per request at 10,000 requests per collection. Gas is deterministic;
nothing here asserts a time."""

from __future__ import annotations

import pytest

from bench import costs, metered
from bench.run import Chain, Metered, measure_metered

DATA = bytes(4) + bytes(range(1, 200))  # a selector of zeros, then non-zero bytes


# ───────────────────────────── floors: arithmetic ─────────────────────────────


def _collect(**changes: object) -> costs.Floor:
    args: dict[str, object] = dict(
        collections_fresh=0,
        collections_updated=1,
        accounts=1,
        signer_reads=1,
        provider_fresh=False,
        treasury_fresh=False,
        locked=False,
    )
    args.update(changes)
    return costs.metered_collect(DATA, **args)  # type: ignore[arg-type]


def test_metered_collect_floor__steady__every_term_of_the_model():
    floor = _collect()
    calldata = 4 * costs.G_CALLDATA_ZERO + 199 * costs.G_CALLDATA_NONZERO
    assert floor.total == sum(floor.as_dict().values())
    assert floor.total == (
        costs.G_TX
        + calldata
        + costs.G_ECRECOVER
        + costs.READ  # the hot signer's membership
        + costs.UPDATE  # the collection's collected + fee snapshot
        + costs.UPDATE  # the account's balance + thawing
        + costs.READ  # treasury + fee
        + costs.UPDATE  # the provider's claimable
        + costs.UPDATE  # the treasury's claimable
    )


def test_metered_collect_floor__flags__each_adds_exactly_its_slot():
    steady = _collect().total
    assert _collect(collections_fresh=1, collections_updated=0).total - steady == costs.FRESH - costs.UPDATE
    assert _collect(provider_fresh=True).total - steady == costs.FRESH - costs.UPDATE
    assert _collect(treasury_fresh=True).total - steady == costs.FRESH - costs.UPDATE
    assert steady - _collect(treasury_fresh=None).total == costs.UPDATE  # no fee, no treasury credit
    assert steady - _collect(signer_reads=0).total == costs.READ  # signed by the payer's own key


def test_metered_collect_floor__stake_lock__one_call_and_the_provider_stake_word():
    locked = _collect(locked=True)
    assert locked.total - _collect().total == costs.CALL + costs.UPDATE
    assert {"call staking (stake lock)", "provider stake word (locked)"} <= set(locked.as_dict())


def test_metered_collect_floor__many__per_voucher_and_per_payer_terms_scale():
    one = _collect(collections_fresh=1, collections_updated=0, accounts=1, signer_reads=0)
    fifty = _collect(collections_fresh=50, collections_updated=0, accounts=5, signer_reads=0)
    assert fifty.total - one.total == 49 * (costs.G_ECRECOVER + costs.FRESH) + 4 * costs.UPDATE


def test_metered_deposit_floor__new_account_costs_a_fresh_slot_more():
    args = dict(payer_emptied=False, escrow_fresh=False, allowance=None)
    top_up = costs.metered_deposit(DATA, account_fresh=False, **args)  # type: ignore[arg-type]
    new = costs.metered_deposit(DATA, account_fresh=True, **args)  # type: ignore[arg-type]
    assert new.total - top_up.total == costs.FRESH - costs.UPDATE
    assert top_up.total == (
        costs.G_TX
        + costs.calldata_gas(DATA)
        + costs.UPDATE  # balance
        + costs.READ  # allowlist
        + costs.CALL
        + 2 * costs.UPDATE  # the token's two balances
        + costs.TRANSFER_EVENT
    )


# ───────────────────────────── per request: arithmetic ─────────────────────────────

PER_JOB = {
    "unbatched": {"jobs": 1, "parts": {"createJobs": 120_000, "accept": 50_000, "attest": 60_000, "settle": 120_000}},
    "batched": {"jobs": 100, "parts": {"createJobs": 7_000_000, "accept": 5_000_000, "attest": 3_000_000}},
}


def _collections(collect_gas: int) -> list[dict[str, int]]:
    return [
        {
            "requests": r,
            "collect_gas": collect_gas,
            "later_collect_gas": 60_000,
            "deposit_gas": 50_000,
            "collect_many_gas": 2_000_000,
            "collect_many_vouchers": 50,
        }
        for r in metered.SIZES
    ]


def test_per_request__divides_the_collection_gas_by_its_requests():
    assert metered.per_request(80_000, 10_000) == 8.0
    assert metered.per_request(80_000, 1) == 80_000
    with pytest.raises(ValueError):
        metered.per_request(80_000, 0)


def test_summarize__every_figure_from_the_measured_gas():
    result = metered.summarize(_collections(80_000), PER_JOB, eth_usd=2_000)
    assert result["per_job"]["unbatched"]["gas_per_request"] == 350_000
    assert result["per_job"]["batched"]["gas_per_request"] == 150_000
    row = {r["requests"]: r for r in result["collections"]}[10_000]
    assert row["gas_per_request"] == {
        "collect": 8.0,
        "collect_with_deposit": 13.0,
        "later_collect": 6.0,
        "collect_many": 4.0,  # 2,000,000 / 50 vouchers / 10,000 requests
    }
    assert row["ratio_vs_job"] == {"unbatched": 350_000 / 8.0, "batched": 150_000 / 8.0}
    assert result["target"] == {"requests": 10_000, "max_gas_per_request": 15, "measured": 8.0, "pass": True}
    assert result["prices"] == {"l2_gwei": 0.01, "l1_gwei": 10.0, "eth_usd": 2_000}


def test_summarize__over_the_target__fails():
    result = metered.summarize(_collections(160_000), PER_JOB)
    assert result["target"]["measured"] == 16.0 and result["target"]["pass"] is False
    assert "**FAIL**" in metered.markdown(result)


def test_cost__gas_times_price_in_gwei_eth_and_usd():
    c = metered.cost(15, 0.01, eth_usd=3_000)
    assert c["gwei"] == pytest.approx(0.15)
    assert c["eth"] == pytest.approx(1.5e-10)
    assert c["usd"] == pytest.approx(4.5e-7)
    assert metered.cost(15, 10)["gwei"] == pytest.approx(150)


def test_markdown__both_tables_with_the_price_assumption():
    text = metered.markdown(metered.summarize(_collections(80_000), PER_JOB, eth_usd=2_000))
    assert "| Requests per collection | Metered: collect |" in text
    assert "| 10,000 | 8 | 13 | 4 | 6 | 350,000 | 150,000 | 18,750x |" in text
    assert "**PASS**" in text
    assert "Cost per request on an L2 at 0.01 gwei vs Ethereum at 10 gwei" in text
    assert "assumed ETH price of $2,000" in text
    # 350,000 gas one by one: 3,500 gwei ($0.007 at $2,000) on the L2, 3,500,000 gwei ($7) on Ethereum
    assert "| per job, one by one | 350,000 | 3,500 | 0.007 | 3,500,000 | 7.00 |" in text


# ───────────────────────────── measured on anvil ─────────────────────────────


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    chain = Chain(tmp_path_factory.mktemp("metered-bench"))
    try:
        rows, collections = measure_metered(chain)
        yield chain, rows, collections
    finally:
        chain.stop()


def test_measured__every_metered_operation_at_least_its_floor(measured):
    _, rows, _ = measured
    assert [r.name for r in rows] == [
        "MeteredEscrow.deposit (new account)",
        "MeteredEscrow.deposit (top-up)",
        "collect (provider's first)",
        "collect (steady)",
        "collect (new collection)",
        "collectMany, 50 vouchers",
    ]
    for row in rows:
        assert costs.G_TX < row.floor.total <= row.gas, (row.name, row.gas, row.floor.as_dict())
        assert row.floor.total == sum(row.floor.as_dict().values())
    # The scenarios differ by the slots the model says they do (calldata aside: signatures and
    # timestamps differ in their zero bytes).
    state = {r.name: r.floor.total - r.floor.as_dict()["calldata"] for r in rows}
    assert state["collect (provider's first)"] - state["collect (new collection)"] == costs.FRESH - costs.UPDATE
    assert state["collect (new collection)"] - state["collect (steady)"] == costs.FRESH - costs.UPDATE
    assert state["MeteredEscrow.deposit (new account)"] - state["MeteredEscrow.deposit (top-up)"] == (
        costs.FRESH - costs.UPDATE
    )
    by = {r.name: r for r in rows}
    assert by["collectMany, 50 vouchers"].size == 50


def test_measured__per_request_sizes_with_the_per_job_path(measured):
    _, _, collections = measured
    assert [c["requests"] for c in collections] == list(metered.SIZES)
    for c in collections:
        assert c["collect_gas"] > c["later_collect_gas"] > costs.G_TX  # a new collection's slot costs more
        assert c["deposit_gas"] > costs.G_TX and c["collect_many_vouchers"] == 50
        assert c["collect_many_gas"] / 50 < c["collect_gas"]


def test_gas_budget__at_most_15_gas_per_request_at_10000_requests_per_collection(measured):
    """Issue 12's target, from a real collect of a voucher for 10,000 requests (a new collection,
    the costlier case: later collects of the same collection are cheaper)."""
    _, _, collections = measured
    at = {c["requests"]: c for c in collections}[10_000]
    gas_per_request = metered.per_request(at["collect_gas"], 10_000)
    print(f"gas per request at 10,000: {gas_per_request:.2f} (collect {at['collect_gas']:,})")
    assert gas_per_request <= metered.TARGET_GAS_PER_REQUEST


def test_called__the_call_tracer_sees_the_token_not_staking(measured):
    chain, _, _ = measured
    m = Metered(chain)
    payer = m.payer("tracer-payer")
    sent, _ = m.deposit(payer, chain.provider("tracer-provider").address, 1_000)
    assert m.called(sent.tx_hash, chain.usd.address)  # the deposit pulls the token
    assert not m.called(sent.tx_hash, m.staking)
