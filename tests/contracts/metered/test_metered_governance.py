"""MeteredEscrow governance: parameter bounds (named OutOfRange errors), roles, pause."""

import pytest

from tests.support.escrow import role_error
from tests.support.metered import COLLECTION_INTERVAL, DISPUTE_WINDOW, PARAMS, STAKE_RATIO
from tests.support.reverts import reverts

ZERO = "0x" + "00" * 20
DAY = 86_400


def test_constructor__parameters_and_roles(metered, governance, treasury, staking, hub, usd):
    assert (
        metered.feeBps(),
        metered.collectionInterval(),
        metered.disputeWindow(),
        metered.thawPeriod(),
        metered.signerThawPeriod(),
        metered.fraudPenaltyBps(),
        metered.fraudPayerShareBps(),
    ) == PARAMS
    assert metered.treasury() == treasury.address
    assert metered.staking() == staking.address
    assert metered.attestationHub() == hub.address
    assert metered.stakeRatio(usd) == STAKE_RATIO
    for role in (metered.DEFAULT_ADMIN_ROLE(), metered.GOVERNOR_ROLE(), metered.PAUSER_ROLE()):
        assert metered.hasRole(role, governance)


def test_constructor__zero_admin__refused(project, governance, treasury, staking, hub):
    with reverts(project.MeteredEscrow.ZeroAddress):
        project.MeteredEscrow.deploy(ZERO, treasury, staking, hub, PARAMS, sender=governance)


@pytest.mark.parametrize("which", ["staking", "hub"])
def test_constructor__zero_dependency__refused(project, governance, treasury, staking, hub, which):
    deps = {"staking": staking, "hub": hub, which: ZERO}
    with reverts(project.MeteredEscrow.ZeroAddress):
        project.MeteredEscrow.deploy(governance, treasury, deps["staking"], deps["hub"], PARAMS, sender=governance)


def test_set_fee__bounds(metered, governance):
    metered.setFee(1_000, sender=governance)
    with reverts(metered.FeeOutOfRange, min=0, max=1_000, value=1_001):
        metered.setFee(1_001, sender=governance)


def test_set_periods__interval_and_window_bounds(metered, governance):
    with reverts(metered.CollectionIntervalOutOfRange, min=60, max=30 * DAY, value=59):
        metered.setPeriods(59, DAY, 3 * DAY, 3 * DAY, sender=governance)
    with reverts(metered.DisputeWindowOutOfRange, min=60, max=30 * DAY, value=30 * DAY + 1):
        metered.setPeriods(60, 30 * DAY + 1, 3 * DAY, 3 * DAY, sender=governance)


def test_set_periods__thaw_must_exceed_interval_plus_window(metered, governance):
    least = COLLECTION_INTERVAL + DISPUTE_WINDOW + 1
    with reverts(metered.ThawPeriodOutOfRange, min=least, max=90 * DAY, value=least - 1):
        metered.setPeriods(COLLECTION_INTERVAL, DISPUTE_WINDOW, least - 1, least, sender=governance)
    with reverts(metered.ThawPeriodOutOfRange, min=least, max=90 * DAY, value=90 * DAY + 1):
        metered.setPeriods(COLLECTION_INTERVAL, DISPUTE_WINDOW, 90 * DAY + 1, least, sender=governance)
    with reverts(metered.SignerThawPeriodOutOfRange, min=least, max=90 * DAY, value=least - 1):
        metered.setPeriods(COLLECTION_INTERVAL, DISPUTE_WINDOW, least, least - 1, sender=governance)
    metered.setPeriods(COLLECTION_INTERVAL, DISPUTE_WINDOW, least, 90 * DAY, sender=governance)
    assert (metered.thawPeriod(), metered.signerThawPeriod()) == (least, 90 * DAY)


def test_setters__zero_addresses__refused(metered, governance):
    with reverts(metered.ZeroAddress):
        metered.setTreasury(ZERO, sender=governance)
    with reverts(metered.ZeroAddress):
        metered.setPaymentToken(ZERO, True, STAKE_RATIO, sender=governance)


def test_set_payment_token__stake_ratio_bounds(metered, governance, usd):
    for bad in (0, 2**120):
        with reverts(metered.StakeRatioOutOfRange, min=1, max=2**120 - 1, value=bad):
            metered.setPaymentToken(usd, True, bad, sender=governance)
    receipt = metered.setPaymentToken(usd, True, 2**120 - 1, sender=governance)
    assert metered.stakeRatio(usd) == 2**120 - 1
    assert [(e.token, e.allowed, e.stakeRatio) for e in receipt.events] == [(usd.address, True, 2**120 - 1)]


def test_set_fraud_terms__bounds(metered, governance):
    with reverts(metered.BpsOutOfRange, min=1, max=10_000, value=0):
        metered.setFraudTerms(0, 0, sender=governance)
    with reverts(metered.BpsOutOfRange, min=1, max=10_000, value=10_001):
        metered.setFraudTerms(10_001, 0, sender=governance)
    with reverts(metered.BpsOutOfRange, min=0, max=10_000, value=10_001):
        metered.setFraudTerms(1, 10_001, sender=governance)
    receipt = metered.setFraudTerms(10_000, 0, sender=governance)
    assert (metered.fraudPenaltyBps(), metered.fraudPayerShareBps()) == (10_000, 0)
    assert [(e.penaltyBps, e.payerShareBps) for e in receipt.events] == [(10_000, 0)]


@pytest.mark.parametrize(
    "call",
    [
        ("setFee", (1,), "GOVERNOR_ROLE"),
        ("setPeriods", PARAMS[1:5], "GOVERNOR_ROLE"),
        ("setTreasury", ("0x" + "11" * 20,), "GOVERNOR_ROLE"),
        ("setPaymentToken", ("0x" + "11" * 20, True, STAKE_RATIO), "GOVERNOR_ROLE"),
        ("setFraudTerms", (1, 1), "GOVERNOR_ROLE"),
        ("pause", (), "PAUSER_ROLE"),
        ("unpause", (), "PAUSER_ROLE"),
    ],
)
def test_governance__attacker__refused(metered, attacker, call):
    name, args, role = call
    with reverts(metered.AccessControlUnauthorizedAccount, **role_error(attacker, getattr(metered, role)())):
        getattr(metered, name)(*args, sender=attacker)
