"""MeteredEscrow governance: parameter bounds (named OutOfRange errors), roles, pause."""

import pytest

from tests.support.escrow import role_error
from tests.support.metered import COLLECTION_INTERVAL, DISPUTE_WINDOW, PARAMS
from tests.support.reverts import reverts

ZERO = "0x" + "00" * 20
DAY = 86_400


def test_constructor__parameters_and_roles(metered, governance, treasury):
    assert (
        metered.feeBps(),
        metered.collectionInterval(),
        metered.disputeWindow(),
        metered.thawPeriod(),
        metered.signerThawPeriod(),
    ) == PARAMS
    assert metered.treasury() == treasury.address
    for role in (metered.DEFAULT_ADMIN_ROLE(), metered.GOVERNOR_ROLE(), metered.PAUSER_ROLE()):
        assert metered.hasRole(role, governance)


def test_constructor__zero_admin__refused(project, governance, treasury):
    with reverts(project.MeteredEscrow.ZeroAddress):
        project.MeteredEscrow.deploy(ZERO, treasury, PARAMS, sender=governance)


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
        metered.setPaymentToken(ZERO, True, sender=governance)


@pytest.mark.parametrize(
    "call",
    [
        ("setFee", (1,), "GOVERNOR_ROLE"),
        ("setPeriods", PARAMS[1:], "GOVERNOR_ROLE"),
        ("setTreasury", ("0x" + "11" * 20,), "GOVERNOR_ROLE"),
        ("setPaymentToken", ("0x" + "11" * 20, True), "GOVERNOR_ROLE"),
        ("pause", (), "PAUSER_ROLE"),
        ("unpause", (), "PAUSER_ROLE"),
    ],
)
def test_governance__attacker__refused(metered, attacker, call):
    name, args, role = call
    with reverts(metered.AccessControlUnauthorizedAccount, **role_error(attacker, getattr(metered, role)())):
        getattr(metered, name)(*args, sender=attacker)
