"""Oracle-set governance: addOracle, removeOracle, setThreshold and the views over the set."""

import pytest

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def assert_oracle_set_unchanged(hub, oracles):
    """After the test body: the session's oracle set, threshold and config version are as deployed
    (a refused change does not bump the version)."""
    yield
    assert hub.oracles() == [o.address for o in oracles]
    assert hub.threshold() == 2
    assert hub.configVersion() == 1


def test_oracles_view__deployed_set(hub, oracles, outsider):
    assert hub.oracles() == [o.address for o in oracles]
    assert all(hub.isOracle(o) for o in oracles)
    assert not hub.isOracle(outsider.address)
    assert hub.threshold() == 2


def test_add_oracle__governance__added_with_event(hub, governance, oracles, outsider):
    receipt = hub.addOracle(outsider.address, sender=governance)

    assert receipt.events == [
        hub.OracleAdded(oracle=outsider.address, oracleCount=4),
        hub.OracleConfigChanged(configVersion=2, oracleCount=4, threshold=2),
    ]
    assert hub.configVersion() == 2
    assert hub.oracles() == [o.address for o in oracles] + [outsider.address]
    assert hub.isOracle(outsider.address)
    assert hub.threshold() == 2


def test_add_oracle__already_oracle__oracle_already_added(
    reverts, hub, governance, oracles, assert_oracle_set_unchanged
):
    with reverts(hub.OracleAlreadyAdded, oracle=oracles[2].address):
        hub.addOracle(oracles[2], sender=governance)


def test_add_oracle__zero_address__zero_address(reverts, hub, governance, assert_oracle_set_unchanged):
    with reverts(hub.ZeroAddress):
        hub.addOracle(ZERO, sender=governance)


def test_remove_oracle__governance__swapped_out_with_event(hub, governance, oracles):
    receipt = hub.removeOracle(oracles[0], sender=governance)

    assert receipt.events == [
        hub.OracleRemoved(oracle=oracles[0].address, oracleCount=2),
        hub.OracleConfigChanged(configVersion=2, oracleCount=2, threshold=2),
    ]
    assert hub.configVersion() == 2
    # Swap-and-pop: the last oracle takes the removed one's slot.
    assert hub.oracles() == [oracles[2].address, oracles[1].address]
    assert not hub.isOracle(oracles[0])
    assert hub.isOracle(oracles[1]) and hub.isOracle(oracles[2])


def test_remove_oracle__last_in_list__removed(hub, governance, oracles):
    hub.removeOracle(oracles[2], sender=governance)

    assert hub.oracles() == [oracles[0].address, oracles[1].address]
    assert not hub.isOracle(oracles[2])


def test_remove_oracle__removed_then_added_again__oracle_again(hub, governance, oracles):
    hub.removeOracle(oracles[1], sender=governance)
    receipt = hub.addOracle(oracles[1], sender=governance)

    assert receipt.events == [
        hub.OracleAdded(oracle=oracles[1].address, oracleCount=3),
        hub.OracleConfigChanged(configVersion=3, oracleCount=3, threshold=2),
    ]
    assert hub.configVersion() == 3  # the same set as deployed, but a new configuration
    assert hub.isOracle(oracles[1])
    assert sorted(hub.oracles()) == sorted(o.address for o in oracles)


def test_remove_oracle__not_an_oracle__not_an_oracle(reverts, hub, governance, outsider, assert_oracle_set_unchanged):
    with reverts(hub.NotAnOracle, account=outsider.address):
        hub.removeOracle(outsider.address, sender=governance)


def test_remove_oracle__would_drop_below_threshold__threshold_out_of_range(reverts, hub, governance, oracles):
    hub.setThreshold(3, sender=governance)

    with reverts(hub.ThresholdOutOfRange, min=1, max=2, value=3):
        hub.removeOracle(oracles[0], sender=governance)

    assert hub.oracles() == [o.address for o in oracles]
    assert hub.isOracle(oracles[0])
    assert hub.configVersion() == 2  # bumped by setThreshold only


def test_set_threshold__governance__set_with_event(hub, governance):
    receipt = hub.setThreshold(3, sender=governance)

    assert receipt.events == [
        hub.ThresholdSet(threshold=3),
        hub.OracleConfigChanged(configVersion=2, oracleCount=3, threshold=3),
    ]
    assert hub.configVersion() == 2
    assert hub.threshold() == 3


@pytest.mark.parametrize("threshold", [0, 4])
def test_set_threshold__outside_one_to_n__threshold_out_of_range(
    reverts, hub, governance, threshold, assert_oracle_set_unchanged
):
    with reverts(hub.ThresholdOutOfRange, min=1, max=3, value=threshold):
        hub.setThreshold(threshold, sender=governance)


@pytest.mark.parametrize("method", ["addOracle", "removeOracle", "setThreshold"])
def test_governance__attacker__access_control_unauthorized(
    reverts, hub, attacker, oracles, outsider, method, assert_oracle_set_unchanged
):
    argument = {"addOracle": outsider.address, "removeOracle": oracles[0].address, "setThreshold": 1}[method]

    with reverts(hub.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=hub.GOVERNOR_ROLE()):
        getattr(hub, method)(argument, sender=attacker)


def test_governance__oracle__cannot_change_the_set(reverts, hub, oracles, outsider, assert_oracle_set_unchanged):
    # Oracles sign statements; they have no say over who else signs.
    with reverts(hub.AccessControlUnauthorizedAccount, account=oracles[0].address, neededRole=hub.GOVERNOR_ROLE()):
        hub.addOracle(outsider.address, sender=oracles[0])
