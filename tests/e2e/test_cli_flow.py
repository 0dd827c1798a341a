"""Every role's whole flow from the shell alone: the installed ``computerails`` entry point, run as a
subprocess per command against a devnet it deployed itself.

Deploy; a provider makes a keystore, gets test tokens, registers and stakes; a client gets test
tokens and creates two jobs; the provider finds and accepts them; two oracle keys sign and a
relayer relays; the client disputes one and the arbitrator rules; anyone settles the other after
its challenge window; provider and client are paid; the provider leaves, unbonds and withdraws.
Only the devnet's clock is moved by the test itself (as `anvil` users do with `cast rpc`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from computerails.devnet import Anvil, dev_address, dev_key, devnet_warp

BIN = Path(sys.executable).parent / "computerails"
PASSWORD = "correct horse battery staple"
ORACLE_A, ORACLE_B = 17, 18  # two of the devnet's three oracles (threshold 2)
GOVERNANCE = 0  # deployer, governance and arbitrator on a devnet deployment
CLIENT, RELAYER = 11, 12
SPEC = "0x" + "5e" * 32
RESULT = "0x" + "7a" * 32


class Shell:
    """Runs ``computerails --rpc URL --deployment FILE ...`` as a user would."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.deployment = folder / "deployments" / "31337.json"
        self.env = {**os.environ, "COMPUTERAILS_PASSWORD": PASSWORD}
        for index in (GOVERNANCE, CLIENT, RELAYER, ORACLE_A, ORACLE_B):
            self.env[f"DEV_KEY_{index}"] = dev_key(index)

    def run(self, *args: Any, key: int | None = None, keystore: Path | None = None, check: bool = True) -> Any:
        who = ["--private-key-env", f"DEV_KEY_{key}"] if key is not None else []
        who += ["--keystore", str(keystore)] if keystore is not None else []
        command = [str(BIN), "--rpc", self.url, "--deployment", str(self.deployment), "--json", "--yes", *who]
        result = subprocess.run(
            [*command, *map(str, args)], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=120
        )
        if not check:
            return result
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def shell(tmp_path):
    node = Anvil().start()
    try:
        yield Shell(node.url, tmp_path), Web3(HTTPProvider(node.url))
    finally:
        node.stop()


def test_cli__every_role_end_to_end__paid_ruled_and_exited(shell):
    sh, w3 = shell
    assert BIN.exists(), "the computerails entry point is installed by make setup"

    # Governance deploys to the running devnet; the check passes.
    sh.run("devnet", "deploy", "--out", sh.folder / "deployments", key=GOVERNANCE)
    sh.run("deployments", "check")

    # The provider makes a keystore, gets test tokens, registers and stakes.
    keystore = sh.folder / "provider.json"
    made = sh.run("account", "new", "--out", keystore)
    provider = made["address"]
    sh.run("devnet", "fund", provider, "--usd", "0", "--stake", "3000")
    sh.run("provider", "register", "--metadata-uri", "ipfs://gpu-box", "--stake", "2000", keystore=keystore)
    assert Decimal(sh.run("provider", "status", provider)["staked"]) == 2000

    # The client gets test tokens and locks payment for two jobs.
    client = dev_address(CLIENT)
    sh.run("devnet", "fund", client, "--usd", "100", "--stake", "0")
    ids = []
    for _ in range(2):
        job = sh.run(
            "client", "create-job", "--provider", provider, "--unit-price", "0.10", "--max-units", 100,
            "--spec-hash", SPEC, key=CLIENT,
        )  # fmt: skip
        assert (job["status"], job["escrow"]) == ("open", "10")
        ids.append(job["id"])
    paid_job, disputed_job = ids

    # The provider finds its jobs without being told their ids, and accepts them.
    found = sh.run("provider", "jobs", provider)
    assert sorted(j["id"] for j in found["to accept"]) == sorted(ids)
    for job_id in ids:
        assert sh.run("provider", "accept", job_id, keystore=keystore)["status"] == "accepted"

    # Two oracle keys sign each result; a relayer relays the quorums.
    assert sorted(j["id"] for j in sh.run("oracle", "pending")["awaiting_attestation"]) == sorted(ids)
    for job_id in ids:
        signed = []
        for oracle in (ORACLE_A, ORACLE_B):
            out = sh.folder / f"signed-{job_id}-{oracle}.json"
            result = sh.run("oracle", "sign", "--job", job_id, "--units", 80, "--result-hash", RESULT, key=oracle)
            out.write_text(json.dumps(result))
            signed += ["--signed", out]
        sh.run("oracle", "attest", *signed, key=RELAYER)
        assert sh.run("job", "show", job_id)["status"] == "attested"

    # The client disputes one job; the arbitrator lists it and rejects the dispute.
    assert sh.run("client", "dispute", disputed_job, key=CLIENT)["status"] == "disputed"
    disputes = sh.run("arbitrator", "disputes")
    assert [d["job_id"] for d in disputes] == [disputed_job] and disputes[0]["bond"] == "1"
    ruled = sh.run("arbitrator", "resolve", disputed_job, "--rejected", key=GOVERNANCE)
    assert (ruled["status"], ruled["units"]) == ("settled", 80)

    # Too early to settle the other: one line, nothing sent; after the window anyone settles it.
    early = sh.run("job", "settle", paid_job, key=RELAYER, check=False)
    assert early.returncode == 1 and early.stderr.count("\n") == 1 and early.stderr.startswith("error:")
    devnet_warp(w3)(2 * 86_400)
    (settled,) = sh.run("job", "settle", paid_job, key=RELAYER)
    assert (settled["job_id"], settled["gross"], settled["fee"], settled["provider_net"], settled["refund"]) == (
        paid_job, "8", "0.2", "7.8", "2"
    )  # fmt: skip

    # Both sides are paid: 80 units of 0.10 per job, less the 2.5 % fee; the client gets the rest.
    claimed = sh.run("provider", "claim", keystore=keystore)
    # Provider: 7.8 net for each job, and the rejected dispute's bond of 1. Client: 2 back per job.
    assert [(p["amount"], p["token"]["symbol"]) for p in claimed] == [("16.6", "mUSD")]
    withdrawn = sh.run("client", "withdraw", key=CLIENT)
    assert (withdrawn["amount"], withdrawn["token"]["symbol"]) == ("4", "mUSD")

    # The provider leaves, unbonds everything and withdraws after the unbonding delay.
    sh.run("provider", "leave", keystore=keystore)
    sh.run("provider", "unbond", "2000", keystore=keystore)
    params = sh.run("params")
    devnet_warp(w3)(int(params["staking"]["unbonding_delay"]) + 1)
    sh.run("provider", "withdraw", keystore=keystore)
    status = sh.run("provider", "status", provider)
    assert Decimal(status["staked"]) == 0 and Decimal(status["unbonding"]) == 0
