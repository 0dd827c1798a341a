"""Deployment files: by path, by chain id from the registry, and refused when broken."""

import json
import warnings
from pathlib import Path

import pytest

import computerails
from computerails import errors
from computerails.deployments import Deployment, known_deployments, load_deployment


@pytest.fixture
def isolated_registry(tmp_path, monkeypatch):
    """No ./deployments and an empty $COMPUTERAILS_DEPLOYMENTS: only what the test puts there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMPUTERAILS_DEPLOYMENTS", raising=False)
    return tmp_path


def test_load_deployment__by_path__fields_and_source(deployment_file):
    data = json.loads(deployment_file.read_text())

    d = load_deployment(deployment_file)

    assert (d.chain_id, d.deploy_block, d.source) == (31337, data["deployBlock"], str(deployment_file))
    assert set(d.contracts) == {
        "ProviderStaking",
        "JobEscrow",
        "UptimeSlasher",
        "AttestationHub",
        "MeteredEscrow",
        "RewardsDistributor",
    }
    assert d.address("JobEscrow") == data["contracts"]["JobEscrow"]
    assert (d.staking_token, d.payment_tokens) == (data["tokens"]["staking"], data["tokens"]["payment"])
    assert load_deployment(str(deployment_file)) == d
    with pytest.raises(errors.DeploymentError, match="has no Nope"):
        d.address("Nope")


def test_load_deployment__chain_id_from_env_registry__found(deployment_file, isolated_registry, monkeypatch):
    empty = isolated_registry / "empty"
    empty.mkdir()
    monkeypatch.setenv("COMPUTERAILS_DEPLOYMENTS", f"{empty}:{deployment_file.parent}")

    assert load_deployment(31337).source == str(deployment_file)
    assert load_deployment("31337").source == str(deployment_file)
    assert known_deployments()[31337].source == str(deployment_file)


def test_connect__no_deployment_given__registry_entry_of_node_chain(
    anvil, deployment_file, isolated_registry, monkeypatch
):
    monkeypatch.setenv("COMPUTERAILS_DEPLOYMENTS", str(deployment_file.parent))

    rails = computerails.connect(anvil.url)

    assert rails.deployment.source == str(deployment_file)
    assert rails.views.job_count() == 0


def test_load_deployment__earlier_registry_folder__wins(deployment_file, isolated_registry, monkeypatch):
    first = isolated_registry / "first"
    first.mkdir()
    data = json.loads(deployment_file.read_text())
    (first / "31337.json").write_text(json.dumps({**data, "deployBlock": 999}))
    monkeypatch.setenv("COMPUTERAILS_DEPLOYMENTS", f"{first}:{deployment_file.parent}")

    assert load_deployment(31337).deploy_block == 999


def test_load_deployment__unknown_chain_id__deployment_error(isolated_registry):
    with pytest.raises(errors.DeploymentError, match="no deployment known for chain 424242"):
        load_deployment(424242)
    with pytest.raises(errors.DeploymentError, match="no chain id"):
        load_deployment(None)


def test_load_deployment__missing_file__deployment_error(tmp_path):
    with pytest.raises(errors.DeploymentError, match="does not exist"):
        load_deployment(tmp_path / "nope.json")


def test_load_deployment__path_named_like_a_chain_id__read_as_a_file(deployment_file, isolated_registry):
    """Regression (found by mypy): a Path whose name is all digits went to int(Path) and a TypeError."""
    (isolated_registry / "31337").write_text(deployment_file.read_text())

    assert load_deployment(Path("31337")).source == "31337"
    with pytest.raises(errors.DeploymentError, match="does not exist"):
        load_deployment(Path("424242"))
    with pytest.raises(errors.DeploymentError, match="no deployment known for chain 31337"):
        load_deployment("31337")  # a string of digits stays a chain id


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not readable JSON"),
        ('{"chainId": 31337}', "is malformed"),
        ('{"chainId": "x", "deployBlock": 1, "contracts": {}, "tokens": {}}', "is malformed"),
    ],
    ids=["bad_json", "missing_fields", "wrong_type"],
)
def test_load_deployment__malformed_file__deployment_error(tmp_path, text, message):
    path = tmp_path / "31337.json"
    path.write_text(text)
    with pytest.raises(errors.DeploymentError, match=message):
        load_deployment(path)


def test_matches_sdk_abis__fresh_deployment_true__other_hash_false_and_warned(anvil, deployment_file, tmp_path):
    assert load_deployment(deployment_file).matches_sdk_abis()
    stale = Deployment.model_validate({**json.loads(deployment_file.read_text()), "abiHash": "00" * 32})
    assert not stale.matches_sdk_abis()

    with pytest.warns(UserWarning, match="other contract ABIs than this SDK ships"):
        computerails.connect(anvil.url, deployment=stale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        computerails.connect(anvil.url, deployment=deployment_file)  # the fresh one: no warning
