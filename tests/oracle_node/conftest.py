"""The oracle node's probing suites run real processes on 127.0.0.1: an anvil with the protocol
deployed (once per session, tests/support/anvil), provider agents started as subprocesses on free
ports (tests/support/agent) and a stdlib stub server for the failures an agent never shows
(stub_health.py), each stopped by its own pid.

Every session fixture here is prefixed (``probe_``): tests/agent, tests/sdk and the other daemon
suites name their own session devnets ``anvil``, ``connect``, ``make_agent``; a worker running
two suites with the same names rebuilds the other suite's session fixtures."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import computerails
from computerails.devnet import dev_key
from computerails.rails import ComputeRails
from tests.support.agent import AgentProcess, keystore_settings, mint, write_config
from tests.support.anvil import devnet_fixtures, free_port
from tests.support.sdk import FIRST_STAKE, PROVIDER

#: A key no provider registered: an agent started with it answers for the wrong address.
STRANGER = 8
#: Providers registered for one test each (the directory's cases).
SPARE_PROVIDERS = (9, 10, 11, 12, 13)
DOOMED = 16  # its agent is killed
STUB = Path(__file__).with_name("stub_health.py")
READY_TIMEOUT = 30.0

probe_anvil, probe_deployment_file, probe_w3 = devnet_fixtures(prefix="probe_")  # one node per xdist worker


@pytest.fixture(scope="session")
def probe_connect(probe_anvil, probe_deployment_file):
    def _connect(index: int | None = None) -> ComputeRails:
        return computerails.connect(
            probe_anvil.url, deployment=probe_deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


@pytest.fixture(scope="session")
def probe_register(probe_connect):
    """probe_register(index, metadata_uri) -> the provider's connection, registered with stake."""

    def _register(index: int, metadata_uri: str) -> ComputeRails:
        rails = probe_connect(index)
        mint(rails, stake=FIRST_STAKE)
        rails.provider.register(metadata_uri, FIRST_STAKE)
        return rails

    return _register


@pytest.fixture(scope="session")
def probe_make_agent(probe_anvil, probe_deployment_file, tmp_path_factory):
    """probe_make_agent(index) -> an AgentProcess (not started) signing with dev key `index`, with its
    own data folder; every agent still running at the end of the session is killed by its pid."""
    made: list[AgentProcess] = []

    def _make(index: int) -> AgentProcess:
        folder = tmp_path_factory.mktemp("agent")
        values = {
            "rpc_url": probe_anvil.url,
            "deployment": str(probe_deployment_file),
            **keystore_settings(index, folder / "keys"),
            "data_dir": str(folder / "data"),
            "price": "0.01",
            "native_price": "1",
            "collect_interval": 0,
        }
        agent = AgentProcess(write_config(folder / "agent.toml", **values), folder)
        made.append(agent)
        return agent

    yield _make
    for agent in made:
        if agent.running():
            agent.kill()


@pytest.fixture(scope="session")
def probe_agents(probe_make_agent, probe_register) -> dict[str, tuple[ComputeRails, AgentProcess]]:
    """The agents the suite probes, registered at their URLs and started side by side (each
    start waits for the agent's imports and its node): name -> (the provider's connection, the
    agent).

    - ``own``: the registered provider's own agent;
    - ``impostor``: a registered provider whose URL serves an agent holding another key (a
      proxy or a stand-in);
    - ``doomed``: a provider's own agent, for the test that kills it.
    """
    plan = {"own": (PROVIDER, PROVIDER), "impostor": (SPARE_PROVIDERS[0], STRANGER), "doomed": (DOOMED, DOOMED)}
    made = {name: probe_make_agent(key) for name, (_, key) in plan.items()}
    # Started before registering (an agent needs no registration to serve its health answer):
    # a free port is only reserved once something listens on it, so bind it at once.
    with ThreadPoolExecutor(len(made)) as pool:
        list(pool.map(AgentProcess.start, made.values()))
    return {name: (probe_register(plan[name][0], agent.url), agent) for name, agent in made.items()}


@pytest.fixture(scope="session")
def provider_agent(probe_agents):
    return probe_agents["own"]


@pytest.fixture(scope="session")
def impostor(probe_agents):
    return probe_agents["impostor"]


@pytest.fixture(scope="session")
def health_stub(tmp_path_factory) -> Iterator[str]:
    """The stub health server's base URL; a path prefix picks its behaviour (stub_health.py)."""
    port = free_port()
    log = (tmp_path_factory.mktemp("stub") / "stub.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(STUB), str(port), dev_key(PROVIDER)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + READY_TIMEOUT
    while not _listening(port):
        assert process.poll() is None and time.monotonic() < deadline, "the stub did not start"
        time.sleep(0.05)  # readiness polling
    yield f"http://127.0.0.1:{port}"
    process.kill()
    process.wait(timeout=30)
    log.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def run(coroutine: Any) -> Any:
    """Run one coroutine to its end (the suites have no async test plugin)."""
    return asyncio.run(coroutine)
