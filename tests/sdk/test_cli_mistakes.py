"""Each mistake issue 11 met at the command line prints one `error:` line, exits non-zero and
sends nothing: a deployment that is not on the node, a token address that is not a token, `0x123`
and `gpu-box-2` as addresses, a keystore holding `{}`, a malformed deployment file, a stopped
node, and the demo's --rpc/--deployment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from web3 import HTTPProvider, Web3

from computerails.sim.demo import cli as demo_cli
from tests.sdk.test_cli import _books
from tests.support.anvil import Anvil, free_port
from tests.support.sdk import CLIENT, SPEC

CREATE = ["--yes", "client", "create-job", "--unit-price", "0.10", "--max-units", 10, "--spec-hash", "0x" + SPEC.hex()]


@pytest.fixture(scope="module")
def empty_anvil():
    """A devnet with the session's chain id and nothing on it: what a restarted devnet looks like."""
    node = Anvil().start()
    yield node
    node.stop()


def _unreachable(url):
    return (
        f"RPCUnavailable: node {url} is unreachable (connection refused): start it, or give the right RPC URL (--rpc)"
    )


def _blocks(url):
    return Web3(HTTPProvider(url)).eth.block_number


def test_main__deployment_not_on_the_node__one_line_nothing_sent(fail, empty_anvil, deployment_file):
    base = ["--rpc", empty_anvil.url, "--deployment", str(deployment_file)]

    line = fail(CLIENT, *CREATE, "--provider", "0x" + "11" * 20, base=base)

    assert line.startswith("error: DeploymentNotFound: no contract code at ")
    assert "on chain 31337: the deployment" in line and str(deployment_file) in line
    assert _blocks(empty_anvil.url) == 0


@pytest.mark.parametrize("token", ["account", "contract"])
def test_client_create_job__token_not_a_token__one_line_nothing_sent(
    fail, client_rails, registered_provider, faucet, token
):
    faucet(client_rails, usd=100)
    address = registered_provider.address if token == "account" else client_rails.escrow.address
    before = _books(client_rails)

    line = fail(CLIENT, *CREATE, "--provider", registered_provider.address, "--token", address)

    assert line.startswith(f"error: InvalidToken: {address} is not an ERC-20 token on chain 31337: ")
    assert _books(client_rails) == before


@pytest.mark.parametrize("value", ["0x123", "gpu-box-2"])
def test_client_create_job__provider_not_an_address__one_line_nothing_sent(fail, client_rails, faucet, value):
    faucet(client_rails, usd=100)
    before = _books(client_rails)

    line = fail(CLIENT, *CREATE, "--provider", value)

    assert line == (
        f"error: Invalid value for '--provider': address {value} is not 20 bytes of hex: "
        "expected 0x followed by 40 hex digits"
    )
    assert _books(client_rails) == before


def test_provider_status__name_instead_of_address__one_line(fail):
    assert fail(None, "provider", "status", "gpu-box-2").startswith(
        "error: Invalid value for '[ADDRESS]': address gpu-box-2 is not 20 bytes of hex"
    )


def test_keystore__empty_json_object__one_line_nothing_sent(fail, anvil, deployment_file, tmp_path, monkeypatch, w3):
    keystore = tmp_path / "key.json"
    keystore.write_text("{}")
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", "whatever")
    block = w3.eth.block_number

    line = fail(
        None,
        "client",
        "withdraw",
        base=["--rpc", anvil.url, "--deployment", str(deployment_file), "--keystore", str(keystore)],
    )

    assert line == (
        f"error: {keystore} is not an encrypted V3 keystore (no version 3 and crypto section): "
        "make one with `computerails account new`"
    )
    assert w3.eth.block_number == block


def test_deployment_file__malformed__one_line_nothing_sent(fail, anvil, tmp_path, w3):
    path = tmp_path / "31337.json"
    path.write_text(json.dumps({"chainId": 31337, "deployBlock": "soon", "contracts": {}, "tokens": {}}))
    block = w3.eth.block_number

    line = fail(CLIENT, "client", "withdraw", base=["--rpc", anvil.url, "--deployment", str(path)])

    assert line == (
        f"error: DeploymentError: deployment file {path} is malformed (deployBlock: input should be a valid "
        "integer, unable to parse string as an integer): write it again with `make deploy`"
    )
    assert w3.eth.block_number == block


def test_main__node_stopped__one_rpc_unavailable_line(fail, deployment_file):
    url = f"http://127.0.0.1:{free_port()}"

    line = fail(CLIENT, "client", "withdraw", base=["--rpc", url, "--deployment", str(deployment_file)])

    assert line == f"error: {_unreachable(url)}"


# ───────────────────────── the demo (python -m computerails.sim, ape run demo) ─────────────────────────


def _demo(*args):
    result = CliRunner(mix_stderr=False).invoke(demo_cli, [str(a) for a in args])
    assert result.exit_code != 0 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and not result.stdout, result.stderr
    return result.exit_code, lines[0]


def test_demo__rpc_stopped_node__one_line(deployment_file):
    url = f"http://127.0.0.1:{free_port()}"
    code, line = _demo("--rpc", url, "--deployment", deployment_file)
    assert code == 1
    assert line == f"error: {_unreachable(url)}"


def test_demo__deployment_missing__one_line_nothing_sent(anvil, tmp_path, w3):
    block = w3.eth.block_number
    missing = tmp_path / "missing.json"

    code, line = _demo("--rpc", anvil.url, "--deployment", missing)

    assert code == 1
    assert line == f"error: DeploymentError: deployment file {missing} does not exist"
    assert w3.eth.block_number == block
    assert _demo("--deployment", missing) == (
        2,
        "error: --deployment needs --rpc (without --rpc the demo deploys to a fresh anvil)",
    )


def test_demo__python_m_entry_point__one_line_exit_1(deployment_file):
    """The real entry point (`python -m computerails.sim`, what `make demo` runs; `ape run demo`
    wraps the same click command): one line on stderr, exit 1."""
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "computerails.sim", "--rpc", url, "--deployment", str(deployment_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {_unreachable(url)}"]
