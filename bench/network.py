"""The oracle network (issue 14): attestations per second through three real oracle nodes against
direct SDK submission, the time from a job's published result to its attestation on chain, and the
health-probe load each provider carries.

Everything runs as real processes on 127.0.0.1 against the bench's anvil and deployment: one
provider agent with per-job work on (``[jobs]``: it accepts the jobs by policy, computes them and
publishes each result by CID) and one oracle node per oracle key of the deployment
(:func:`computerails.devnet.oracle.oracle_network`, the devnet's settings: 3 nodes, threshold 2).
The provider is registered with the agent's URL, so the nodes fetch its results from there.

* **Through the network.** After one untimed warm-up job, the client creates ``jobs`` jobs in one
  ``createJobs``; the agent accepts them one by one, then computes and publishes every result in
  its next pass. Each node sees the ``JobAccepted`` events, fetches each result and its spec from
  the agent, recomputes it, signs and gossips its verdict; once a round has a quorum the first node
  of its transmitter schedule submits it, the rounds due at once in one ``submitAttestations``
  (at most ``max_batch``). The bench watches ``JobAttested`` (``eth_getLogs`` every ``POLL``
  seconds) and stamps each event with the wall time it first saw it; the agent's jobs database
  stamps each publication (its ``transitions`` table). The rate is the jobs over the time from the
  first publication to the last attestation seen; the creation-to-last-attestation rate (the
  agent's accepts included) is recorded beside it.
* **Direct.** The same number of attestations (jobs accepted beforehand, untimed) signed by a
  quorum of the same oracle keys and submitted from this one process: the SDK's
  ``oracle.collect_signatures`` for each, then ``oracle.submit_attestations`` in batches of the
  nodes' ``max_batch``, as the oracle rows of bench/run.py do. One round before the nodes start
  and one after they stopped (the chain grows in between; a running node would also try to
  verify those jobs); the rate is their mean.
* **Latency.** Per job of the network run: the attestation's wall time (as seen) minus its
  result's publication time; p50, p99 and the largest.
* **Probe load.** Each node probes each provider ``probes_per_epoch`` times an epoch, so a provider
  answers ``probes_per_epoch × nodes`` signed health challenges per epoch. One such answer on the
  real agent (``GET /v1/health?challenge=0x<32 random bytes>``, one at a time on a keep-alive
  connection as a node's prober sends them) is timed, and the agent's own CPU time per answer read
  from ``/proc/<pid>/stat``; every answer is checked afterwards (:func:`computerails.health.verify_health`).

Every process is stopped by its own pid (SIGTERM, then SIGKILL) whatever happens. Nothing here
asserts a timing.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.proc import cpu_seconds
from computerails import workloads
from computerails.agent.jobs import DirectorySpecSource
from computerails.devnet import dev_key
from computerails.devnet.agent import AgentProcess, write_config, write_keystore
from computerails.devnet.oracle import LOCAL_SETTINGS, OracleProcess, oracle_network
from computerails.health import verify_health
from computerails.models import digits
from computerails.oracle_node.config import OracleSettings
from computerails.rails import ComputeRails
from computerails.types import Attestation, JobStatus, Signature

if TYPE_CHECKING:
    from bench.run import Chain

PROVIDER_ROLE = "network-provider"
DIRECT_PROVIDER_ROLE = "network-direct-provider"
CLIENT_ROLE = "network-client"
RELAYER_ROLE = "network-relayer"
UNIT_PRICE = Decimal("0.10")  # mUSD per unit: what the agent's policy accepts at least
MAX_UNITS = 50
IMAGES = 3  # digits classified per job (its units)
STAKE = 1_000_000  # staking tokens each provider bonds: collateral for every job at once
POLL = 0.05  # seconds between the bench's looks for JobAttested
TIMEOUT = 180.0  # seconds the network gets for one run
QUIET_TIMEOUT = 30.0  # seconds the nodes get to close their rounds after the last attestation
RESULT = b"\x42" * 32  # the direct path's result hash (nothing recomputes it)
#: What a node's settings default to, as the bench's nodes run them.
PROBES_PER_EPOCH = int(OracleSettings.model_fields["probes_per_epoch"].default)
MAX_BATCH = int(OracleSettings.model_fields["max_batch"].default)


def percentile_ms(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99) of `values` (seconds), in milliseconds."""
    if not values:
        raise ValueError("no values")
    if len(values) < 2:
        return values[0] * 1_000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1_000


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """`items` in consecutive slices of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def probe_load(probes_per_epoch: int, nodes: int, epoch_seconds: int, cpu_ms: float) -> dict[str, float]:
    """What the health probes cost one provider per epoch: answers, answers per second on
    average, and the agent's CPU time for them."""
    per_epoch = probes_per_epoch * nodes
    return {
        "probes_per_epoch": per_epoch,
        "probes_per_second": round(per_epoch / epoch_seconds, 6),
        "agent_cpu_ms_per_epoch": round(per_epoch * cpu_ms, 2),
        "agent_cpu_share": round(per_epoch * cpu_ms / 1_000 / epoch_seconds, 9),  # of one core, on average
    }


