"""The event indexer (issue 15): events per second indexed into SQLite and into PostgreSQL, from
the same history on the same node in the same run.

A fresh anvil gets the protocol and the marketplace simulation's history (jobs settled, refunded
and disputed, uptime slashes, metered collections and fraud punished, timelock operations: every
kind of event). The history is then indexed from the deploy block to the head with
:class:`computerails.indexer.Indexer` (pages of up to 2,000 blocks, one transaction per page)
into a new SQLite file and into a new database on a real PostgreSQL server (Debian's, started in a
temporary directory: tests/support/postgres.py), alternately, ``rounds`` times each; the rate is
the events over the wall time of the whole run (RPC reads, decoding, writes, commits), median of
the rounds. Each round's index is checked against the chain's views (``verify``) before its time
counts. Nothing here asserts a timing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from computerails.deployments import Deployment
from computerails.devnet import Anvil, ape_build_artifacts, deploy_protocol, dev_key, write_deployment
from computerails.indexer import Indexer, JsonRpc, open_index, verify
from computerails.sim.marketplace import Config, Marketplace

ROOT = Path(__file__).resolve().parents[1]


def _history(workdir: Path, jobs: int) -> tuple[Anvil, Path]:
    from web3 import HTTPProvider, Web3

    from computerails.devnet import grant_direct_governance

    node = Anvil().start()
    try:
        w3 = Web3(HTTPProvider(node.url))
        build = ROOT / ".build" / "__local__.json"
        artifacts = ape_build_artifacts(build) if build.exists() else None
        deployment = deploy_protocol(w3, dev_key(0), artifacts=artifacts)
        grant_direct_governance(w3, deployment, dev_key(0), artifacts=artifacts)
        path = write_deployment(deployment, workdir)
        providers, clients = max(5, jobs // 40), max(10, jobs // 20)
        config = Config(providers=providers, clients=clients, jobs=jobs, metered_payers=3, metered_requests=60)
        report = Marketplace(node.url, path, config, dev_key(0)).run()
        if not report.passed:
            raise SystemExit("bench indexer: the marketplace history's books do not balance")
        return node, path
    except BaseException:
        node.stop()
        raise


def _index_once(url: str, deployment: Deployment, db: str) -> dict[str, Any]:
    started = time.perf_counter()
    rpc = JsonRpc(url)
    engine = open_index(db)
    try:
        indexer = Indexer(rpc, deployment, engine, page=2_000)
        stats = indexer.run_until_head()
        seconds = time.perf_counter() - started
        report = verify(engine, url, deployment)
        if not report.ok:
            raise SystemExit(f"bench indexer: the index differs from the chain: {report.differences[:3]}")
        return {"events": stats.events, "blocks": stats.blocks, "pages": stats.pages, "seconds": seconds}
    finally:
        rpc.close()
        engine.dispose()


def measure(jobs: int = 300, rounds: int = 3) -> dict[str, Any]:
    """Events per second into SQLite and PostgreSQL (same history, alternating rounds)."""
    from tests.support.postgres import Postgres

    with tempfile.TemporaryDirectory(prefix="computerails-bench-indexer-") as tmp:
        node, path = _history(Path(tmp), jobs)
        try:
            deployment = Deployment.from_file(path)
            with Postgres() as pg:
                runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgres": []}
                for i in range(rounds):
                    runs["sqlite"].append(_index_once(node.url, deployment, str(Path(tmp) / f"index-{i}.sqlite")))
                    db = pg.create_database(f"bench_{uuid.uuid4().hex[:10]}")
                    runs["postgres"].append(_index_once(node.url, deployment, db))
                server = pg.bindir.parts[-2]
        finally:
            node.stop()
    out: dict[str, Any] = {"jobs": jobs, "rounds": rounds, "postgres_version": server}
    for backend, rs in runs.items():
        rates = [r["events"] / r["seconds"] for r in rs]
        out[backend] = {
            "events": rs[0]["events"],
            "blocks": rs[0]["blocks"],
            "pages": rs[0]["pages"],
            "per_s": statistics.median(rates),
            "round_per_s": [round(x, 1) for x in rates],
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lite, pg = result["sqlite"], result["postgres"]
    return "\n".join(
        [
            "| Database | Events | Blocks | Pages | Events/s (median) | Rounds |",
            "|---|---:|---:|---:|---:|---|",
            f"| SQLite (file, WAL) | {lite['events']:,} | {lite['blocks']:,} | {lite['pages']} | {lite['per_s']:,.0f} "
            f"| {', '.join(f'{x:,.0f}' for x in lite['round_per_s'])} |",
            f"| PostgreSQL {result['postgres_version']} (local, 127.0.0.1) | {pg['events']:,} | {pg['blocks']:,} "
            f"| {pg['pages']} | {pg['per_s']:,.0f} | {', '.join(f'{x:,.0f}' for x in pg['round_per_s'])} |",
            "",
            f"The marketplace history of {result['jobs']} jobs on a fresh anvil, indexed from the deploy block to the "
            f"head (`eth_getLogs` pages of up to 2,000 blocks, one transaction per page: reads, decoding and writes "
            f"all counted), {result['rounds']} alternating rounds per database, each checked against the chain's "
            "views by `index verify` before it counts.",
        ]
    )


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 60, 1), indent=2))
