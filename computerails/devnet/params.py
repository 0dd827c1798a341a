"""The protocol's default parameters and the safety rules every parameter set must keep."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from computerails.errors import DeploymentError

DAY = 86_400
HOUR = 3_600
STAKE_UNIT = 10**18  # the staking token has 18 decimals on every supported deployment

#: Documented defaults (README "Parameters"). Amounts are raw staking-token units.
DEFAULT_PARAMS: dict[str, Any] = {
    "staking": {
        "min_stake": 1_000 * STAKE_UNIT,
        "unbonding_delay": 7 * DAY,
    },
    "escrow": {
        "fee_bps": 250,
        "accept_window": 1 * HOUR,
        "challenge_window": 1 * HOUR,
        "dispute_timeout": 3 * DAY,
        "max_job_duration": 30 * DAY,
        "dispute_bond_bps": 1_000,
        "client_slash_share_bps": 5_000,
    },
    "uptime": {
        "epoch_length": 1 * HOUR,
        "statute_epochs": 24,
        "sla_bps": 9_500,
        "uptime_slash_bps": 500,
        "uptime_slash_cap": 500 * STAKE_UNIT,
        "relayer_reward_bps": 1_000,
        "relayer_reward_cap": 10 * STAKE_UNIT,
    },
    # MeteredEscrow (docs/METERED.md). Both thawing periods must outlast a collection interval
    # plus the dispute window, so a provider collecting on time is paid before a payer withdraws
    # or a revoked signer's vouchers stop paying.
    "metered": {
        "fee_bps": 250,
        "collection_interval": 1 * HOUR,
        "dispute_window": 1 * DAY,
        "thaw_period": 3 * DAY,
        "signer_thaw_period": 2 * DAY,
        # A fraud attestation slashes 10% of the stake backing the provider's answers (its
        # collections' lock and free stake) and pays the wronged payer half of it.
        "fraud_penalty_bps": 1_000,
        "fraud_payer_share_bps": 5_000,
        # Each collection locks stake worth 5x its fees (Graph Horizon's stakeToFeesRatio) for
        # the dispute window, at 1 stake token = 1 payment token: see collateral_rate().
        "stake_to_fees_bps": 50_000,
    },
    # RewardsDistributor (issue 16): emissions per uptime epoch, E(t) = e0 · 2^(−t/H) ·
    # max(0, 1 − avg fees / fee_target). Funded separately (nothing is minted); fees in the first
    # payment token's raw units. A root waits activation_delay (within one epoch) for vetoes.
    "rewards": {
        "e0": 1_000 * STAKE_UNIT,
        "halving_epochs": 720,  # 30 days of one-hour epochs
        "fee_target": 1_000 * 10**6,  # 1,000 payment tokens of fees per epoch (6 decimals)
        "fee_window": 24,
        "activation_delay": 10 * 60,
        # The calculator's split (RewardsDistributor.setCalculatorParams; docs/REWARDS.md): half of
        # each epoch's emission for availability (stake x uptime), half for usage (fees earned),
        # a provider's usage reward capped at 80% of the fees its traffic paid (washing loses
        # money), valued at 1 reward token per payment token. Fees count in the first payment
        # token. settle_delay None: the uptime report window, after which an epoch is final.
        "availability_bps": 5_000,
        "wash_cap_bps": 8_000,
        "reward_per_payment_token": 1,
        "settle_delay": None,
    },
    # Collateral locked per job as a share of its escrow's value, at 1 stake token = 1 payment
    # token. The on-chain rate converts decimals too: see collateral_rate().
    "collateral_bps": 5_000,
    "threshold": 2,
    # Longer than the unbonding delay, so every provider can exit before a hostile change lands.
    # None: the unbonding delay plus one day.
    "timelock_delay": None,
}


class InvalidParameters(DeploymentError, ValueError):
    """A parameter set breaks one of the protocol's safety rules; nothing was deployed."""


