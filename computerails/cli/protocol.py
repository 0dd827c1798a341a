"""``computerails params`` and ``computerails epoch``: the protocol's settings and its uptime
clock. Read-only: no key needed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import click

from computerails.cli._common import Settings, cli, print_table
from computerails.cli._ui import amount, print_epochs
from computerails.types import from_raw


def _bps(value: int) -> str:
    return f"{Decimal(value) / 100:f} %"


def _duration(seconds: int) -> str:
    return str(timedelta(seconds=int(seconds)))


@cli.command("params")
@click.pass_obj
def params(s: Settings) -> None:
    """Protocol parameters: fees, windows, bonds, stake, uptime SLA, oracles, payment tokens.
    Amounts are in token units; durations in seconds in --json output."""
    rails = s.rails(signer=False)
    raw = rails.views.params()
    stake = rails.staking_token
    e, st, u, o = raw["escrow"], raw["staking"], raw["uptime"], raw["oracles"]
    tokens = [{**t.model_dump(), **rails.views.payment_token(t.address)} for t in rails.views.payment_tokens()]
    data: dict[str, Any] = {
        "escrow": {**e},
        "staking": {**st, "min_stake": from_raw(st["min_stake"], stake.decimals), "token": stake},
        "uptime": {
            **u,
            "uptime_slash_cap": from_raw(u["uptime_slash_cap"], stake.decimals),
            "relayer_reward_cap": from_raw(u["relayer_reward_cap"], stake.decimals),
        },
        "oracles": o,
        "payment_tokens": tokens,
    }

    def human() -> None:
        print_table(
            "Jobs (JobEscrow; new jobs keep the terms in force when created)",
            {
                "fee": _bps(e["fee_bps"]),
                "accept window": _duration(e["accept_window"]),
                "challenge window": _duration(e["challenge_window"]),
                "dispute timeout": _duration(e["dispute_timeout"]),
                "longest job": _duration(e["max_job_duration"]),
                "dispute bond": f"{_bps(e['dispute_bond_bps'])} of the escrow",
                "client share of slashed collateral": _bps(e["client_slash_share_bps"]),
                "paused": "yes" if e["paused"] else "no",
                "treasury": e["treasury"],
            },
        )
        print_table(
            "Stake (ProviderStaking)",
            {
                "minimum stake": amount(data["staking"]["min_stake"], stake.symbol),
                "unbonding delay": _duration(st["unbonding_delay"]),
            },
        )
        print_table(
            "Uptime (UptimeSlasher)",
            {
                "epoch length": _duration(u["epoch_length"]),
                "reportable for": f"{u['statute_epochs']} epochs after an epoch ends",
                "SLA": _bps(u["sla_bps"]),
                "slash": f"{_bps(u['uptime_slash_bps'])} of stake, at most "
                + amount(data["uptime"]["uptime_slash_cap"], stake.symbol),
                "relayer reward": f"{_bps(u['relayer_reward_bps'])} of a slash, at most "
                + amount(data["uptime"]["relayer_reward_cap"], stake.symbol),
            },
        )
        print_table(
            "Oracles (AttestationHub)",
            {
                "threshold": f"{o['threshold']} of {len(o['oracles'])}",
                "configuration version": o["config_version"],
                **{f"oracle {i + 1}": a for i, a in enumerate(o["oracles"])},
            },
        )
        print_table(
            "Payment tokens",
            {
                f"{t['symbol']} ({t['decimals']} decimals)": f"{t['address']} "
                + ("allowed" if t["allowed"] else "not allowed for new jobs")
                + f", collateral rate {t['collateral_rate']}"
                for t in tokens
            },
        )

    s.out(data, human)


@cli.command("epoch")
@click.pass_obj
def epoch(s: Settings) -> None:
    """The current uptime epoch and its end, and the ended epochs still open to reports with
    their deadlines (no key needed)."""
    epochs = s.rails(signer=False).views.epochs()
    s.out(epochs, lambda: print_epochs(epochs))
