"""The zygotes the suites start their daemons from (``computerails.devnet.zygote``): a forked
child is what ``python -m MODULE ARGS`` would be, its exit (code or signal) reaches the caller,
and a zygote that cannot start, stops answering or is gone says so instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from computerails.devnet import zygote as zygote_module
from computerails.devnet.zygote import Zygote, ZygoteError, ZygotePool

PROBE = "tests.support.zygote_probe"
PROBE_FILE = Path(__file__).parents[1] / "support" / "zygote_probe.py"


@pytest.fixture(scope="module")
def zygote():
    # The zygote has imported the probe (the child must run it as __main__ all the same), and its
    # own environment must not reach its children: each gets exactly its request's.
    started = Zygote([PROBE], env=os.environ | {"ZYGOTE_PROBE_ZYGOTE_ENV": "leaked"}).start()
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
    # What the same command started with exec sees (run from the repository: a fresh
    # interpreter finds the probe only there), but for its working directory.
    execed = subprocess.run(
        [sys.executable, "-m", PROBE, "3", "x y"],
        env=_env(ZYGOTE_PROBE_A="1"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert execed.returncode == 3
    expected = json.loads(execed.stdout) | {"cwd": str(workdir), "path0": str(workdir)}
    assert (
        json.loads(first)
        == expected
        == {
            "name": "__main__",
            "argv": ["3", "x y"],
            "env": {"ZYGOTE_PROBE_A": "1"},
            "cwd": str(workdir),
            "argv0": str(PROBE_FILE),
            "path0": str(workdir),
            "sigint": expected["sigint"],
            "imported_by_name": False,
            "stdin": "",
        }
    )
    assert second == "to stderr"


def test_child__sigkill_sigterm_and_a_handled_sigterm__reported_as_popen_reports_them(zygote, tmp_path):
    sleeper = zygote.spawn(PROBE, ["0", "sleep"], env=_env(), log=tmp_path / "sleeper.log")
    plain = zygote.spawn(PROBE, ["0", "sleep"], env=_env(), log=tmp_path / "plain.log")
    graceful = zygote.spawn(PROBE, ["0", "term"], env=_env(), log=tmp_path / "graceful.log")
    for name in ("sleeper", "plain", "graceful"):
        _seen(tmp_path / f"{name}.log")
    assert len({sleeper.pid, plain.pid, graceful.pid}) == 3
    assert sleeper.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.2)
    sleeper.kill()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL
    plain.terminate()
    assert plain.wait(timeout=30) == -signal.SIGTERM
    graceful.terminate()
    assert graceful.wait(timeout=30) == 0
    sleeper.kill()  # already reaped: a no-op, as with Popen


def test_spawn__from_four_threads_at_once__every_exit_code_reaches_its_own_child(zygote, tmp_path):
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        try:
            for i in range(10):
                code = thread * 10 + i
                child = zygote.spawn(PROBE, [str(code)], env=_env(), log=tmp_path / f"c{code}.log")
                results[code] = child.wait(timeout=60)
        except BaseException as exc:  # re-raised below in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {code: code for code in range(40)}


def test_pool__one_zygote_per_module__reused(tmp_path):
    made: list[str] = []

    def make(module: str) -> Zygote:
        made.append(module)
        return Zygote([module])

    pool = ZygotePool(make)
    try:
        first = pool.spawn(PROBE, ["4"], env=_env(), log=tmp_path / "a.log")
        second = pool.spawn(PROBE, ["5"], env=_env(), log=tmp_path / "b.log")
        tool = pool.spawn("json.tool", [], env=_env(), log=tmp_path / "tool.log")  # stdin is empty
        assert (first.wait(timeout=30), second.wait(timeout=30), tool.wait(timeout=30)) == (4, 5, 1)
    finally:
        pool.close()
    assert made == [PROBE, "json.tool"]
    assert "Expecting value" in (tmp_path / "tool.log").read_text()
    with pytest.raises(ZygoteError, match="closed"):
        pool.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "c.log")
    closed = Zygote(["json"])
    closed.close()
    with pytest.raises(ZygoteError, match="closed"):
        closed.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "d.log")


def test_zygote__a_module_that_does_not_import__start_names_it(tmp_path):
    with (tmp_path / "zygote.err").open("wb") as err:
        with pytest.raises(ZygoteError, match="did not start"):
            Zygote(["computerails.no_such_module"], stderr=err).start()
    assert "No module named 'computerails.no_such_module'" in (tmp_path / "zygote.err").read_text()


def test_zygote__a_module_printing_at_import__nothing_of_it_reaches_the_protocol_or_a_child(tmp_path):
    # Buffered output (no PYTHONUNBUFFERED) would sit in the zygote's buffer at fork and be
    # written by every child into its own log.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with (tmp_path / "zygote.err").open("wb") as err:
        zygote = Zygote(["this"], env=env, stderr=err).start()  # `this` prints the Zen of Python
    try:
        child = zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "probe.log")
        assert child.wait(timeout=30) == 0
    finally:
        zygote.close()
    assert "The Zen of Python" in (tmp_path / "zygote.err").read_text()
    assert "The Zen of Python" not in (tmp_path / "probe.log").read_text()


def test_zygote__stops_answering__killed_and_the_request_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(zygote_module, "REPLY_TIMEOUT", 0.5)
    zygote = Zygote(["json"]).start()
    try:
        assert zygote.pid is not None
        os.kill(zygote.pid, signal.SIGSTOP)
        with pytest.raises(ZygoteError, match="did not answer"):
            zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "late.log")
        # Killed: an answer arriving late could be taken for the next request's.
        with pytest.raises(ZygoteError):
            zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "next.log")
    finally:
        zygote.close()


def test_zygote__killed_while_a_child_runs__child_still_seen_running_then_its_lost_exit_named(tmp_path):
    zygote = Zygote(["json"]).start()
    child = zygote.spawn(PROBE, ["0", "sleep"], env=_env(), log=tmp_path / "orphan.log")
    _seen(tmp_path / "orphan.log")
    try:
        assert zygote.pid is not None
        os.kill(zygote.pid, signal.SIGKILL)
        with pytest.raises(ZygoteError):  # once the reader has seen the zygote's end
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                zygote.spawn(PROBE, ["0"], env=_env(), log=tmp_path / "late.log").kill()
                time.sleep(0.01)  # until the zygote's end is seen
        assert child.poll() is None  # running still: an orphan, signalled by its pid
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.2)
        child.kill()
        with pytest.raises(ZygoteError, match=f"child {child.pid} .*exit code is lost"):
            child.wait()  # no timeout: returns as soon as the orphan is gone
    finally:
        if not zygote_module._gone(child.pid):
            os.kill(child.pid, signal.SIGKILL)
        zygote.close()
