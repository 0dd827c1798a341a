"""`ape run claim_rewards`: an operator claims through the SDK; a second run finds nothing."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import computerails
from tests.support.anvil import Anvil, dev_key

ROOT = Path(__file__).resolve().parents[2]
PROVIDER, CLIENT, ORACLES = 5, 3, (17, 18, 19)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    anvil = Anvil().start()
    deployment = anvil.deploy(tmp_path_factory.mktemp("deployments"))
    yield anvil, deployment
    anvil.stop()


def run_script(anvil: Anvil, deployment: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, APE_FOUNDRY_HOST=anvil.url)
    env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ape"),
            "run",
            "claim_rewards",
            "--network",
            "ethereum:local:foundry",
            "--account",
            f"TEST::{PROVIDER}",
            "--deployment",
            str(deployment),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_claim_rewards__twice__claims_then_nothing(node):
    anvil, deployment = node
    client = computerails.connect(anvil.url, deployment=deployment, account=dev_key(CLIENT))
    provider = computerails.connect(anvil.url, deployment=deployment, account=dev_key(PROVIDER))
    usd = client.erc20(client.deployment.payment_tokens[0])
    stake = provider.erc20(provider.deployment.staking_token)
    client.send(usd.functions.mint(client.address, 100 * 10**6), "mint")
    provider.send(stake.functions.mint(provider.address, 2_000 * 10**18), "mint")
    provider.provider.register("ipfs://p", Decimal(2_000))
    job = client.client.create_job(provider.address, Decimal("0.10"), 100, timedelta(hours=2), b"\x01" * 32)
    provider.provider.accept(job.id)
    provider.oracle.attest(
        job.id, success=True, units=80, result_hash=b"\x02" * 32, signers=[dev_key(i) for i in ORACLES]
    )
    client.w3.provider.make_request("evm_increaseTime", [3_601])
    client.w3.provider.make_request("evm_mine", [])
    client.send(client.escrow.functions.settle(job.id), "settle")
    wallet_before = usd.functions.balanceOf(provider.address).call()

    first = run_script(anvil, deployment)
    assert first.returncode == 0, first.stderr
    assert "Claimed 7.8 mUSD from escrow" in first.stdout  # 80 units * 0.10 less the 2.5% fee
    assert usd.functions.balanceOf(provider.address).call() - wallet_before == 7_800_000

    second = run_script(anvil, deployment)
    assert second.returncode == 0, second.stderr
    assert f"Nothing to claim for {provider.address}." in second.stdout
