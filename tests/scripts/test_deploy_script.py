"""`ape run deploy` itself, against an anvil the test keeps running: the deployment file it
writes, and `computerails deployments check` passing on it (and failing, with one error
line, once a role is gone)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from web3 import HTTPProvider, Web3

from computerails.cli import main
from computerails.deployments import Deployment, role_id
from computerails.devnet import dev_key, through_timelock
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
        assert set(written["contracts"]) == {"ProviderStaking", "JobEscrow", "UptimeSlasher", "AttestationHub"}
        assert written["governance"]["timelockDelay"] == 8 * 86_400

        assert main(["--rpc", node.url, "--deployment", str(path), "--json", "deployments", "check"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and report["problems"] == [] and all(r["ok"] for r in report["roles"])

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
