"""``computerails rewards ...``: incentive emissions (the RewardsDistributor, issue 16).

The group is importable (``from computerails.cli.rewards import rewards``) so that commands
defined elsewhere (``rewards compute``) can join it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import click
from rich.table import Table

from computerails.cli._common import ADDRESS, CliError, Settings, cli, console, jsonable
from computerails.cli._ui import AMOUNT, RoleGroup, amount, print_rows, when
from computerails.rewards.distributor import ClaimOutcome, RewardsClaim, RewardsStatus, RootInfo, VerifyReport

REWARDS_HELP = "A rewards file (what `rewards compute` writes): a path or an http(s):// URL."


@cli.group(cls=RoleGroup)
def rewards() -> None:
    """Incentive emissions: status, claim against a rewards file, verify a file, recipient, fund."""


@rewards.command("status")
@click.option("--account", "account", type=ADDRESS, help="Also show what this account was paid and its recipient.")
@click.pass_obj
def rewards_status(s: Settings, account: str | None) -> None:
    """The reserve, the active and latest roots, this epoch's emission and the parameters (no key needed)."""
    status = s.rails(signer=False).rewards.status(account)
    s.out(status, lambda: print_rows(f"Rewards {status.distributor}", _status_rows(status)))


@rewards.command("claim")
@click.option("--rewards", "source", required=True, metavar="FILE|URL", help=REWARDS_HELP)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    type=ADDRESS,
    help="Claim for this account (default: yours); repeat it to claim for several in one transaction.",
)
@click.pass_obj
def rewards_claim(s: Settings, source: str, accounts: tuple[str, ...]) -> None:
    """Claim emissions from a rewards file of the active root: pays each account its cumulative
    amount minus what it was paid, to its recipient. Several accounts: one claimMany, an account
    the distributor refuses is listed with its reason."""
    distributor = s.rails().rewards
    if len(accounts) <= 1:
        paid = distributor.claim(source, accounts[0] if accounts else None)
        s.out(paid, lambda: console.print(_claimed(paid), soft_wrap=True))
        return
    outcomes = distributor.claim_many(source, list(accounts))
    s.out([_outcome(o) for o in outcomes], lambda: _print_outcomes(outcomes))


@rewards.command("verify")
@click.argument("root")
@click.option("--rewards", "source", required=True, metavar="FILE|URL", help=REWARDS_HELP)
@click.pass_obj
def rewards_verify(s: Settings, root: str, source: str) -> None:
    """Check a rewards file against ROOT: same root, every proof, the total within the
    schedule's release, and ROOT's state on chain. Exits 1 on any problem (no key needed)."""
    report = s.rails(signer=False).rewards.verify(root, source)
    s.out(report.model_dump(mode="json") | {"ok": report.ok}, lambda: _print_report(report))
    if not report.ok:
        count = len(report.problems)
        raise CliError(f"the rewards file does not match root {report.root}: {count} problem{'s' * (count > 1)}")


@rewards.command("recipient")
@click.argument("address", type=ADDRESS)
@click.pass_obj
def rewards_recipient(s: Settings, address: str) -> None:
    """Send your future rewards to ADDRESS (your own address: back to you)."""
    mine = s.rails().rewards.set_recipient(address)
    s.out(mine, lambda: console.print(f"Rewards of {mine.address} go to {mine.recipient}"))


@rewards.command("fund")
@click.argument("amount_", metavar="AMOUNT", type=AMOUNT)
@click.pass_obj
def rewards_fund(s: Settings, amount_: Decimal) -> None:
    """Add AMOUNT reward tokens to the reserve (they leave only by claims)."""
    distributor = s.rails().rewards
    symbol = distributor.token.symbol
    s.confirm(f"Fund the rewards reserve with {amount(amount_, symbol)}? Funds leave it only by claims.")
    status = distributor.fund(amount_)
    s.out(status, lambda: console.print(f"Funded {amount(amount_, symbol)}; reserve {amount(status.funded, symbol)}"))


# ───────────────────────── output ─────────────────────────


def _root(info: RootInfo | None, symbol: str) -> str:
    if info is None:
        return "none"
    text = f"{info.root} ({amount(info.total, symbol)} over epochs 0-{info.through - 1}, {info.state.value}"
    if info.activates_at is not None and info.state.value == "pending":
        text += f" until {when(info.activates_at)}"
    return text + ")"


def _status_rows(st: RewardsStatus) -> dict[str, str]:
    sym, fee = st.token.symbol, st.fee_token.symbol
    rows = {
        "funded": amount(st.funded, sym),
        "claimed": amount(st.claimed, sym),
        "balance": amount(st.balance, sym),
        "active root": _root(st.active_root, sym),
        "latest root": _root(st.latest_root, sym),
        "epoch": str(st.current_epoch),
        "emission this epoch": amount(st.emission, sym),
        "schedule": (
            f"e0 {amount(st.schedule.e0, sym)}, halving every {st.schedule.halving_epochs} epochs, fee target "
            f"{amount(st.schedule.fee_target, fee)} over {st.schedule.fee_window} epochs, "
            f"activation delay {_duration(st.schedule.activation_delay)}"
        ),
        "calculator": (
            f"availability {st.calculator.availability_bps} bps, wash cap {st.calculator.wash_cap_bps} bps, "
            f"settle delay {_duration(st.calculator.settle_delay)}, fee token {st.calculator.fee_token}"
        ),
    }
    if st.account is not None:
        rows["account"] = st.account.address
        rows["account claimed"] = amount(st.account.claimed, sym)
        rows["account recipient"] = st.account.recipient
    return rows


def _duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("h", 3_600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _claimed(c: RewardsClaim) -> str:
    to = "" if c.recipient == c.account else f" to {c.recipient}"
    return (
        f"Claimed {amount(c.amount, c.token.symbol)} for {c.account}{to} "
        f"(cumulative {amount(c.cumulative, c.token.symbol)}; tx {c.tx_hash})"
    )


def _outcome(o: ClaimOutcome) -> dict[str, Any]:
    return {
        "index": o.index,
        "account": o.account,
        "claim": None if o.claim is None else jsonable(o.claim),
        "error": None if o.error is None else {"name": o.error.error_name, "message": str(o.error)},
    }


def _print_outcomes(outcomes: list[ClaimOutcome]) -> None:
    table = Table(title="Claimed")
    for col in ("#", "account", "paid", "recipient"):
        table.add_column(col, overflow="fold")
    table.add_column("result", no_wrap=True)
    for o in outcomes:
        c = o.claim
        if c is None:  # the error's name (its arguments: --json)
            table.add_row(str(o.index), o.account, "-", "-", o.error.error_name if o.error else "skipped")
        else:
            table.add_row(str(o.index), o.account, amount(c.amount, c.token.symbol), c.recipient, "claimed")
    console.print(table)


def _print_report(r: VerifyReport) -> None:
    console.print(
        f"root {r.root} ({r.state.value} on chain): {r.accounts} accounts, total {amount(r.total, r.token.symbol)} "
        f"through epoch {r.through - 1}, the schedule released {amount(r.released, r.token.symbol)}; "
        f"{r.proofs_checked} of {r.accounts} proofs check",
        soft_wrap=True,
    )
    for problem in r.problems:
        console.print(f"problem: {problem}", soft_wrap=True)
    if r.ok:
        console.print("ok")
