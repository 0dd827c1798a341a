"""The calculator's split of one epoch's emission (computerails.rewards.allocation): the two
pools, the wash cap, exclusions, rounding, and independence from the order of the facts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from computerails.rewards.allocation import CalculatorParams, ProviderEpoch, allocate

STAKE = 10**18
USD = 10**6
# half and half, usage capped at 80% of fees, one payment token (6 decimals) worth one reward token (18)
PARAMS = CalculatorParams("0x" + "ab" * 20, 5_000, 8_000, 7_200, 10**30)
A, B, C = ("0x" + c * 40 for c in "abc")


def test_allocate__two_providers__pools_split_by_stake_uptime_and_fees():
    providers = [
        ProviderEpoch(A, capacity=300 * STAKE, uptime_bps=10_000, fees=3_000 * USD),
        ProviderEpoch(B, capacity=100 * STAKE, uptime_bps=5_000, fees=1_000 * USD),
    ]
    out = allocate(7, 1_000 * STAKE, 4_000 * USD, providers, PARAMS)

    shares = {s.provider: s for s in out.shares}
    # availability 500: weights 300·1 : 100·0.5 = 6 : 1
    assert shares[A].availability == 500 * STAKE * 6 // 7
    assert shares[B].availability == 500 * STAKE * 1 // 7
    # usage 500: 3 : 1, below the caps (2,400 and 800 reward tokens)
    assert (shares[A].usage, shares[B].usage) == (375 * STAKE, 125 * STAKE)
    assert not shares[A].capped and not shares[B].capped
    assert out.epoch == 7 and out.fees == 4_000 * USD
    assert out.allocated + out.unallocated == out.emission
    assert 0 <= out.unallocated < len(providers) * 2  # floors only


def test_allocate__small_fees__usage_capped_below_fees_rest_unallocated():
    providers = [ProviderEpoch(A, capacity=STAKE, uptime_bps=10_000, fees=10 * USD)]

    out = allocate(0, 1_000 * STAKE, 10 * USD, providers, PARAMS)

    (share,) = out.shares
    assert share.capped and share.usage == 8 * STAKE  # 80% of 10 payment tokens, in reward tokens
    assert share.usage < PARAMS.fee_value(10 * USD)
    assert share.availability == 500 * STAKE
    assert out.unallocated == 492 * STAKE  # stays in the reserve


@pytest.mark.parametrize("reason", ["jailed", "slashed", "left"])
def test_allocate__excluded_provider__earns_nothing_and_its_share_is_not_handed_out(reason):
    providers = [
        ProviderEpoch(A, capacity=100 * STAKE, uptime_bps=10_000, fees=1_000 * USD),
        ProviderEpoch(B, capacity=100 * STAKE, uptime_bps=10_000, fees=1_000 * USD, excluded=reason),
    ]

    out = allocate(3, 1_000 * STAKE, 2_000 * USD, providers, PARAMS)

    assert [s.provider for s in out.shares] == [A]
    # A's pools are not diluted by B, and not enlarged by B's share either
    assert out.shares[0].availability == 500 * STAKE
    assert out.shares[0].usage == 500 * STAKE


def test_allocate__nobody_eligible__all_unallocated():
    out = allocate(0, 1_000 * STAKE, 0, [ProviderEpoch(A, 0, 10_000, 0)], PARAMS)
    assert out.shares == () and out.unallocated == 1_000 * STAKE


def test_allocate__uptime_out_of_range__clamped():
    providers = [ProviderEpoch(A, STAKE, 20_000, 0), ProviderEpoch(B, STAKE, -5, 0), ProviderEpoch(C, STAKE, 10_000, 0)]
    out = allocate(0, 1_000 * STAKE, 0, providers, PARAMS)
    shares = {s.provider: s.availability for s in out.shares}
    assert shares == {A: 250 * STAKE, C: 250 * STAKE}


def test_params__wash_cap_at_fees__refused():
    with pytest.raises(ValueError, match="wash_cap_bps"):
        CalculatorParams(PARAMS.fee_token, 5_000, 10_000, 0, 10**30)


providers_st = st.lists(
    st.builds(
        ProviderEpoch,
        provider=st.sampled_from(["0x" + f"{i:040x}" for i in range(1, 9)]),
        capacity=st.integers(0, 10**24),
        uptime_bps=st.integers(0, 10_000),
        fees=st.integers(0, 10**12),
        excluded=st.sampled_from(["", "", "", "jailed"]),
    ),
    max_size=8,
    unique_by=lambda p: p.provider,
)


@given(providers=providers_st, emission=st.integers(0, 10**24), data=st.data())
def test_allocate__any_facts__within_emission_caps_hold_order_irrelevant(providers, emission, data):
    out = allocate(1, emission, 0, providers, PARAMS)

    assert 0 <= out.allocated <= emission
    by = {p.provider: p for p in providers}
    for s in out.shares:
        assert not by[s.provider].excluded
        assert s.usage <= PARAMS.usage_cap(by[s.provider].fees) < PARAMS.fee_value(by[s.provider].fees) or s.usage == 0
    shuffled = data.draw(st.permutations(providers))
    assert allocate(1, emission, 0, shuffled, PARAMS) == out