def _metrics(url: str) -> dict[str, float]:
    """Every ``computerails_oracle_*`` sample of a node's ``/metrics``."""
    samples = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("computerails_oracle_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


# ───────────────────────────── the parts ─────────────────────────────


class Setup:
    """The provider (registered with its agent's URL), the client, and the spec every job runs."""

    def __init__(self, chain: Chain, folder: Path, capacity: int) -> None:
        self.chain = chain
        self.spec_dir = folder / "specs"
        spec = workloads.digits_spec([pixels for pixels, _ in digits.samples()[:IMAGES]])
        self.spec_hash, _ = DirectorySpecSource(self.spec_dir).publish(spec)
        self.units = workloads.units_of(spec)
        key = _key(PROVIDER_ROLE)
        keystore, password = write_keystore(folder / "provider", key)
        config = write_config(
            folder / "provider" / "agent.toml",
            rpc_url=chain.url,
            deployment=str(chain.deployment),
            keystore=str(keystore),
            password_file=str(password),
            data_dir=str(folder / "provider" / "data"),
            price="0.01",
            collect_interval=0,
            jobs={
                "enabled": True,
                "spec_dir": str(self.spec_dir),
                "min_unit_price": {"mUSD": str(UNIT_PRICE)},
                "capacity": capacity,
                "poll_interval": 0.2,
            },
        )
        self.agent = AgentProcess(config, folder / "provider")
        self.jobs_db = folder / "provider" / "data" / "jobs.sqlite"
        self.provider = chain.rails(PROVIDER_ROLE)
        chain.fund(self.provider, stake=STAKE * 10**18)
        self.provider.provider.register(self.agent.url, STAKE)
        self.client = chain.rails(CLIENT_ROLE)
        chain.fund(self.client, usd=10**15)
        usd = self.client.erc20(chain.usd.address)
        self.client.send(usd.functions.approve(self.client.escrow.address, 2**256 - 1), "approve")

    def create(self, provider: str, n: int) -> list[int]:
        request = {
            "provider": provider,
            "unit_price": UNIT_PRICE,
            "max_units": MAX_UNITS,
            "deadline": timedelta(hours=2),
            "spec_hash": self.spec_hash,
        }
        return [int(job.id) for job in self.client.client.create_jobs([request] * n)]


def _key(role: str) -> str:
    from bench.run import bench_key  # bench.run imports this module: import late

    return bench_key(role)


def _oracle_keys(chain: Chain) -> list[str]:
    """The deployment's oracle keys (bench.run's ORACLES), checked against the hub."""
    from bench.run import ORACLES

    keys = [dev_key(i) for i in ORACLES]
    members = set(chain.gov.oracle.oracles())
    if {a.address for a in chain.oracles} != members:
        raise RuntimeError(f"the hub's oracles {sorted(members)} are not the bench's dev oracles {ORACLES}")
    return keys


def watch_attested(rails: ComputeRails, ids: Sequence[int], from_block: int, timeout: float) -> dict[int, Any]:
    """Wait until every job of `ids` is attested: per job, (wall time first seen, block, tx hash).

    Raises:
        TimeoutError: not all within `timeout` seconds.
    """
    wanted, seen = set(ids), dict[int, tuple[float, int, str]]()
    event = rails.escrow.events.JobAttested()
    cursor, deadline = from_block, time.monotonic() + timeout
    while wanted - set(seen):
        head = int(rails.w3.eth.block_number)
        if head >= cursor:
            for log in event.get_logs(from_block=cursor, to_block=head):
                job_id = int(log["args"]["jobId"])
                if job_id in wanted and job_id not in seen:
                    seen[job_id] = (time.time(), int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex())
            cursor = head + 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted - set(seen))} of {len(wanted)} jobs not attested in {timeout} s")
        time.sleep(POLL)
    return seen


