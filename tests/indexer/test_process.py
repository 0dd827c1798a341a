"""``computerails index`` as a real process: killed with SIGKILL mid-run it resumes from its last
committed page with no duplicate row (equal to a one-shot rebuild); SIGTERM stops the daemon
cleanly; ``index verify`` exits non-zero on a difference; bad input gives one ``error:`` line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from computerails.cli import main
from computerails.indexer import JsonRpc, open_index
from computerails.indexer import schema as s
from computerails.indexer.decode import Decoder
from tests.indexer.conftest import Chain, build, dump
from tests.support.anvil import free_port
from tests.support.wait import wait_until

#: Empty blocks mined after the history, so that a daemon indexing three blocks per page is
#: certainly still running when the test kills it.
PADDING = 2000


def computerails(chain: Chain, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "computerails.cli",
        "--rpc",
        chain.url,
        "--deployment",
        str(chain.deployment_file),
        *args,
    ]


def run(chain: Chain, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process."""
    return subprocess.run(computerails(chain, *args), capture_output=True, text=True, timeout=300)


def run_here(capsys: pytest.CaptureFixture[str], chain: Chain, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's entry point in this process (what the console script runs, without the start-up)."""
    capsys.readouterr()
    code = main(["--rpc", chain.url, "--deployment", str(chain.deployment_file), *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def cursor(url: str) -> int:
    engine = open_index(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "cursor")).scalar()
        return int(value) if value is not None else -1
    finally:
        engine.dispose()


def test_kill_9_mid_run__restart_resumes__equals_one_shot_rebuild(
    history: Chain, db: str, new_db: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    rpc = JsonRpc(history.url)
    last_event = max(
        int(log["blockNumber"], 16) for log in rpc.logs(Decoder(history.deployment).addresses, 0, history.head())
    )
    history.rpc("anvil_mine", [hex(PADDING)])
    head = history.head()
    daemon = subprocess.Popen(
        computerails(history, "index", "--db", db, "--confirmations", "0", "--page", "3", "--poll", "0.05"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # past the history's last event, far from the head
        wait_until(lambda: cursor(db) > last_event, "the daemon indexing past the history's events")
    finally:
        daemon.kill()  # SIGKILL: no chance to finish anything
        daemon.wait(timeout=30)
    killed_at = cursor(db)
    assert daemon.returncode == -signal.SIGKILL
    assert killed_at < head, "the daemon finished before it was killed: the test proved nothing"

    resumed = run(history, "--json", "index", "--db", db, "--until-head", "--confirmations", "0")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["cursor"] == head
    assert summary["blocks"] == head - killed_at  # from the last committed block on, nothing again
    assert dump(open_index(db)) == dump(build(history, new_db()).engine)

    checked = run_here(capsys, history, "index", "verify", "--db", db)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 differ" in checked.stdout


def test_sigterm__daemon_stops_cleanly_after_catching_up(history: Chain, tmp_path: Path) -> None:
    db = str(tmp_path / "daemon.sqlite")
    daemon = subprocess.Popen(
        computerails(history, "--json", "index", "--db", db, "--confirmations", "0", "--poll", "0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    head = history.head()
    try:
        wait_until(lambda: cursor(db) >= head, "the daemon catching up with the head")
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert json.loads(out)["cursor"] >= head


def test_verify_cli__a_difference__printed_and_exit_non_zero(
    history: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "tampered.sqlite")
    engine = build(history, db).engine
    with engine.begin() as conn:
        conn.execute(update(s.balances).where(s.balances.c.source == "escrow").values(amount=1))
    engine.dispose()
    result = run_here(capsys, history, "index", "verify", "--db", db)
    assert result.returncode == 1
    assert "claimable: indexed 1, chain" in result.stdout
    assert result.stderr.startswith("error: ") and "differ from the chain" in result.stderr


def test_cli__bad_db__one_error_line(history: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database, but long enough for SQLite to look at its header" * 20)
    for db, words in (
        ("mysql://root@127.0.0.1/x", "SQLite (a file path) or PostgreSQL"),
        (str(tmp_path), "is a directory"),
        (f"postgresql://postgres@127.0.0.1:{free_port()}/none", "cannot open the index at postgresql://"),
        (str(not_sqlite), "cannot open the index at"),
    ):
        result = run_here(capsys, history, "index", "--db", db, "--until-head")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    missing = run_here(capsys, history, "index", "verify", "--db", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 1 and "no index at" in missing.stderr


def test_index__another_deployment_in_the_db__refused(
    history: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "other.sqlite")
    engine = open_index(db)
    with engine.begin() as conn:
        conn.execute(s.meta.insert().values(key="deployment", value='{"chainId": 1, "contracts": {}}'))
    engine.dispose()
    result = run_here(capsys, history, "index", "--db", db, "--until-head")
    assert result.returncode == 1 and "built for another deployment" in result.stderr
