"""The calculator's parameters the distributor stores for the oracle nodes: unset until governance
sets them, each within its bounds, governance only."""

from __future__ import annotations

from tests.support.reverts import reverts

ZERO = "0x0000000000000000000000000000000000000000"


def _params(usd, **overrides):
    p = {
        "feeToken": usd.address,
        "availabilityBps": 5_000,
        "washCapBps": 8_000,
        "settleDelay": 90_000,
        "rewardPerFee": 10**30,
    }
    p.update(overrides)
    return tuple(p.values())


def test_calculator_params__before_set__all_zero(distributor):
    assert tuple(distributor.calculatorParams()) == (ZERO, 0, 0, 0, 0)


def test_set_calculator_params__governor__stored_with_event(distributor, governance, usd):
    receipt = distributor.setCalculatorParams(_params(usd), sender=governance)

    assert tuple(distributor.calculatorParams()) == _params(usd)
    (event,) = receipt.events
    assert event.event_name == "CalculatorParamsSet"
    fields = tuple(event.params)
    assert (fields[0].lower(), *fields[1:]) == (usd.address.lower(), *_params(usd)[1:])


def test_set_calculator_params__bounds_inclusive__accepted(distributor, governance, usd):
    edges = _params(usd, availabilityBps=10_000, washCapBps=9_999, settleDelay=30 * 86_400, rewardPerFee=10**36)
    distributor.setCalculatorParams(edges, sender=governance)
    assert tuple(distributor.calculatorParams()) == edges
    low = _params(usd, availabilityBps=0, washCapBps=1, settleDelay=0, rewardPerFee=1)
    distributor.setCalculatorParams(low, sender=governance)
    assert tuple(distributor.calculatorParams()) == low


def test_set_calculator_params__outsider__access_control(distributor, attacker, usd):
    with reverts(
        distributor.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=distributor.GOVERNOR_ROLE()
    ):
        distributor.setCalculatorParams(_params(usd), sender=attacker)


def test_set_calculator_params__out_of_bounds__each_named_error(distributor, governance, usd):
    with reverts(distributor.ZeroAddress):
        distributor.setCalculatorParams(_params(usd, feeToken=ZERO), sender=governance)
    with reverts(distributor.AvailabilityShareOutOfRange, min=0, max=10_000, value=10_001):
        distributor.setCalculatorParams(_params(usd, availabilityBps=10_001), sender=governance)
    # a cap at or above the fees paid would let washing break even or profit
    with reverts(distributor.WashCapOutOfRange, min=1, max=9_999, value=10_000):
        distributor.setCalculatorParams(_params(usd, washCapBps=10_000), sender=governance)
    with reverts(distributor.WashCapOutOfRange, min=1, max=9_999, value=0):
        distributor.setCalculatorParams(_params(usd, washCapBps=0), sender=governance)
    with reverts(distributor.SettleDelayOutOfRange, min=0, max=30 * 86_400, value=30 * 86_400 + 1):
        distributor.setCalculatorParams(_params(usd, settleDelay=30 * 86_400 + 1), sender=governance)
    with reverts(distributor.RewardPerFeeOutOfRange, min=1, max=10**36, value=0):
        distributor.setCalculatorParams(_params(usd, rewardPerFee=0), sender=governance)
    with reverts(distributor.RewardPerFeeOutOfRange, min=1, max=10**36, value=10**36 + 1):
        distributor.setCalculatorParams(_params(usd, rewardPerFee=10**36 + 1), sender=governance)
    assert tuple(distributor.calculatorParams()) == (ZERO, 0, 0, 0, 0)