def published_at(jobs_db: Path, ids: Sequence[int]) -> dict[int, float]:
    """When the agent published each job's result (unix seconds, from its jobs database)."""
    marks = ", ".join("?" for _ in ids)
    with sqlite3.connect(f"file:{jobs_db}?mode=ro", uri=True) as db:
        rows = db.execute(
            f"SELECT job_id, MIN(at) FROM transitions WHERE stage = 'published' AND job_id IN ({marks}) "
            "GROUP BY job_id",
            list(ids),
        ).fetchall()
    return {int(job_id): float(at) for job_id, at in rows}


def network_run(setup: Setup, nodes: Sequence[OracleProcess], n: int, timeout: float) -> dict[str, Any]:
    """`n` jobs through the agent and the nodes (see the module docstring)."""
    chain = setup.chain
    _settle(nodes, float(LOCAL_SETTINGS["tick"]), QUIET_TIMEOUT)
    before = [_metrics(node.url) for node in nodes]
    start_block = int(chain.w3.eth.block_number) + 1
    created = time.time()
    ids = setup.create(setup.provider.address, n)
    seen = watch_attested(setup.provider, ids, start_block, timeout)
    published = published_at(setup.jobs_db, ids)
    if set(published) != set(ids):
        raise RuntimeError(f"jobs {sorted(set(ids) - set(published))} attested but not published by the agent")
    first_published, last_published = min(published.values()), max(published.values())
    last_attested = max(at for at, _, _ in seen.values())
    latencies = [seen[j][0] - published[j] for j in ids]
    txs: dict[str, int] = {}
    for _, _, tx in seen.values():
        txs[tx] = txs.get(tx, 0) + 1
    # Let every node close its rounds, so late duplicate submissions are counted too.
    quiet = _quiet(nodes, QUIET_TIMEOUT)
    sent = _node_transactions(chain, {node.address for node in nodes}, start_block)
    skipped = setup.provider.hub.events.AttestationSkipped().get_logs(from_block=start_block)
    after = [_metrics(node.url) for node in nodes]
    per_node = []
    for node, was, now in zip(nodes, before, after, strict=True):
        delta = {k: now[k] - was.get(k, 0.0) for k in now if now[k] != was.get(k, 0.0)}
        per_node.append(
            {
                "address": node.address,
                "signed": delta.get('computerails_oracle_signed_total{kind="job"}', 0.0),
                "transmitted_by_position": {
                    p: delta.get(f'computerails_oracle_transmitted_total{{kind="job",position="{p}"}}', 0.0)
                    for p in range(len(nodes))
                },
                "transactions": sum(1 for sender, _, _ in sent.values() if sender == node.address),
                "gossip_sent": delta.get("computerails_oracle_gossip_sent_total", 0.0),
            }
        )
    window = last_attested - first_published
    return {
        "jobs": n,
        "seconds": round(window, 3),
        "per_s": round(n / window, 2),
        "created_to_last_attested_s": round(last_attested - created, 3),
        "end_to_end_per_s": round(n / (last_attested - created), 2),
        "publication_spread_s": round(last_published - first_published, 3),
        "latency": {
            "p50_ms": round(percentile_ms(latencies, 50), 1),
            "p99_ms": round(percentile_ms(latencies, 99), 1),
            "max_ms": round(max(latencies) * 1_000, 1),
            "n": len(latencies),
        },
        "transactions": len(txs),
        "batch_sizes": sorted(txs.values(), reverse=True),
        # Every submission the nodes sent, duplicates included (a later transmitter's batch whose
        # jobs were attested meanwhile: the hub skips them, the gas is spent anyway).
        "node_transactions": len(sent),
        "reverted": sum(1 for _, _, reverted in sent.values() if reverted),
        "skipped": len(skipped),
        "gas": sum(gas for _, gas, _ in sent.values()),
        "gas_per_attestation": round(sum(gas for _, gas, _ in sent.values()) / n),
        "rounds_closed": quiet,
        "nodes": per_node,
    }


