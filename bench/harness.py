"""Contract calls per second of the stateful harness's driver (raw JSON-RPC over anvil) against
the path the harness used before (Ape contract calls on its in-process py-evm chain), on the
same workload in one run: per job, createJob, accept, a k = 2 attestation, settle, and a call
the model predicts to revert (an attacker cancelling), checked against its exact revert data.

Both sides deploy through computerails.devnet.deploy_protocol; only the driving differs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from computerails import eip712
from computerails.devnet import ape_build_artifacts, deploy_protocol, grant_direct_governance

ROOT = Path(__file__).resolve().parents[1]
USD = 10**6
STAKE = 10**18
SPEC = b"\x07" * 32
RESULT = b"\x42" * 32
CALLS_PER_JOB = 5  # createJob, accept, submitAttestation, settle, a predicted revert


def _attestation(version: int, job_id: int, provider: str, deadline: int) -> tuple[Any, ...]:
    return (job_id, provider, True, 10, RESULT, deadline, version)


def _signatures(chain_id: int, hub: str, attestation: tuple[Any, ...], oracle_keys: list[str]) -> bytes:
    digest = eip712.typed_digest(eip712.domain_separator(chain_id, hub), eip712.attestation_struct_hash(*attestation))
    return eip712.sign_all(digest, oracle_keys)


def measure_rpc(jobs: int) -> dict[str, Any]:
    """The new driver: tests/support/rpc_chain.py on the harness's anvil."""
    from tests.stateful.harness import build_world, harness_anvil

    with harness_anvil() as node:
        world = build_world(node.url)
        chain, escrow, staking, hub, usd = world.chain, world.escrow, world.staking, world.hub, world.usd
        a = world.actors
        client, provider, attacker = a["client"], a["provider"], a["attacker"]
        staking.register("ipfs://bench", 10_000 * STAKE, sender=provider)
        keys = [o.private_key for o in world.oracle_pool[:2]]
        version = hub.configVersion()
        before = chain.calls
        started = time.perf_counter()
        for _ in range(jobs):
            receipt = escrow.createJob(provider, usd, USD // 10, 100, chain.time + 86_400, SPEC, sender=client)
            job_id = receipt.events.filter(escrow.JobCreated)[0].jobId
            escrow.accept(job_id, sender=provider)
            attestation = _attestation(version, job_id, provider.address, chain.time + 3_600)
            hub.submitAttestation(
                attestation, _signatures(chain.chain_id, hub.address, attestation, keys), sender=client
            )
            with chain.expect_revert(escrow.UnexpectedJobStatus, jobId=job_id, expected=1, actual=3):
                escrow.cancel(job_id, sender=attacker)
            chain.time += 3_601
            escrow.settle(job_id, sender=client)
        seconds = time.perf_counter() - started
        calls = chain.calls - before
    return {"calls": calls, "seconds": round(seconds, 2), "calls_per_s": round(calls / seconds, 1)}


def measure_ape(jobs: int) -> dict[str, Any]:
    """The old path: Ape contract calls on Ape's in-process chain (py-evm), reverts matched with
    the strict matcher the harness used (tests/support/reverts.py)."""
    from ape import accounts, chain, networks, project
    from ape.logging import logger

    from tests.support.reverts import reverts

    logger.set_level("ERROR")  # no "Confirmed 0x..." line per transaction

    with networks.parse_network_choice("ethereum:local:test"):
        acc = accounts.test_accounts
        governance, client, provider, attacker = acc[0], acc[3], acc[5], acc[10]
        oracles = [acc[17], acc[18], acc[19]]
        artifacts = ape_build_artifacts(ROOT / ".build" / "__local__.json")
        w3 = chain.provider.web3
        info = deploy_protocol(
            w3,
            governance.private_key,
            treasury=acc[1].address,
            oracles=[o.address for o in oracles],
            artifacts=artifacts,
        )

        def warp(seconds: int) -> None:
            chain.pending_timestamp += seconds
            chain.mine()

        grant_direct_governance(w3, info, governance.private_key, warp=warp, artifacts=artifacts)
        escrow = project.JobEscrow.at(info.contracts["JobEscrow"])
        staking = project.ProviderStaking.at(info.contracts["ProviderStaking"])
        hub = project.AttestationHub.at(info.contracts["AttestationHub"])
        usd = project.MockUSD.at(info.payment_tokens[0])
        stake = project.MockStakeToken.at(info.staking_token)
        usd.mint(client, 10_000 * USD, sender=client)
        usd.approve(escrow, 2**256 - 1, sender=client)
        stake.mint(provider, 10_000 * STAKE, sender=provider)
        stake.approve(staking, 2**256 - 1, sender=provider)
        staking.register("ipfs://bench", 10_000 * STAKE, sender=provider)
        keys = [o.private_key for o in sorted(oracles, key=lambda o: int(o.address, 16))[:2]]
        version = hub.configVersion()
        started = time.perf_counter()
        for _ in range(jobs):
            receipt = escrow.createJob(
                provider, usd, USD // 10, 100, chain.pending_timestamp + 86_400, SPEC, sender=client
            )
            job_id = receipt.events.filter(escrow.JobCreated)[0].jobId
            escrow.accept(job_id, sender=provider)
            attestation = _attestation(version, job_id, provider.address, chain.pending_timestamp + 3_600)
            hub.submitAttestation(
                attestation, _signatures(chain.chain_id, hub.address, attestation, keys), sender=client
            )
            with reverts(escrow.UnexpectedJobStatus, jobId=job_id, expected=1, actual=3):
                escrow.cancel(job_id, sender=attacker)
            chain.pending_timestamp += 3_601
            escrow.settle(job_id, sender=client)
        seconds = time.perf_counter() - started
    calls = CALLS_PER_JOB * jobs
    return {"calls": calls, "seconds": round(seconds, 2), "calls_per_s": round(calls / seconds, 1)}


def measure(jobs: int = 60) -> dict[str, Any]:
    rpc = measure_rpc(jobs)
    ape = measure_ape(jobs)
    result = {
        "jobs": jobs,
        "rpc": rpc,
        "ape_in_process": ape,
        "speedup": round(rpc["calls_per_s"] / ape["calls_per_s"], 1) if ape["calls_per_s"] else None,
    }
    print(
        f"harness: raw JSON-RPC over anvil {rpc['calls_per_s']} calls/s, Ape in-process {ape['calls_per_s']} "
        f"calls/s: {result['speedup']}x",
        flush=True,
    )
    return result


def markdown(result: dict[str, Any]) -> str:
    rpc, ape = result["rpc"], result["ape_in_process"]
    return "\n".join(
        [
            "| Stateful harness driver | Contract calls per second | Speed-up |",
            "|---|---:|---:|",
            f"| Ape contract calls on the in-process chain (before) | {ape['calls_per_s']:.0f} | 1.0 |",
            f"| raw JSON-RPC over anvil (tests/support/rpc_chain.py) | {rpc['calls_per_s']:.0f} | "
            f"{result['speedup']} |",
            "",
            f"{result['jobs']} job lifecycles per side, {CALLS_PER_JOB} calls each (createJob, accept, a k = 2 "
            "attestation, settle, a predicted revert checked byte for byte), one worker.",
        ]
    )
