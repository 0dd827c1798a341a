"""SDK tests run against a real anvil started here on a free port, with the protocol deployed
by the project's deploy script. Each test runs inside an evm_snapshot / evm_revert pair."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

import computerails
from computerails.cli import cli, main
from computerails.devnet import dev_key
from tests.support.anvil import devnet_fixtures
from tests.support.rewards import posted_root
from tests.support.sdk import (
    CLIENT,
    FIRST_STAKE,
    GOVERNANCE,
    KEY_VAR,
    ORACLES,
    OTHER_CLIENT,
    OTHER_PROVIDER,
    PROVIDER,
    RELAYER,
    RESULT,
    SPEC,
)

anvil, deployment_file, w3 = devnet_fixtures()  # session scope: one node per xdist worker


@pytest.fixture(autouse=True)
def _revert_chain(request, w3, deployment_file):
    """Isolate every SDK test: snapshot before, revert after."""
    if request.node.get_closest_marker("no_snapshot"):
        yield
        return
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def connect(anvil, deployment_file, _revert_chain):
    """connect(index) -> ComputeRails signing with the test mnemonic's account `index`.

    Depends on `_revert_chain` explicitly: Ape's pytest plugin reorders fixtures so that an
    autouse fixture alone may be set up after the state-changing fixtures of a test.
    """

    def _connect(index: int | None = None, **kwargs):
        key = dev_key(index) if index is not None else None
        return computerails.connect(anvil.url, deployment=deployment_file, account=key, **kwargs)

    return _connect


@pytest.fixture
def client_rails(connect):
    return connect(CLIENT)


@pytest.fixture
def provider_rails(connect):
    return connect(PROVIDER)


@pytest.fixture
def oracle_keys():
    return [dev_key(i) for i in ORACLES]


@pytest.fixture
def faucet(w3, deployment_file):
    """faucet(rails, usd=..., stake=...) mints test tokens to the connection's account."""

    def _faucet(rails, usd=0, stake=0):
        if usd:
            token = rails.erc20(rails.deployment.payment_tokens[0])
            rails.send(token.functions.mint(rails.address, int(usd * 10**6)), "mint")
        if stake:
            token = rails.erc20(rails.deployment.staking_token)
            rails.send(token.functions.mint(rails.address, int(stake * 10**18)), "mint")

    return _faucet


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "no_snapshot: run outside the per-test evm snapshot/revert (the test changes the session node)"
    )


@pytest.fixture
def manual_mining(w3):
    """Turn auto-mining off for the test (the snapshot does not cover it), back on after with
    nothing left in the pool that the next test's blocks could mine."""
    w3.provider.make_request("evm_setAutomine", [False])
    yield
    w3.provider.make_request("anvil_dropAllTransactions", [])
    w3.provider.make_request("evm_setAutomine", [True])


@pytest.fixture
def other_client_rails(connect):
    return connect(OTHER_CLIENT)


@pytest.fixture
def other_provider_rails(connect):
    return connect(OTHER_PROVIDER)


@pytest.fixture
def relayer_rails(connect):
    return connect(RELAYER)


@pytest.fixture
def readonly(connect):
    return connect()


@pytest.fixture
def usd(client_rails):
    return client_rails.token()


@pytest.fixture
def stk(client_rails):
    return client_rails.staking_token


@pytest.fixture
def registered_provider(provider_rails, faucet):
    """The provider, registered with FIRST_STAKE and holding 3 000 more staking tokens."""
    faucet(provider_rails, stake=5_000)
    provider_rails.provider.register("ipfs://meta", FIRST_STAKE)
    return provider_rails


@pytest.fixture
def make_job(client_rails, registered_provider, faucet):
    """make_job(units=100, price="0.10", deadline=2h) -> an open job of 10 mUSD for the provider."""

    def _make(units=100, price="0.10", deadline=timedelta(hours=2), rails=None, provider=None):
        rails = rails or client_rails
        faucet(rails, usd=Decimal(price) * units)
        return rails.client.create_job(provider or registered_provider.address, Decimal(price), units, deadline, SPEC)

    return _make


@pytest.fixture
def accepted_job(make_job, registered_provider):
    return registered_provider.provider.accept(make_job().id)


@pytest.fixture
def attested_job(accepted_job, relayer_rails, oracle_keys):
    relayer_rails.oracle.attest(accepted_job.id, success=True, units=80, result_hash=RESULT, signers=oracle_keys)
    return relayer_rails.views.job(accepted_job.id)


# ───────────────────────── the command line (tests/sdk/test_cli*.py) ─────────────────────────


@pytest.fixture
def run(anvil, deployment_file, _revert_chain):
    """run(index, *args, as_json=True) -> parsed JSON (or text) of a successful CLI invocation."""

    def _run(index, *args, as_json=True, env=None, base=None):
        options = base if base is not None else ["--rpc", anvil.url, "--deployment", str(deployment_file)]
        environment = dict(env or {})
        if index is not None:
            options = options + ["--private-key-env", KEY_VAR]
            environment[KEY_VAR] = dev_key(index)
        if as_json:
            options = options + ["--json"]
        result = CliRunner(mix_stderr=False).invoke(
            cli, options + [str(a) for a in args], env=environment, catch_exceptions=False
        )
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        return json.loads(result.stdout) if as_json else result.stdout

    return _run


@pytest.fixture
def fail(anvil, deployment_file, monkeypatch, capsys, _revert_chain):
    """fail(index, *args) -> the one stderr line of a failing `computerails.cli.main` run."""

    def _fail(index, *args, base=None):
        options = base if base is not None else ["--rpc", anvil.url, "--deployment", str(deployment_file)]
        if index is not None:
            monkeypatch.setenv(KEY_VAR, dev_key(index))
            options = options + ["--private-key-env", KEY_VAR]
        capsys.readouterr()
        code = main(options + [str(a) for a in args])
        out = capsys.readouterr()
        assert code != 0
        lines = out.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err
        assert "Traceback" not in out.err + out.out
        return lines[0]

    return _fail


@pytest.fixture
def sign(run, tmp_path):
    """sign(index, *args) -> the file `computerails oracle sign ...` wrote for dev account `index`."""

    def sign(index, *args):
        path = tmp_path / f"signed-{index}.json"
        path.write_text(run(index, "oracle", "sign", *args, as_json=False))
        return path

    return sign


@pytest.fixture(scope="module")
def world(anvil, deployment_file, w3, tmp_path_factory):
    """The rewards suites' world (tests/support/rewards.py `posted_root`): the devnet distributor
    funded, the root of FIRST active over epochs 0 and 1, its file written; one per module."""

    def connect(key):
        return computerails.connect(anvil.url, deployment=deployment_file, account=key)

    roles = {"provider": dev_key(PROVIDER), "other_provider": dev_key(OTHER_PROVIDER), "client": dev_key(CLIENT)}
    oracles = [dev_key(i) for i in ORACLES]
    with posted_root(connect, w3, tmp_path_factory.mktemp("rewards"), dev_key(GOVERNANCE), oracles, roles) as w:
        yield w