def _quiet(nodes: Sequence[OracleProcess], timeout: float) -> bool:
    """Wait until no node has an open round; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while any(node.metric("computerails_oracle_open_rounds") for node in nodes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _settle(nodes: Sequence[OracleProcess], tick: float, timeout: float) -> None:
    """Wait until the nodes are quiet (:func:`_quiet`) and no node's job signatures moved over two
    of its passes: a node whose pass began before the warm-up job was attested may still sign it,
    and that signature belongs before the baseline, not to the timed jobs.

    Raises:
        RuntimeError: the nodes were still busy after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last: list[float] | None = None
    while _quiet(nodes, deadline - time.monotonic()):
        seen = [node.metric("computerails_oracle_signed_total", 'kind="job"') for node in nodes]
        if seen == last:
            return
        if time.monotonic() > deadline:
            break
        last = seen
        time.sleep(2 * tick)  # two of the nodes' passes
    raise RuntimeError(f"the oracle nodes were still signing or had open rounds after {timeout} s")


def _node_transactions(chain: Chain, senders: set[str], from_block: int) -> dict[str, tuple[str, int, bool]]:
    """Every transaction `senders` sent from `from_block` on: hash -> (sender, gas used, reverted)."""
    found = {}
    for number in range(from_block, int(chain.w3.eth.block_number) + 1):
        for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            if tx["from"] in senders:
                receipt = chain.w3.eth.get_transaction_receipt(tx["hash"])
                found["0x" + bytes(tx["hash"]).hex()] = (
                    str(tx["from"]),
                    int(receipt["gasUsed"]),
                    receipt["status"] != 1,
                )
    return found


def direct_run(setup: Setup, relayer: ComputeRails, provider: ComputeRails, n: int, k: int) -> dict[str, Any]:
    """`n` attestations signed by k oracle keys and submitted from this process in batches of
    MAX_BATCH; the jobs are created and accepted first, untimed."""
    chain = setup.chain
    ids = setup.create(provider.address, n)
    for job_id in ids:
        provider.provider.accept(job_id)
    signers = chain.oracles[:k]
    deadline = chain.gov.now() + 6 * 3_600
    started = time.perf_counter()
    sent: list[int] = []
    for chunk in batches(ids, MAX_BATCH):
        batch: list[tuple[Attestation, Sequence[Signature]]] = []
        for job_id in chunk:
            att = Attestation(
                job_id=job_id,
                provider=provider.address,
                success=True,
                units=setup.units,
                result_hash=RESULT,
                deadline=deadline,
            )
            batch.append((att, relayer.oracle.collect_signatures(att, signers)))
        tx, skipped = relayer.oracle.submit_attestations(batch)
        if skipped:
            raise RuntimeError(f"the hub skipped jobs {skipped} of a direct batch")
        sent.append(tx.gas_used)
    seconds = time.perf_counter() - started
    if any(relayer.views.job_status(j) is not JobStatus.ATTESTED for j in ids):
        raise RuntimeError("a directly submitted attestation did not land")
    return {
        "jobs": n,
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds, 2),
        "transactions": len(sent),
        "gas_per_attestation": round(sum(sent) / n),
    }


