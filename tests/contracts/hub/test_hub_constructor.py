"""AttestationHub constructor: the first oracle set and threshold, and what it refuses."""

import pytest
from ape import project

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def deploy_hub(escrow, slasher, governance):
    """Deploys a fresh hub wired to the session escrow and slasher; override any argument."""

    def deploy(oracles, threshold, *, escrow_=None, slasher_=None, admin=None):
        return project.AttestationHub.deploy(
            escrow if escrow_ is None else escrow_,
            slasher if slasher_ is None else slasher_,
            governance if admin is None else admin,
            [getattr(o, "address", o) for o in oracles],
            threshold,
            sender=governance,
        )

    return deploy


def test_constructor__oracles_and_threshold__set_with_events(chain, deploy_hub, escrow, slasher, governance, oracles):
    hub = deploy_hub(oracles, 2)

    assert hub.oracles() == [o.address for o in oracles]
    assert all(hub.isOracle(o) for o in oracles)
    assert hub.threshold() == 2
    assert hub.escrow() == escrow.address
    assert hub.uptimeSlasher() == slasher.address
    assert hub.hasRole(hub.DEFAULT_ADMIN_ROLE(), governance)
    assert hub.hasRole(hub.GOVERNOR_ROLE(), governance)
    logs = [log for log in chain.get_receipt(hub.txn_hash).events if log.event_name in ("OracleAdded", "ThresholdSet")]
    assert logs == [
        hub.OracleAdded(oracle=oracles[0].address, oracleCount=1),
        hub.OracleAdded(oracle=oracles[1].address, oracleCount=2),
        hub.OracleAdded(oracle=oracles[2].address, oracleCount=3),
        hub.ThresholdSet(threshold=2),
    ]


@pytest.mark.parametrize("threshold", [1, 3])
def test_constructor__threshold_at_bounds__accepted(deploy_hub, oracles, threshold):
    assert deploy_hub(oracles, threshold).threshold() == threshold


@pytest.mark.parametrize("which", ["escrow_", "slasher_", "admin"])
def test_constructor__zero_dependency__zero_address(reverts, deploy_hub, oracles, which):
    with reverts(project.AttestationHub.ZeroAddress):
        deploy_hub(oracles, 2, **{which: ZERO})


def test_constructor__zero_oracle__zero_address(reverts, deploy_hub, oracles):
    with reverts(project.AttestationHub.ZeroAddress):
        deploy_hub([oracles[0], ZERO], 1)


@pytest.mark.parametrize("threshold", [0, 4])
def test_constructor__threshold_outside_one_to_n__threshold_out_of_range(reverts, deploy_hub, oracles, threshold):
    with reverts(project.AttestationHub.ThresholdOutOfRange, min=1, max=3, value=threshold):
        deploy_hub(oracles, threshold)


def test_constructor__no_oracles__threshold_out_of_range(reverts, deploy_hub):
    with reverts(project.AttestationHub.ThresholdOutOfRange, min=1, max=0, value=1):
        deploy_hub([], 1)


def test_constructor__duplicate_oracle__oracle_already_added(reverts, deploy_hub, oracles):
    with reverts(project.AttestationHub.OracleAlreadyAdded, oracle=oracles[1].address):
        deploy_hub([oracles[0], oracles[1], oracles[2], oracles[1]], 2)
