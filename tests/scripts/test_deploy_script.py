"""`ape run deploy` itself, against an anvil the test keeps running: the deployment file it
writes, and `computerails deployments check` passing on it (also on a copy without MeteredEscrow,
as files written before issue 12 are), and failing, with one error line, once a role is gone)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from web3 import HTTPProvider, Web3

from computerails.cli import main
from computerails.deployments import Deployment, abi_hash, load_artifact, role_id
from computerails.devnet import dev_address, dev_key, through_timelock
from tests.support.anvil import Anvil

ROOT = Path(__file__).resolve().parents[2]


def test_ape_run_deploy__running_anvil__file_written_and_deployment_check_passes_then_fails(tmp_path, capsys):
    with Anvil() as node:
        env = dict(os.environ, APE_FOUNDRY_HOST=node.url)
        env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "ape"),
                "run",
                "deploy",
                "--network",
                "ethereum:local:foundry",
                "--out",
                str(tmp_path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        path = tmp_path / "31337.json"
        assert f"Wrote {path}" in result.stdout
        written = json.loads(path.read_text())
        assert set(written["contracts"]) == {
            "ProviderStaking",
            "JobEscrow",
            "UptimeSlasher",
            "AttestationHub",
            "MeteredEscrow",
            "RewardsDistributor",
        }
        assert written["governance"]["timelockDelay"] == 8 * 86_400

        assert main(["--rpc", node.url, "--deployment", str(path), "--json", "deployments", "check"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and report["problems"] == [] and all(r["ok"] for r in report["roles"])
        metered_roles = {(r["role"], r["holder_name"]) for r in report["roles"] if r["contract"] == "MeteredEscrow"}
        assert metered_roles == {
            ("DEFAULT_ADMIN_ROLE", "timelock"),
            ("GOVERNOR_ROLE", "timelock"),
            ("PAUSER_ROLE", "guardian"),
            ("DEFAULT_ADMIN_ROLE", "deployer"),
            ("GOVERNOR_ROLE", "deployer"),
        }
        rewards_roles = {
            (r["role"], r["holder_name"]) for r in report["roles"] if r["contract"] == "RewardsDistributor"
        }
        assert rewards_roles == {
            ("DEFAULT_ADMIN_ROLE", "timelock"),
            ("GOVERNOR_ROLE", "timelock"),
            ("GUARDIAN_ROLE", "guardian"),
            ("DEFAULT_ADMIN_ROLE", "deployer"),
            ("GOVERNOR_ROLE", "deployer"),
        }
        # a file written before MeteredEscrow existed still checks, on the contracts it records
        old = {
            **written,
            "contracts": {
                k: v for k, v in written["contracts"].items() if k not in ("MeteredEscrow", "RewardsDistributor")
            },
        }
        old["abiHash"] = abi_hash({name: load_artifact(name)["abi"] for name in old["contracts"]})  # over four
        old_path = tmp_path / "old" / "31337.json"
        old_path.parent.mkdir()
        old_path.write_text(json.dumps(old))
        assert main(["--rpc", node.url, "--deployment", str(old_path), "--json", "deployments", "check"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and not [r for r in report["roles"] if r["contract"] == "MeteredEscrow"]

        # governance (the devnet deployer) revokes the escrow's role through the timelock
        w3 = Web3(HTTPProvider(node.url))
        staking = written["contracts"]["ProviderStaking"]
        revoke = Web3().eth.contract(
            abi=[
                {
                    "type": "function",
                    "name": "revokeRole",
                    "stateMutability": "nonpayable",
                    "inputs": [{"name": "role", "type": "bytes32"}, {"name": "account", "type": "address"}],
                    "outputs": [],
                }
            ]
        )
        data = revoke.encode_abi("revokeRole", [role_id("COLLATERAL_MANAGER_ROLE"), written["contracts"]["JobEscrow"]])
        through_timelock(w3, Deployment.from_file(path), dev_key(0), [(staking, data)])

        assert main(["--rpc", node.url, "--deployment", str(path), "deployments", "check"]) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: deployment check failed: JobEscrow ")
        assert "lacks COLLATERAL_MANAGER_ROLE on ProviderStaking" in lines[0]

        # governance takes the guardian's pause on MeteredEscrow away: the check names it too
        guardian = written["governance"]["guardian"]
        data = revoke.encode_abi("revokeRole", [role_id("PAUSER_ROLE"), guardian])
        through_timelock(w3, Deployment.from_file(path), dev_key(0), [(written["contracts"]["MeteredEscrow"], data)])

        assert main(["--rpc", node.url, "--deployment", str(path), "--json", "deployments", "check"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert not report["ok"]
        assert len(report["problems"]) == 2
        assert report["problems"][1] == (
            f"guardian {guardian} lacks PAUSER_ROLE on MeteredEscrow: nobody can pause in an emergency"
        )
        (failed,) = [r for r in report["roles"] if not r["ok"] and r["contract"] == "MeteredEscrow"]
        assert (failed["role"], failed["holder"]) == ("PAUSER_ROLE", guardian)


def test_ape_run_deploy__public_network_invocation_with_account_new_keystore__deployment_check_passes(
    tmp_path, capsys, monkeypatch
):
    """README's invocation for public networks (`--network URL --account NAME` and every address
    given), with the Ape account `computerails account new --name` made: Ape reads that keystore."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("APE_DATA_FOLDER", raising=False)
    monkeypatch.setenv("CR_DEPLOYER_KEY", dev_key(9))
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", "pw")
    assert main(["account", "new", "--name", "deployer", "--import-key-env", "CR_DEPLOYER_KEY"]) == 0
    with Anvil() as node:
        assert main(["--rpc", node.url, "--json", "devnet", "deploy", "--out", str(tmp_path / "devnet")]) == 0
        tokens = json.loads((tmp_path / "devnet" / "31337.json").read_text())["tokens"]
        capsys.readouterr()
        governance, treasury, *oracles = (dev_address(i) for i in (0, 1, 17, 18, 19))
        env = dict(os.environ, APE_ACCOUNTS_deployer_PASSPHRASE="pw")
        env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
        args = ["run", "deploy", "--network", node.url, "--account", "deployer", "--out", str(tmp_path / "public")]
        args += ["--staking-token", tokens["staking"], "--payment-token", tokens["payment"][0]]
        args += ["--collateral-rate", "500000000000000000000000000000", "--treasury", treasury]
        args += ["--arbitrator", governance, "--governance", governance, "--guardian", governance, "--threshold", "2"]
        for oracle in oracles:
            args += ["--oracle", oracle]
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ape"), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        path = tmp_path / "public" / "31337.json"
        assert json.loads(path.read_text())["governance"]["deployer"] == dev_address(9)
        assert main(["--rpc", node.url, "--deployment", str(path), "--json", "deployments", "check"]) == 0
        assert json.loads(capsys.readouterr().out)["ok"] is True