def probe_cost(agent: AgentProcess, provider: str, chain_id: int, n: int) -> dict[str, Any]:
    """`n` signed health answers of the real agent, one at a time on one keep-alive connection:
    latency, answers per second, the agent's CPU time per answer; every answer checked after."""
    assert agent.process is not None
    challenges = [secrets.token_bytes(32) for _ in range(n)]
    answers, latencies = [], []
    with httpx.Client(timeout=30.0) as client:
        for _ in range(5):  # warm-up: the connection, the agent's first answers
            client.get(f"{agent.url}/v1/health", params={"challenge": "0x" + secrets.token_bytes(32).hex()})
        cpu, started = cpu_seconds(agent.process.pid), time.perf_counter()
        for challenge in challenges:
            sent = time.perf_counter()
            response = client.get(f"{agent.url}/v1/health", params={"challenge": "0x" + challenge.hex()})
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise RuntimeError(f"/v1/health answered {response.status_code}: {response.text[:300]}")
            answers.append(response.json())
        seconds, cpu = time.perf_counter() - started, cpu_seconds(agent.process.pid) - cpu
    bad = sum(not verify_health(a, c, chain_id, provider) for a, c in zip(answers, challenges, strict=True))
    if bad:
        raise RuntimeError(f"{bad} of {n} health answers are not the provider's signature")
    return {
        "probes": n,
        "per_s": round(n / seconds, 1),
        "p50_ms": round(percentile_ms(latencies, 50), 3),
        "p99_ms": round(percentile_ms(latencies, 99), 3),
        "agent_cpu_ms": round(cpu / n * 1_000, 3),
        "cpu_resolution_ms": round(1_000 / os.sysconf("SC_CLK_TCK") / n, 3),
    }


# ───────────────────────────── the measurement ─────────────────────────────


