"""The zygote the suites start their daemons from (``computerails.devnet.zygote``): a forked child
is what ``python -m MODULE ARGS`` would be, its exit (code or signal) reaches the caller, and a
zygote that cannot start or is gone says so instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from computerails.devnet.zygote import Zygote, ZygoteError

PROBE = "tests.support.zygote_probe"


@pytest.fixture(scope="module")
def zygote():
    # The zygote's own environment must not reach its children: each gets exactly its request's.
    os.environ["ZYGOTE_PROBE_ZYGOTE_ENV"] = "leaked"
    try:
        started = Zygote(["json"]).start()
    finally:
        del os.environ["ZYGOTE_PROBE_ZYGOTE_ENV"]
    yield started
    started.close()


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **extra}


def _seen(log: Path) -> dict:
    deadline = time.monotonic() + 30
    while not log.exists() or not log.read_text():
        assert time.monotonic() < deadline, "the probe printed nothing"
        time.sleep(0.01)  # until the probe has printed
    return json.loads(log.read_text().splitlines()[0])


def test_child__runs_as_python_dash_m__own_argv_env_cwd_log__exit_code_reaches_the_caller(zygote, tmp_path):
    log = tmp_path / "probe.log"
    log.write_text("a previous start's log\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    child = zygote.spawn(PROBE, ["3", "x y"], env=_env(ZYGOTE_PROBE_A="1"), log=log, cwd=workdir)
    assert child.wait(timeout=30) == 3
    assert child.poll() == 3 and child.returncode == 3
    first, second = log.read_text().splitlines()
    assert json.loads(first) == {
        "name": "__main__",
        "argv": ["3", "x y"],
        "env": {"ZYGOTE_PROBE_A": "1"},
        "cwd": str(workdir),
        "imported_by_name": False,
        "stdin": "",
    }
    assert second == "to stderr"


def test_child__sigkill_and_sigterm__reported_as_popen_reports_them__wait_times_out_while_it_runs(zygote, tmp_path):
    sleeper = zygote.spawn(PROBE, ["0", "sleep"], env=_env(), log=tmp_path / "sleeper.log")
    graceful = zygote.spawn(PROBE, ["0", "term"], env=_env(), log=tmp_path / "graceful.log")
    _seen(tmp_path / "sleeper.log")
    _seen(tmp_path / "graceful.log")
    assert sleeper.pid != graceful.pid
    assert sleeper.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.2)
    sleeper.kill()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL
    graceful.terminate()
    assert graceful.wait(timeout=30) == 0
    sleeper.kill()  # already reaped: a no-op, as with Popen


def test_zygote__a_module_that_does_not_import__start_names_it(tmp_path):
    with (tmp_path / "zygote.err").open("wb") as err:
        with pytest.raises(ZygoteError, match="did not start"):
            Zygote(["computerails.no_such_module"], stderr=err).start()
    assert "No module named 'computerails.no_such_module'" in (tmp_path / "zygote.err").read_text()


def test_zygote__killed_while_a_child_runs__the_child_says_its_exit_is_lost__closed_one_refuses(tmp_path):
    zygote = Zygote(["json"]).start()
    child = zygote.spawn(PROBE, ["0", "sleep"], env=_env(), log=tmp_path / "orphan.log")
    _seen(tmp_path / "orphan.log")
    try:
        os.kill(zygote.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            try:
                child.poll()
            except ZygoteError as exc:
                assert f"child {child.pid}" in str(exc)
                break
            assert time.monotonic() < deadline, "the zygote's death went unnoticed"
            time.sleep(0.01)  # until the reader has seen the zygote's end
        with pytest.raises(ZygoteError):
            zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "late.log")
    finally:
        os.kill(child.pid, signal.SIGKILL)  # orphaned: its parent is gone, so it is stopped by pid
        zygote.close()
    closed = Zygote(["json"]).start()
    closed.close()
    with pytest.raises(ZygoteError, match="closed"):
        closed.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "closed.log")


def test_zygote__a_module_printing_at_import__its_output_goes_to_stderr_not_into_the_protocol(tmp_path):
    with (tmp_path / "zygote.err").open("wb") as err:
        zygote = Zygote(["this"], stderr=err).start()  # `this` prints the Zen of Python when imported
    try:
        child = zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "probe.log")
        assert child.wait(timeout=30) == 0
    finally:
        zygote.close()
    assert "The Zen of Python" in (tmp_path / "zygote.err").read_text()
    assert "The Zen of Python" not in (tmp_path / "probe.log").read_text()
