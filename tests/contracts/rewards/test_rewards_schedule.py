"""The emission schedule: E(t) = e0 · 2^(−t/H) · max(0, 1 − avg/F*), at its boundaries (t = 0, a
halving, fees at and past F*), between them against the Python mirror (computerails.rewards),
and the parameters' bounds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computerails.rewards import Schedule
from computerails.rewards.schedule import decay
from tests.support.reverts import reverts
from tests.support.rewards import EPOCH, PARAMS, STAKE, USD, deploy_rewards, params_tuple

E0, H, F = PARAMS.e0, PARAMS.halving_epochs, PARAMS.fee_target


def test_emission__epoch_zero_no_fees__e0(distributor):
    assert distributor.decay(0) == 10**18
    assert distributor.emission(0, 0) == E0


@pytest.mark.parametrize("halvings", [1, 2, 5])
def test_emission__at_each_halving__exactly_halved(distributor, halvings):
    assert distributor.decay(halvings * H) == 10**18 >> halvings
    assert distributor.emission(halvings * H, 0) == E0 >> halvings


def test_emission__half_way_to_a_halving__within_0_03_percent_of_the_curve(distributor):
    # H = 4: epoch 2 is half a halving: 2^(-1/2) = 0.70710678...
    assert distributor.decay(2) == 707106781186547524
    assert abs(distributor.emission(2, 0) - E0 / 2**0.5) / E0 < 3e-4


def test_emission__fee_average_at_or_past_target__zero(distributor):
    assert distributor.emission(0, F) == 0
    assert distributor.emission(0, 10 * F) == 0


def test_emission__fee_average_half_the_target__half_the_subsidy(distributor):
    assert distributor.emission(0, F // 2) == E0 // 2
    assert distributor.emission(H, F // 4) == (E0 // 2) * 3 // 4


def test_emission__after_64_halvings__zero(distributor):
    assert distributor.decay(64 * H) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(epoch=st.integers(0, 70 * H), average=st.integers(0, 2 * F))
def test_emission__any_epoch_and_average__contract_equals_mirror(distributor, epoch, average):
    assert distributor.decay(epoch) == PARAMS.decay(epoch)
    assert distributor.emission(epoch, average) == PARAMS.emission(epoch, average)


@given(epoch=st.integers(0, 10**6), h=st.integers(1, 100_000))
def test_decay__mirror__monotone_and_exact_at_halvings(epoch, h):
    assert decay(epoch + 1, h) <= decay(epoch, h)
    if epoch % h == 0 and epoch // h < 64:
        assert decay(epoch, h) == 10**18 >> (epoch // h)


def test_release__fees_over_epochs__moving_average_lowers_the_subsidy():
    s = Schedule(e0=1_000 * STAKE, halving_epochs=4, fee_target=100, fee_window=2)

    released, average = s.release(0, [0, 100, 100, 100])

    # the average moves half way to each epoch's fees (floored): 0, 50, 75, 87
    assert average == 87
    assert released == sum(s.emission(t, a) for t, a in enumerate([0, 50, 75, 87]))
    assert s.emission(1, 50) == s.emission(1, 0) // 2


# ───────────────────────── parameters ─────────────────────────


def test_params__as_deployed__read_back(distributor):
    assert tuple(distributor.params()) == params_tuple(PARAMS)
    assert distributor.epochLength() == EPOCH


def test_set_params__governor__applied_with_event(distributor, governance):
    new = (2_000 * STAKE, 8, 50 * USD, 4, 7_200)

    receipt = distributor.setParams(new, sender=governance)

    assert tuple(distributor.params()) == new
    assert receipt.events[0].event_name == "ParamsSet"


def test_set_params__outsider__access_control(distributor, attacker):
    with reverts(
        distributor.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=distributor.GOVERNOR_ROLE()
    ):
        distributor.setParams(params_tuple(PARAMS), sender=attacker)


def test_set_params__out_of_bounds__each_named_error(distributor, governance):
    def with_(index, value):
        params = list(params_tuple(PARAMS))
        params[index] = value
        return tuple(params)

    with reverts(distributor.EmissionOutOfRange, min=1, max=10**28, value=0):
        distributor.setParams(with_(0, 0), sender=governance)
    with reverts(distributor.EmissionOutOfRange, min=1, max=10**28, value=10**28 + 1):
        distributor.setParams(with_(0, 10**28 + 1), sender=governance)
    with reverts(distributor.HalvingEpochsOutOfRange, min=1, max=100_000, value=0):
        distributor.setParams(with_(1, 0), sender=governance)
    with reverts(distributor.HalvingEpochsOutOfRange, min=1, max=100_000, value=100_001):
        distributor.setParams(with_(1, 100_001), sender=governance)
    with reverts(distributor.FeeTargetOutOfRange, min=1, max=10**28, value=0):
        distributor.setParams(with_(2, 0), sender=governance)
    with reverts(distributor.FeeWindowOutOfRange, min=1, max=1_000, value=1_001):
        distributor.setParams(with_(3, 1_001), sender=governance)
    with reverts(distributor.ActivationDelayOutOfRange, min=60, max=EPOCH - 1, value=59):
        distributor.setParams(with_(4, 59), sender=governance)
    # a root posted at an epoch's end must activate before the next epoch's root can be posted
    with reverts(distributor.ActivationDelayOutOfRange, min=60, max=EPOCH - 1, value=EPOCH):
        distributor.setParams(with_(4, EPOCH), sender=governance)


def test_constructor__epoch_length_too_short__named_error(project, governance, hub, stake_token, chain):
    with reverts(project.RewardsDistributor.EpochLengthOutOfRange, min=600, max=90 * 86_400, value=599):
        project.RewardsDistributor.deploy(
            stake_token.address, hub.address, governance.address, 0, 599, params_tuple(PARAMS), sender=governance
        )


def test_constructor__zero_token__zero_address(project, governance, hub):
    with reverts(project.RewardsDistributor.ZeroAddress):
        project.RewardsDistributor.deploy(
            "0x" + "00" * 20, hub.address, governance.address, 0, EPOCH, params_tuple(PARAMS), sender=governance
        )


def test_deploy__fresh__epoch_zero_and_no_root(project, governance, hub, stake_token, chain):
    d = deploy_rewards(project, governance, hub, stake_token, genesis=chain.pending_timestamp)
    assert d.currentEpoch() == 0
    assert tuple(d.activeRoot()) == (b"\x00" * 32, 0, 0)
