"""Constants and helpers shared by the UptimeSlasher tests: the deployment's default parameters."""

from __future__ import annotations

from tests.support.protocol import STAKE

HOUR = 3_600
EPOCH_LENGTH = 1 * HOUR  # DEFAULT_PARAMS["uptime"]
STATUTE_EPOCHS = 24
SLA_BPS = 9_500
UPTIME_SLASH_BPS = 500
UPTIME_SLASH_CAP = 500 * STAKE
RELAYER_REWARD_BPS = 1_000
RELAYER_REWARD_CAP = 10 * STAKE

DEFAULT_UPTIME_PARAMS = {
    "epochLength": EPOCH_LENGTH,
    "statuteEpochs": STATUTE_EPOCHS,
    "slaBps": SLA_BPS,
    "uptimeSlashBps": UPTIME_SLASH_BPS,
    "uptimeSlashCap": UPTIME_SLASH_CAP,
    "relayerRewardBps": RELAYER_REWARD_BPS,
    "relayerRewardCap": RELAYER_REWARD_CAP,
}
PARAM_ORDER = tuple(DEFAULT_UPTIME_PARAMS)  # the Params struct's field order


def params_tuple(**overrides: int) -> tuple:
    """The Params struct (as a tuple for the ABI) with the defaults and `overrides`."""
    values = {**DEFAULT_UPTIME_PARAMS, **overrides}
    return tuple(values[name] for name in PARAM_ORDER)
