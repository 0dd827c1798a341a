"""``computerails rewards compute``: the calculator over the index, writing the rewards file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from computerails.cli._common import CliError, Settings, console
from computerails.cli.index import DB_HELP, index_db
from computerails.cli.rewards import rewards

if TYPE_CHECKING:
    from computerails.rewards.calculator import Rewards

# The indexer and the calculator (SQLAlchemy, Alembic) load when the command runs.

#: Where rewards files go without --out: one per chain and epoch.
DEFAULT_DIR = Path("rewards-data")


@rewards.command("compute")
@click.option(
    "--epoch", "epoch", type=click.IntRange(min=0), help="The last epoch to cover (default: the last final one)."
)
@click.option("--db", help=DB_HELP)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the rewards file.")
@click.option("--no-index", is_flag=True, help="Compute from the index as it is (do not index up to the head first).")
@click.option(
    "--confirmations", type=click.IntRange(min=0), default=2, show_default=True, help="Blocks to stay behind the head."
)
@click.pass_obj
def rewards_compute(
    s: Settings, epoch: int | None, db: str | None, out: Path | None, no_index: bool, confirmations: int
) -> None:
    """Every provider's cumulative emission through EPOCH from the index (brought up to the head
    first): writes the rewards file (the tree with every proof, the root, its total and the fees
    of every epoch) and prints the root. Anyone with an index of the same chain gets the same root."""
    from computerails.indexer import Indexer, JsonRpc, open_index
    from computerails.rewards.calculator import compute, epochs_of, last_settled

    rails = s.rails(signer=False)
    if "RewardsDistributor" not in rails.deployment.contracts:
        raise CliError("this deployment has no RewardsDistributor")
    engine = open_index(index_db(db, rails.chain_id))
    try:
        if not no_index:
            rpc = JsonRpc(s.rpc)
            try:
                Indexer(rpc, rails.deployment, engine, confirmations=confirmations).run_until_head()
            finally:
                rpc.close()
        with engine.connect() as conn:
            epochs = epochs_of(conn)
            if epoch is None:
                epoch = last_settled(conn, epochs)
                if epoch < 0:
                    raise CliError("no epoch is final yet: wait for the first epoch's end plus the settle delay")
            result = compute(conn, epochs, epoch + 1, rails.deployment.staking_token)
    finally:
        engine.dispose()
    distributor = rails.deployment.contracts["RewardsDistributor"]
    path = out or DEFAULT_DIR / str(rails.chain_id) / f"epoch-{epoch}.json"
    written = result.file(rails.chain_id, distributor).write(path)
    summary = {
        "root": "0x" + result.tree().root.hex(),
        "total": str(result.total),
        "released": str(result.released),
        "through": result.through,
        "accounts": len(result.amounts),
        "file": str(written),
    }
    s.out(summary, lambda: _print(result, summary))


def _print(result: Rewards, summary: dict[str, object]) -> None:
    table = Table(title=f"Rewards through epoch {result.through - 1}")
    for column in ("epoch", "emission", "fees", "allocated", "providers"):
        table.add_column(column, justify="right")
    for e in result.epochs[-10:]:
        table.add_row(str(e.epoch), str(e.emission), str(e.fees), str(e.allocated), str(len(e.shares)))
    console.print(table)
    console.print(
        f"root {summary['root']}  total {summary['total']} of {summary['released']} released, "
        f"{summary['accounts']} accounts: {summary['file']}",
        soft_wrap=True,
        highlight=False,
    )
