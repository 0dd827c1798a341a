"""Mistakes reach SDK users as typed errors under the one root, ComputeRailsError (issue 11):
a deployment that is not on the node, a stopped node (connecting and reading), an address that
holds no token, a spec hash that is not one, a bad amount, deadline, key or deployment file.
Nothing is sent in any of these cases."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from web3 import HTTPProvider, Web3

import computerails
from computerails import errors
from computerails.deployments import Deployment
from computerails.types import to_raw, to_timestamp
from tests.support.anvil import Anvil, free_port
from tests.support.sdk import SPEC, raises_unsent


@pytest.fixture(scope="module")
def empty_anvil(tmp_path_factory):
    """A devnet with the same chain id as the session's and nothing deployed: a restarted devnet."""
    node = Anvil().start()
    yield node
    node.stop()


def _block(url):
    return Web3(HTTPProvider(url)).eth.block_number


def test_connect__deployment_not_on_the_node__deployment_not_found_by_name(empty_anvil, deployment_file):
    with pytest.raises(errors.DeploymentNotFound) as info:
        computerails.connect(empty_anvil.url, deployment=deployment_file, account="0x" + "11" * 32)

    contracts = json.loads(deployment_file.read_text())["contracts"]
    assert isinstance(info.value, errors.ComputeRailsError)
    assert (info.value.chain_id, info.value.address) == (31337, contracts[info.value.contract])
    assert str(info.value).startswith(f"no contract code at {info.value.contract} {info.value.address} on chain 31337")
    assert _block(empty_anvil.url) == 0  # nothing sent


def test_connect__node_stopped__rpc_unavailable(deployment_file):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(errors.RPCUnavailable, match=rf"^node {url} is unreachable \(connection refused\)"):
        computerails.connect(url, deployment=deployment_file)


def test_reads__node_gone_after_connecting__rpc_unavailable(readonly):
    readonly.w3.provider = HTTPProvider(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(errors.RPCUnavailable, match="is unreachable"):
        readonly.now()
    with pytest.raises(errors.RPCUnavailable, match="is unreachable"):
        readonly.views.job_count()


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("eoa", "no contract code there (an account, or another chain's)"),
        ("contract", "its symbol() and decimals() do not answer as a token's"),
    ],
)
def test_create_job__token_address_not_a_token__invalid_token_nothing_sent(
    client_rails, registered_provider, faucet, token, problem
):
    faucet(client_rails, usd=100)
    address = registered_provider.address if token == "eoa" else client_rails.escrow.address

    with raises_unsent(client_rails, errors.InvalidToken) as info:
        client_rails.client.create_job(
            registered_provider.address, Decimal("0.1"), 10, timedelta(hours=1), SPEC, token=address
        )

    assert str(info.value) == f"{address} is not an ERC-20 token on chain 31337: {problem}"
    assert info.value.address == address


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0xnothex", "spec_hash '0xnothex' is not hex: expected 0x followed by 64 hex digits"),
        ("0x" + "ab" * 31, "spec_hash must be 32 bytes, got 31"),
    ],
)
def test_create_job__spec_not_32_bytes_of_hex__invalid_spec_nothing_sent(
    client_rails, registered_provider, faucet, spec, message
):
    faucet(client_rails, usd=100)
    with raises_unsent(client_rails, errors.InvalidSpec, match=message):
        client_rails.client.create_job(registered_provider.address, Decimal("0.1"), 10, timedelta(hours=1), spec)


def test_create_job__negative_price__invalid_amount_nothing_sent(client_rails, registered_provider, faucet):
    faucet(client_rails, usd=100)
    with raises_unsent(client_rails, errors.InvalidAmount, match="must not be negative"):
        client_rails.client.create_job(registered_provider.address, Decimal("-1"), 10, timedelta(hours=1), SPEC)


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-1", "must not be negative"), ("abc", "'abc' is not a number"), ("NaN", "is not a finite number")],
)
def test_to_raw__not_an_amount__invalid_amount(amount, message):
    with pytest.raises(errors.InvalidAmount, match=message) as info:
        to_raw(amount, 6)
    assert isinstance(info.value, errors.ComputeRailsError)
    with pytest.raises(errors.InvalidAmount, match="more than 6 decimals"):
        to_raw("0.0000001", 6)


def test_to_timestamp__naive_datetime__invalid_deadline():
    with pytest.raises(errors.InvalidDeadline, match="timezone-aware"):
        to_timestamp(datetime(2030, 1, 1))


def test_connect__account_not_a_key__invalid_key(anvil, deployment_file):
    with pytest.raises(errors.InvalidKey, match="not a private key"):
        computerails.connect(anvil.url, deployment=deployment_file, account="gpu-box-2")


def test_deployment_file__missing_fields__one_line_deployment_error(tmp_path):
    path = tmp_path / "31337.json"
    path.write_text('{"chainId": 31337}')
    with pytest.raises(errors.DeploymentError) as info:
        Deployment.from_file(path)
    assert str(info.value) == (
        f"deployment file {path} is malformed (deployBlock: field required; contracts: field required; "
        "tokens: field required): write it again with `make deploy`"
    )
