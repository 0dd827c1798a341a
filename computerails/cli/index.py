"""``computerails index``: follow the deployment's events into SQLite or PostgreSQL, and
``computerails index verify``: compare the index with the chain."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from computerails.cli._common import CliError, Settings, cli, console

if TYPE_CHECKING:
    from computerails.indexer import Page

# The indexer (SQLAlchemy, Alembic) loads when an index command runs, not with every CLI call.

#: Where the index lives without --db: a SQLite file per chain under this directory.
DEFAULT_DIR = Path("index-data")

DB_HELP = "A SQLite file path or a postgresql://user@host:port/db URL (default: index-data/<chainId>.sqlite)."


def index_db(db: str | None, chain_id: int) -> str:
    return db if db else str(DEFAULT_DIR / f"{chain_id}.sqlite")


def _default_page() -> int:
    from computerails.indexer import DEFAULT_PAGE

    return DEFAULT_PAGE


@cli.group("index", invoke_without_command=True)
@click.option("--db", help=DB_HELP)
@click.option("--until-head", is_flag=True, help="Index up to the head (less the confirmations) once, then exit.")
@click.option(
    "--confirmations", type=click.IntRange(min=0), default=2, show_default=True, help="Blocks to stay behind the head."
)
@click.option(
    "--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="Seconds between head checks."
)
@click.option(
    "--page",
    type=click.IntRange(min=1),
    default=_default_page,
    show_default="the indexer's page",
    help="Most blocks per eth_getLogs.",
)
@click.pass_context
def index(ctx: click.Context, db: str | None, until_head: bool, confirmations: int, poll: float, page: int) -> None:
    """Index every event of the deployment into a database, following the head (a daemon that
    stops cleanly on SIGTERM or Ctrl-C), or once with --until-head. Resumes where it stopped."""
    if ctx.invoked_subcommand is not None:
        return
    from computerails.indexer import Indexer, JsonRpc, open_index

    settings: Settings = ctx.obj
    rails = settings.rails(signer=False)
    target = index_db(db, rails.chain_id)
    engine = open_index(target)
    rpc = JsonRpc(settings.rpc)
    try:
        indexer = Indexer(rpc, rails.deployment, engine, page=page, confirmations=confirmations)
        started = time.monotonic()

        def on_page(p: Page) -> None:
            if p.events and not settings.as_json:  # quiet through empty blocks
                console.print(f"blocks {p.from_block}-{p.to_block}: {p.events} events", highlight=False)

        if until_head:
            stats = indexer.run_until_head(on_page)
        else:
            stop = threading.Event()

            def stop_now(signum: int, frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, stop_now)
            signal.signal(signal.SIGINT, stop_now)
            if not settings.as_json:
                console.print(f"following chain {rails.chain_id} into {target} ({confirmations} confirmations)")
            stats = indexer.follow(stop, poll, on_page)
        elapsed = time.monotonic() - started
        summary: dict[str, Any] = {
            "db": target,
            "cursor": indexer.cursor(),
            "pages": stats.pages,
            "events": stats.events,
            "blocks": stats.blocks,
            "reorgs": stats.reorgs,
            "refusals": stats.refusals,
            "seconds": round(elapsed, 3),
        }
        settings.out(
            summary,
            lambda: console.print(
                f"indexed to block {summary['cursor']}: {stats.events} events in {stats.pages} pages, "
                f"{stats.reorgs} reorgs rolled back ({target})"
            ),
        )
    finally:
        rpc.close()
        engine.dispose()


@index.command("verify")
@click.option("--db", help=DB_HELP)
@click.pass_obj
def index_verify(settings: Settings, db: str | None) -> None:
    """Compare indexed stakes (staked, locked, free, unbonding), claimable balances, metered
    escrow accounts and job statuses with the chain's views at the index's block; print every
    difference and exit non-zero if there is one."""
    rails = settings.rails(signer=False)
    target = index_db(db, rails.chain_id)
    if "://" not in target and not Path(target).exists():
        raise CliError(f"no index at {target}: run `computerails index --until-head` first")
    from computerails.indexer import open_index, verify

    engine = open_index(target)
    try:
        report = verify(engine, settings.rpc, rails.deployment, rails)
    finally:
        engine.dispose()
    data = {
        "block": report.block,
        "checked": report.checked,
        "differences": [
            {"what": d.what, "key": d.key, "field": d.field, "indexed": str(d.indexed), "chain": str(d.chain)}
            for d in report.differences
        ],
    }

    def human() -> None:
        for d in report.differences:
            click.echo(str(d))  # one line each, never wrapped: greppable
        console.print(f"block {report.block}: {report.checked} values checked, {len(report.differences)} differ")

    settings.out(data, human)
    if report.differences:
        raise CliError(f"{len(report.differences)} indexed values differ from the chain at block {report.block}")
