"""Shared fixtures: one protocol deployment per session (Ape isolates each test by snapshot),
session-scoped role accounts and factory fixtures with sensible defaults. Helpers the tests
import live in tests/support/."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_account import Account
from eth_utils import keccak

from computerails.devnet import DEFAULT_PARAMS
from computerails.devnet import agent as devnet_agent
from computerails.devnet.zygote import ZygotePool
from tests.support import fast_evm
from tests.support.deployment import deploy, through_timelock
from tests.support.protocol import STAKE, Protocol
from tests.support.reverts import error_data as encode_error_data
from tests.support.reverts import reverts as strict_reverts
from tests.support.reverts import selector as error_selector
from tests.support.signatures import addr_key, high_s_twin, predicted_rejection, raw_signatures, recover

fast_evm.skip_idle_work()


@pytest.fixture(scope="session", autouse=True)
def daemons_forked_from_zygotes():
    """The agents, oracle nodes and keepers the suites start are forked from a warm interpreter
    per daemon module and worker (:mod:`computerails.devnet.zygote`): each start then skips the
    second of CPU its imports cost. A zygote starts with its module's first daemon, so a worker
    that runs none pays nothing."""
    zygotes = ZygotePool()
    devnet_agent.ZYGOTES = zygotes
    yield zygotes
    devnet_agent.ZYGOTES = None
    zygotes.close()


@pytest.fixture(scope="session")
def governance(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def arbitrator(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def client(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def other_client(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def provider(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def other_provider(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def relayer(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[10]


@pytest.fixture(scope="session")
def oracles(accounts):
    return [accounts[17], accounts[18], accounts[19]]


@pytest.fixture(scope="session")
def deployment(governance, treasury, arbitrator, oracles):
    """The protocol as the deploy script leaves it (every admin and governor role held by the
    timelock, `governance` its proposer and executor and the guardian), plus one operation
    through that timelock (scheduled, its delay waited out, executed) that makes `governance` a
    direct admin and governor of every contract, so that unit tests can call setters without
    waiting. tests/deploy/ checks the untouched production wiring on fresh deployments."""
    d = deploy(
        governance, treasury=treasury, arbitrator=arbitrator, oracles=oracles, threshold=DEFAULT_PARAMS["threshold"]
    )
    calls = []
    for contract in (d.staking, d.escrow, d.slasher, d.hub, d.metered):
        for role in (contract.DEFAULT_ADMIN_ROLE(), contract.GOVERNOR_ROLE()):
            calls.append((contract, contract.grantRole.encode_input(role, governance.address)))
    through_timelock(d, governance, calls)
    return d


@pytest.fixture(scope="session")
def staking(deployment):
    return deployment.staking


@pytest.fixture(scope="session")
def escrow(deployment):
    return deployment.escrow


@pytest.fixture(scope="session")
def hub(deployment):
    return deployment.hub


@pytest.fixture(scope="session")
def slasher(deployment):
    return deployment.slasher


@pytest.fixture(scope="session")
def usd(deployment):
    return deployment.payment_tokens[0]


@pytest.fixture(scope="session")
def stake_token(deployment):
    return deployment.staking_token


@pytest.fixture(scope="session")
def protocol(deployment, oracles, chain):
    """Drives the protocol the way users do: see tests/utils/protocol.py."""
    return Protocol(deployment, oracles, chain)


@pytest.fixture
def registered_provider(protocol, provider):
    """`provider`, registered with 10,000 stake tokens."""
    protocol.register(provider, 10_000 * STAKE)
    return provider


@pytest.fixture
def open_job(protocol, client, registered_provider):
    """A job of 100 units at 0.10 USD (10 USD escrow), created by `client`, not yet accepted."""
    return protocol.create_job(client, registered_provider)


@pytest.fixture
def accepted_job(protocol, open_job, registered_provider):
    protocol.escrow.accept(open_job, sender=registered_provider)
    return open_job


@pytest.fixture
def attested_job(protocol, accepted_job):
    """An accepted job attested as a success for 60 of its 100 units."""
    protocol.attest(accepted_job, success=True, units=60)
    return accepted_job


@pytest.fixture  # pure helper: function scope keeps Ape's chain isolation in order
def reverts():
    """``with reverts(escrow.NotJobClient, expected=..., caller=...):`` matches the complete
    revert data (see tests/support/reverts.py for why plain ape.reverts is not enough)."""
    return strict_reverts


@pytest.fixture  # pure helper: function scope keeps Ape's chain isolation in order
def selector():
    return error_selector


@pytest.fixture  # pure helper: function scope keeps Ape's chain isolation in order
def error_data():
    return encode_error_data


# ─────────────────────────── signature tools (hub and adversarial suites) ───────────────────────────


@pytest.fixture(scope="session")
def quorum():
    """Signature tools: ``quorum.sign(digest, signers)`` (order kept), ``quorum.recover``,
    ``quorum.predict(digest, signatures, oracle_set, threshold)`` and ``quorum.high_s_twin``."""
    return SimpleNamespace(sign=raw_signatures, recover=recover, predict=predicted_rejection, high_s_twin=high_s_twin)


@pytest.fixture(scope="session")
def sorted_oracles(oracles):
    """The oracle accounts in increasing address order (the order signatures must come in)."""
    return sorted(oracles, key=lambda o: addr_key(o.address))


@pytest.fixture(scope="session")
def outsider():
    """A key that is not and never was an oracle (signs like a test account)."""
    key = keccak(text="computerails outsider oracle")
    return SimpleNamespace(address=Account.from_key(key).address, private_key=key)


# ─────────────────────────── the fast harness's anvil ───────────────────────────


@pytest.fixture(scope="session")
def world():
    """One harness anvil per worker process, deployed, wired and funded once: the stateful
    machine and the gas budgets drive it over raw JSON-RPC (tests/stateful/harness.py)."""
    from tests.stateful.harness import build_world, harness_anvil

    with harness_anvil() as node:
        yield build_world(node.url)


# ─────────────────────────── markers ───────────────────────────

#: Fixtures that stand for a chain: a test using any of them (directly or through another
#: fixture) is marked `chain`; `make test-fast` runs the others.
CHAIN_FIXTURES = {
    "chain",
    "accounts",
    "project",
    "networks",
    "deployment",
    "anvil",
    "w3",
    "connect",
    "world",
    "deployment_file",
    "node",
    "runs",
    "results",
}


def _uses_module_fixture(item) -> bool:
    """The test uses a module-scoped fixture (a demo run, an agent process, a devnet of its own)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(d.scope == "module" for defs in info.name2fixturedefs.values() for d in defs)


#: The longest modules (make test's --durations): scheduled first, so the two workers do not end
#: with one of them alone on a minute-long test while the other idles.
SLOW_FIRST = (
    "tests/e2e/test_network_demo.py",
    "tests/e2e/test_cli_flow.py",
    "tests/sdk/test_imports.py",
    "tests/agent/test_readme_provider.py",
    "tests/e2e/test_demo.py",
    "tests/oracle_network/",
    "tests/stateful/",
    "tests/contracts/metered/test_metered_property.py",
    "tests/bench/",
    "tests/keeper_node/",
)


def _rank(item) -> int:
    path = item.nodeid.partition("::")[0]
    return next((i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the xdist_group marks added here
def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)  # stable: the order inside each rank stays the collection order
    for item in items:
        if CHAIN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.chain)
        # make test runs `--dist loadgroup`: a module's tests that share a module fixture go to
        # one worker, so an expensive fixture (the network demo, an agent process) is built once
        # per run, not once per worker its tests happened to be sent to.
        if _uses_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