def measure(chain: Chain, *, jobs: int = 60, probes: int = 500, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Attestations per second through three real oracle nodes against direct SDK submission,
    result-to-attestation latency, and the probe load per provider, on `chain`.

    Args:
        jobs: attestations per run (the network's and each direct one).
        probes: signed health answers timed on the agent.
        timeout: seconds the network run may take before the bench gives up.
    """
    load_before = round(os.getloadavg()[0], 2)
    keys = _oracle_keys(chain)
    k = int(chain.gov.oracle.threshold())
    epoch_seconds = int(chain.gov.views.params()["uptime"]["epoch_length"])
    setup_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="computerails-bench-network-") as tmp:
        folder = Path(tmp)
        setup = Setup(chain, folder, capacity=jobs + 1)
        direct_provider = chain.provider(DIRECT_PROVIDER_ROLE, stake=STAKE)
        relayer = chain.rails(RELAYER_ROLE)
        nodes, _ = oracle_network(folder / "oracles", chain.url, chain.deployment, keys)
        codes: dict[str, int | None] = {}
        try:
            setup.agent.start()
            # The direct rounds run while no node is up: the nodes would try to verify those jobs too.
            direct = [direct_run(setup, relayer, direct_provider, jobs, k)]
            # Started side by side (each waits for its own readiness). A launcher that ties its
            # process to the starting thread's life would need the main thread here instead.
            with ThreadPoolExecutor(len(nodes)) as pool:
                list(pool.map(lambda node: node.start(), nodes))
            # Warm-up, untimed: one job all the way (connections, caches, every node's first round).
            warm = setup.create(setup.provider.address, 1)
            watch_attested(setup.provider, warm, int(chain.w3.eth.block_number), timeout)
            setup_seconds = time.perf_counter() - setup_started
            network = network_run(setup, nodes, jobs, timeout)
            for i, node in enumerate(nodes):
                codes[f"oracle-{i}"] = node.shutdown()
            direct.append(direct_run(setup, relayer, direct_provider, jobs, k))
            probe = probe_cost(setup.agent, setup.provider.address, chain.chain_id, probes)
        finally:
            for i, node in enumerate(nodes):
                code = node.shutdown()
                codes.setdefault(f"oracle-{i}", code)
            codes["agent"] = setup.agent.shutdown()
    direct_per_s = statistics.mean(d["per_s"] for d in direct)
    direct_gas = round(statistics.mean(d["gas_per_attestation"] for d in direct))
    load = probe_load(PROBES_PER_EPOCH, len(nodes), epoch_seconds, probe["agent_cpu_ms"])
    result: dict[str, Any] = {
        "network": network,
        "direct": {
            "per_s": round(direct_per_s, 2),
            "gas_per_attestation": direct_gas,
            "rounds": direct,
            "k": k,
            "batch": MAX_BATCH,
            "call": "oracle.collect_signatures(att, oracles[:k]) per attestation + oracle.submit_attestations(batch)",
        },
        "ratio_direct_over_network": round(direct_per_s / network["per_s"], 2),
        "probes": {
            **probe,
            **load,
            "probes_per_epoch_per_node": PROBES_PER_EPOCH,
            "nodes": len(nodes),
            "epoch_seconds": epoch_seconds,
        },
        "nodes": len(nodes),
        "threshold": k,
        "max_batch": MAX_BATCH,
        "node_settings": "computerails.devnet.oracle.LOCAL_SETTINGS (tick 0.2 s, gossip every 0.5 s, "
        "transmit_delay 2 s per schedule position); the rest at their defaults",
        "agent": "one provider agent, [jobs] enabled (poll_interval 0.2 s), capacity for every job at once",
        "poll_seconds": POLL,
        "units_per_job": setup.units,
        "load_average_1min_before": load_before,
        "setup_seconds": round(setup_seconds, 1),
        "exit_codes": codes,
    }
    lat = network["latency"]
    print(
        f"network: {jobs} attestations through {len(nodes)} nodes (k = {k}): {network['per_s']:,.1f}/s "
        f"(first result published to last attestation, {network['seconds']:.2f} s; "
        f"{network['transactions']} transactions, batches {network['batch_sizes']}; {network['node_transactions']} "
        f"node transactions ({network['reverted']} reverted), {network['skipped']} attestations skipped as duplicates, "
        f"{network['gas_per_attestation']:,} gas per attestation); direct SDK: {direct_per_s:,.1f}/s "
        f"({direct_gas:,} gas per attestation); direct / network {result['ratio_direct_over_network']:.2f}x",
        flush=True,
    )
    print(
        f"network: result published -> attestation seen: p50 {lat['p50_ms'] / 1_000:.2f} s, p99 "
        f"{lat['p99_ms'] / 1_000:.2f} s, max {lat['max_ms'] / 1_000:.2f} s; created -> last attested "
        f"{network['created_to_last_attested_s']:.2f} s",
        flush=True,
    )
    print(
        f"network: probe load per provider: {PROBES_PER_EPOCH} probes x {len(nodes)} nodes = "
        f"{load['probes_per_epoch']} per {epoch_seconds} s epoch; one signed answer: p50 {probe['p50_ms']:.2f} ms, "
        f"p99 {probe['p99_ms']:.2f} ms, {probe['per_s']:,.0f}/s one at a time, {probe['agent_cpu_ms']:.2f} ms of "
        f"agent CPU -> {load['agent_cpu_ms_per_epoch']:.1f} ms per epoch",
        flush=True,
    )
    return result


# ───────────────────────────── the README table ─────────────────────────────


def markdown(result: dict[str, Any]) -> str:
    net, direct, probes = result["network"], result["direct"], result["probes"]
    lat = net["latency"]
    rounds = " and ".join(f"{d['per_s']:,.1f}" for d in direct["rounds"])
    lines = [
        "| Path | Attestations | Attestations/s | Direct / path | Transactions | Gas per attestation |",
        "|---|---:|---:|---:|---:|---:|",
        f"| through the network: {result['nodes']} nodes recompute, sign, gossip (k = {result['threshold']}); "
        f"the schedule's transmitter submits | {net['jobs']} | {net['per_s']:,.1f} "
        f"| {result['ratio_direct_over_network']:.2f}x | {net['node_transactions']} | {net['gas_per_attestation']:,} |",
        f"| direct SDK: `collect_signatures` (k = {direct['k']}) + `submitAttestations` by {direct['batch']}, "
        f"one process | {direct['rounds'][0]['jobs']} | {direct['per_s']:,.1f} | 1.00x "
        f"| {direct['rounds'][0]['transactions']} | {direct['gas_per_attestation']:,} |",
        "",
        "| Through the network | p50 | p99 | max |",
        "|---|---:|---:|---:|",
        f"| job result published → its attestation on chain | {lat['p50_ms'] / 1_000:.2f} s "
        f"| {lat['p99_ms'] / 1_000:.2f} s | {lat['max_ms'] / 1_000:.2f} s |",
        "",
        "| Health probes per provider | Per epoch | One signed answer: p50 | p99 | One at a time | Agent CPU per "
        "answer | Agent CPU per epoch |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {probes['probes_per_epoch_per_node']} per node × {probes['nodes']} nodes, epoch "
        f"{probes['epoch_seconds']:,} s | {probes['probes_per_epoch']:,} | {probes['p50_ms']:.2f} ms "
        f"| {probes['p99_ms']:.2f} ms | {probes['per_s']:,.0f}/s | {probes['agent_cpu_ms']:.2f} ms "
        f"| {probes['agent_cpu_ms_per_epoch']:,.1f} ms |",
        "",
        f"All real processes on 127.0.0.1 against the bench's anvil: one provider agent with per-job work on and "
        f"{result['nodes']} oracle nodes (the devnet's settings: tick 0.2 s, gossip every 0.5 s, the next "
        f"transmitter after 2 s per position; batches of at most {result['max_batch']}). {net['jobs']} jobs "
        f"created in one `createJobs`; the network rate runs from the first result the agent published to the "
        f"last attestation the bench saw ({net['seconds']:.2f} s; the agent published all {net['jobs']} within "
        f"{net['publication_spread_s']:.2f} s, after accepting them one by one). The attestations landed in "
        f"{net['transactions']} transactions (batches of {', '.join(str(b) for b in net['batch_sizes'])}); the "
        f"nodes sent {net['node_transactions']} in all ({net['reverted']} reverted), and the hub skipped "
        f"{net['skipped']} attestations already made (a later transmitter whose turn came before the earlier one "
        "had sent; the gas column counts every node transaction). From the `createJobs` to the "
        f"last attestation, the agent's accepts included: {net['created_to_last_attested_s']:.2f} s "
        f"({net['end_to_end_per_s']:,.1f} jobs/s). The direct rate is the mean of a round before the nodes "
        f"started and one after they stopped ({rounds}/s; jobs accepted beforehand, untimed). Latency: the wall "
        f"time the bench first saw each `JobAttested` (it looks every {result['poll_seconds'] * 1_000:.0f} ms) "
        "minus the publication time in the agent's jobs database. Probes: `GET /v1/health?challenge=...` on "
        "the agent after the runs, "
        f"{probes['probes']} one at a time on one keep-alive connection, each answer's signature checked; the "
        f"agent's CPU from /proc ({probes['agent_cpu_ms_per_epoch'] / 1_000 / probes['epoch_seconds'] * 100:.5f}% "
        f"of one core on average). 1-minute load average before the run: {result['load_average_1min_before']}.",
    ]
    return "\n".join(lines)