def merge_params(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """DEFAULT_PARAMS with `overrides` applied (nested dicts merge key by key), the timelock
    delay resolved, and the safety rules checked.

    Raises:
        InvalidParameters: see :func:`check_params`.
    """
    p = deepcopy(DEFAULT_PARAMS)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            p[key].update(value)
        else:
            p[key] = value
    if p["timelock_delay"] is None:
        p["timelock_delay"] = p["staking"]["unbonding_delay"] + DAY
    check_params(p)
    return p


def check_params(p: dict[str, Any]) -> None:
    """Refuse parameter sets that break the protocol's safety rules.

    Raises:
        InvalidParameters: the rule broken, in words.
    """
    u, unbonding = p["uptime"], p["staking"]["unbonding_delay"]
    window = (u["statute_epochs"] + 1) * u["epoch_length"]
    if window >= unbonding:
        raise InvalidParameters(
            f"(statute_epochs + 1) x epoch_length = {window} s must stay below the unbonding delay {unbonding} s, "
            "or a provider could withdraw its stake before a report that is still on time lands"
        )
    delay = p["timelock_delay"]
    if delay is not None and delay <= unbonding:
        raise InvalidParameters(
            f"the timelock delay {delay} s must exceed the unbonding delay {unbonding} s, so that providers "
            "can exit before a hostile governance change takes effect"
        )
    r = p.get("rewards")
    if r is not None and not 0 < r["activation_delay"] < u["epoch_length"]:
        raise InvalidParameters(
            f"the rewards activation delay {r['activation_delay']} s must be positive and below the epoch length "
            f"{u['epoch_length']} s, so that a root posted at an epoch's end can be vetoed and activate before the "
            "next epoch's root"
        )
    if r is not None and r.get("settle_delay") is not None and r["settle_delay"] < window:
        raise InvalidParameters(
            f"the rewards settle delay {r['settle_delay']} s must be at least the uptime report window {window} s, "
            "or the calculator could settle an epoch before its uptime reports are final"
        )
    m = p.get("metered")
    if m is not None:
        least = m["collection_interval"] + m["dispute_window"]
        for name in ("thaw_period", "signer_thaw_period"):
            if m[name] <= least:
                raise InvalidParameters(
                    f"the metered {name} {m[name]} s must exceed collection_interval + dispute_window = {least} s, "
                    "or a payer could withdraw (or void a signer's vouchers) before a provider collecting on time "
                    "is paid"
                )


#: The fields of JobEscrow's constructor struct `InitParams`, in its order.
ESCROW_INIT_FIELDS = (
    "fee_bps",
    "accept_window",
    "challenge_window",
    "dispute_timeout",
    "max_job_duration",
    "dispute_bond_bps",
    "client_slash_share_bps",
)


def escrow_init_params(escrow: dict[str, Any]) -> tuple[int, ...]:
    """JobEscrow's constructor struct from a parameter set's ``"escrow"`` section."""
    return tuple(int(escrow[name]) for name in ESCROW_INIT_FIELDS)


#: The fields of MeteredEscrow's constructor struct `InitParams`, in its order.
METERED_INIT_FIELDS = (
    "fee_bps",
    "collection_interval",
    "dispute_window",
    "thaw_period",
    "signer_thaw_period",
    "fraud_penalty_bps",
    "fraud_payer_share_bps",
)


def metered_init_params(metered: dict[str, Any]) -> tuple[int, ...]:
    """MeteredEscrow's constructor struct from a parameter set's ``"metered"`` section."""
    return tuple(int(metered[name]) for name in METERED_INIT_FIELDS)


#: The fields of RewardsDistributor's constructor struct `Params`, in its order.
REWARDS_INIT_FIELDS = ("e0", "halving_epochs", "fee_target", "fee_window", "activation_delay")


def rewards_init_params(rewards: dict[str, Any]) -> tuple[int, ...]:
    """RewardsDistributor's parameter struct from a parameter set's ``"rewards"`` section."""
    return tuple(int(rewards[name]) for name in REWARDS_INIT_FIELDS)


def calculator_params(p: dict[str, Any], fee_token: str, fee_decimals: int, reward_decimals: int) -> tuple[Any, ...]:
    """RewardsDistributor's CalculatorParams from a parameter set: fees counted in `fee_token`,
    valued at ``reward_per_payment_token`` reward tokens each (the decimals gap carried in the
    1e18-scaled rate), settled after the uptime report window unless the set names a delay."""
    r, u = p["rewards"], p["uptime"]
    settle = r.get("settle_delay")
    if settle is None:
        settle = (u["statute_epochs"] + 1) * u["epoch_length"]
    reward_per_fee = int(r["reward_per_payment_token"]) * 10 ** (18 + reward_decimals - fee_decimals)
    return (fee_token, int(r["availability_bps"]), int(r["wash_cap_bps"]), int(settle), reward_per_fee)


def collateral_rate(payment_decimals: int, stake_decimals: int, collateral_bps: int, stake_per_payment: int = 1) -> int:
    """Staking-token units per payment-token unit, scaled by 1e18.

    ``collateral = escrow * rate / 1e18``. With ``collateral_bps = 5000``, a 6-decimal payment
    token and an 18-decimal staking token, 10 payment tokens (10e6 units) lock 5 staking tokens
    (5e18 units): the rate carries the 10**12 decimal gap, not just the ratio.
    """
    rate: int = collateral_bps * stake_per_payment * 10 ** (18 + stake_decimals - payment_decimals) // 10_000
    return rate
