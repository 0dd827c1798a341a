"""A compute marketplace, simulated end to end through the SDK (`make demo`, and the end-to-end
test).

Providers register and stake; clients lock payment for jobs whose spec is a real,
deterministic workload from :mod:`computerails.workloads` (a seeded integer matrix product or a
keccak hash chain); providers compute the result and hand its hash (the sha2-256 digest of its
CID) to the oracles; every oracle recomputes it and signs a success attestation only when it
matches (a failure attestation when it does not); a relayer sends the quorums on-chain. Along
the way: a dishonest provider returns wrong results, an offline provider misses heartbeats (a
quorum-signed uptime report slashes and jails it; it tops up and unjails) and lets one job
expire, one client disputes an attestation that the arbitrator checks and rejects. At the end
everybody withdraws and the books are checked.

Nothing here imports Ape: the simulation talks to the node only through ``computerails``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

import computerails
from computerails import Attestation, JobStatus, UptimeReport
from computerails.devnet import derive_key, dev_key
from computerails.rails import ComputeRails
from computerails.sim import books
from computerails.sim.metered import MeteredPhase
from computerails.types import from_raw
from computerails.workloads import compute, make_spec, result_hash, spec_hash, units_of

USD_DECIMALS = 6
STAKE_DECIMALS = 18
HEARTBEATS_PER_EPOCH = 20
JOB_LIFETIME = timedelta(hours=6)
ETH_PER_ACCOUNT = 10**21  # 1,000 ETH of gas money on the devnet


def _timestamp(moment: Any) -> int:
    """Unix seconds of an SDK datetime (0 when the chain reported none)."""
    return int(moment.timestamp()) if moment is not None else 0


# ───────────────────────────── configuration ─────────────────────────────


def default_sizes(jobs: int) -> tuple[int, int]:
    """Providers and clients for `jobs` jobs when not given: one provider per 200 jobs and one
    client per 100 (at least 5 and 10), so that stake covers the collateral the jobs lock and
    no client funds thousands of jobs alone."""
    return max(5, jobs // 200), max(10, jobs // 100)


@dataclass
class Config:
    providers: int = 5
    clients: int = 10
    jobs: int = 60
    oracles: int = 3
    threshold: int = 2
    seed: int = 7
    batch: int = 20  # attestations per relayed transaction
    # Actors that send at once (each its own transactions, in order). The node then mines what
    # arrived while it mined the last block in one block, so the per-block cost, which grows
    # with the contracts' storage on anvil 1.7, is shared. 1: one transaction at a time.
    senders: int = 8
    # The metered phase (issue 12): the first clients pay every provider per request.
    metered_payers: int = 3
    metered_requests: int = 100  # requests per payer-provider collection

    def validate(self) -> None:
        if self.providers < 2:
            raise ValueError("--providers must be at least 2 (one dishonest, one that goes offline)")
        if self.clients < 1 or self.jobs < 2 * self.providers:
            raise ValueError("--jobs must be at least twice --providers, and --clients at least 1")
        if not 1 <= self.threshold <= self.oracles:
            raise ValueError("--threshold must be within 1..--oracles")
        if self.senders < 1:
            raise ValueError("--senders must be at least 1")
        if self.metered_payers < 1 or self.metered_requests < 1:
            raise ValueError("the metered phase needs at least one payer and one request per collection")


@dataclass
class Actor:
    name: str
    key: str
    rails: ComputeRails
    price: Decimal = Decimal(0)  # providers: asking price per unit

    @property
    def address(self) -> str:
        return self.rails.address


@dataclass
class JobPlan:
    index: int
    client: Actor
    provider: Actor
    spec: dict[str, Any]
    unit_price: Decimal
    job_id: int = 0
    result: bytes = b""
    outcome: str = ""  # settled | failed | expired | disputed


@dataclass
class Report:
    config: dict[str, Any]
    providers: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    oracles: list[dict[str, Any]] = field(default_factory=list)
    gas: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    accounting: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    deployment: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)  # peak memory in MB, by process
    metered: dict[str, Any] = field(default_factory=dict)  # the metered phase (issue 12), if it ran
    agent: dict[str, Any] = field(default_factory=dict)  # paid inference through a real agent (issue 13), if it ran

    @property
    def passed(self) -> bool:
        return bool(self.accounting) and all(t["pass"] for t in self.accounting.values())

    def to_json(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, Decimal):
                return format(v, "f")
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        document: dict[str, Any] = plain(
            {
                "config": self.config,
                "jobs": self.jobs,
                "providers": self.providers,
                "clients": self.clients,
                "oracles": self.oracles,
                "gas": self.gas,
                "accounting": self.accounting,
                "timings": self.timings,
                "deployment": self.deployment,
                "resources": self.resources,
                "metered": self.metered,
                "agent": self.agent,
                "result": "PASS" if self.passed else "FAIL",
            }
        )
        return document


Progress = Callable[[str, int], ContextManager[Callable[[], None]]]


def no_progress(_label: str, _total: int) -> ContextManager[Callable[[], None]]:
    return nullcontext(lambda: None)


# ───────────────────────────── the simulation ─────────────────────────────


class Marketplace:
    """One run of the marketplace against a node and a deployment.

    Args:
        rpc: the node's URL.
        deployment: path of ``deployments/<chainId>.json``.
        config: sizes and seed.
        governance_key: holds the governor and arbitrator roles (the devnet deployer).
        progress: ``progress(label, total)`` -> context giving an ``advance()`` callable.
        log: prints a line for people (the metered phase's fraud evidence).
    """

    def __init__(
        self,
        rpc: str,
        deployment: str | Path,
        config: Config,
        governance_key: str,
        progress: Progress = no_progress,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        config.validate()
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.w3 = Web3(HTTPProvider(rpc, request_kwargs={"timeout": 60}))
        self.rpc = rpc
        self.deployment = str(deployment)
        self.progress = progress
        self.log = log
        self.governance = self._actor("governance", governance_key)
        self.oracles = [self._new_actor("oracle", i) for i in range(config.oracles)]
        self.providers = [self._new_actor("provider", i) for i in range(config.providers)]
        self.clients = [self._new_actor("client", i) for i in range(config.clients)]
        treasury = self.governance.rails.escrow.functions.treasury().call()
        self.treasury = self._treasury_actor(treasury)
        self.dishonest = self.providers[-1]
        self.offline = self.providers[-2]
        self.plans: list[JobPlan] = []
        self.signatures: Counter[str] = Counter()
        self.uptime: dict[str, int] = {}
        self.claimed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.minted: dict[str, int] = defaultdict(int)
        self.timings: dict[str, float] = {}
        self.metered_escrow: str | None = self.governance.rails.deployment.contracts.get("MeteredEscrow")
        self.metered_report: dict[str, Any] = {}

    # ── actors ──
    def _actor(self, name: str, key: str) -> Actor:
        return Actor(name, key, computerails.connect(self.w3, deployment=self.deployment, account=key))

    def _new_actor(self, role: str, index: int) -> Actor:
        key = derive_key(self.cfg.seed, role, index)
        address = Account.from_key(key).address
        self.w3.provider.make_request("anvil_setBalance", [address, hex(ETH_PER_ACCOUNT)])  # type: ignore[arg-type]
        return self._actor(f"{role}-{index}", key)

    def _treasury_actor(self, address: str) -> Actor:
        candidates = [derive_key(self.cfg.seed, "treasury", 0)] + [dev_key(i) for i in range(20)]
        for key in candidates:
            if Account.from_key(key).address == address:
                self.w3.provider.make_request("anvil_setBalance", [address, hex(ETH_PER_ACCOUNT)])  # type: ignore[arg-type]
                return self._actor("treasury", key)
        raise ValueError(
            f"the deployment's treasury {address} is neither a demo nor a devnet key: its fees could not be withdrawn"
        )

    @property
    def everyone(self) -> list[Actor]:
        return [self.governance, self.treasury, *self.oracles, *self.providers, *self.clients]

    # ── chain helpers ──
    def warp(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def mint(self, actor: Actor, token: str, raw: int) -> None:
        actor.rails.send(actor.rails.erc20(token).functions.mint(actor.address, raw), "mint")
        self.minted[token] += raw

    # ── phases ──
    def run(self) -> Report:
        started = time.monotonic()
        self.start_block = self.w3.eth.block_number
        self.balances_before = self._holdings()
        for name, phase in (
            ("oracle set", self.configure_oracles),
            ("providers", self.register_providers),
            ("jobs", self.create_jobs),
            ("accept", self.accept_jobs),
            ("compute+attest", self.compute_and_attest),
            ("dispute", self.dispute_one),
            ("uptime", self.report_uptime),
            ("settle", self.settle_and_reclaim),
            ("payouts", self.payouts),
            ("metered", self.metered),
        ):
            t0 = time.monotonic()
            phase()
            self.timings[name] = round(time.monotonic() - t0, 3)
        self.timings["total"] = round(time.monotonic() - started, 3)
        return self.report()

    def configure_oracles(self) -> None:
        """Make the demo's oracle keys the hub's oracle set with the configured threshold."""
        rails = self.governance.rails
        hub = rails.hub.functions
        wanted = [o.address for o in self.oracles]
        current = list(hub.oracles().call())
        # Oracle-set changes go through the deployment's timelock: one batch, scheduled, its
        # delay waited out on the devnet, executed.
        calls = [hub.addOracle(a) for a in wanted if a not in current]
        calls += [hub.removeOracle(a) for a in current if a not in wanted]
        if hub.threshold().call() != self.cfg.threshold or calls:
            calls.append(hub.setThreshold(self.cfg.threshold))
        if not calls:
            return
        with self.progress("Configuring oracles (timelock)", 2) as advance:
            operation = rails.governance.schedule(calls)
            advance()
            self.warp(max(0, operation.ready_at - rails.now()))
            rails.governance.execute(operation)
            advance()

    def register_providers(self) -> None:
        stake_token = self.governance.rails.deployment.staking_token
        with self.progress("Providers register and stake", len(self.providers)) as advance:
            for i, p in enumerate(self.providers):
                stake = Decimal(self.rng.choice([2_000, 3_000, 4_000]))
                self.mint(p, stake_token, int(stake) * 10**STAKE_DECIMALS * 2)
                uri = "data:application/json," + json.dumps(
                    {
                        "gpu": self.rng.choice(["A100", "H100", "L40S", "RTX4090"]),
                        "endpoint": f"https://provider-{i}.example",
                        "region": "eu",
                    }
                )
                p.rails.provider.register(uri, stake)
                p.price = Decimal(self.rng.choice(["0.010", "0.015", "0.020", "0.025"]))
                advance()

    def create_jobs(self) -> None:
        usd = self.governance.rails.deployment.payment_tokens[0]
        plans = []
        for j in range(self.cfg.jobs):
            provider = self.providers[j % len(self.providers)]
            spec = make_spec(self.rng)
            plans.append(JobPlan(j, self.rng.choice(self.clients), provider, spec, provider.price))
        for c in self.clients:
            needed = sum(p.unit_price * (units_of(p.spec) + 5) for p in plans if p.client is c)
            if needed:
                self.mint(c, usd, int(needed * 2 * 10**USD_DECIMALS))
        with self.progress("Clients lock payment", len(plans)) as advance:

            def create(plan: JobPlan) -> None:
                job = plan.client.rails.client.create_job(
                    plan.provider.address, plan.unit_price, units_of(plan.spec) + 5, JOB_LIFETIME, spec_hash(plan.spec)
                )
                plan.job_id = job.id
                advance()

            self.each_actor(plans, lambda plan: plan.client, create)
        self.plans = plans

    def accept_jobs(self) -> None:
        with self.progress("Providers accept", len(self.plans)) as advance:

            def accept(plan: JobPlan) -> None:
                plan.provider.rails.provider.accept(plan.job_id)
                advance()

            self.each_actor(self.plans, lambda plan: plan.provider, accept)

    def each_actor(
        self, plans: list[JobPlan], actor: Callable[[JobPlan], Actor], work: Callable[[JobPlan], None]
    ) -> None:
        """`work(plan)` for every plan: each actor's plans in order, in one thread, up to
        ``senders`` actors at once. After an error no thread starts another plan; the first
        error is raised once every thread has stopped."""
        queues: dict[str, list[JobPlan]] = defaultdict(list)
        for plan in plans:
            queues[actor(plan).address].append(plan)
        failed = threading.Event()

        def run(queue: list[JobPlan]) -> None:
            for plan in queue:
                if failed.is_set():
                    return
                try:
                    work(plan)
                except BaseException:
                    failed.set()
                    raise

        if self.cfg.senders == 1:
            run(plans)
            return
        with ThreadPoolExecutor(max_workers=self.cfg.senders, thread_name_prefix="sender") as pool:
            futures = [pool.submit(run, queue) for queue in queues.values()]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def compute_and_attest(self) -> None:
        """Providers compute; oracles recompute and sign; a relayer sends the quorums."""
        expiring = [p for p in self.plans if p.provider is self.offline][-1]
        to_attest = []
        with self.progress("Providers compute, oracles verify", len(self.plans)) as advance:
            for plan in self.plans:
                advance()
                if plan is expiring:
                    plan.outcome = "expired"  # the provider went offline before delivering
                    continue
                plan.result = compute(plan.spec)
                claimed = result_hash(plan.result)  # the CID's sha2-256 digest
                if plan.provider is self.dishonest:
                    claimed = result_hash(plan.result + b"shortcut")  # skipped the work, made a result up
                to_attest.append((plan, claimed))
        batch = []
        deadline = self.governance.rails.now() + 3_600
        for plan, claimed in to_attest:
            # Every oracle recomputes the workload on its own and signs what it found: a success
            # attestation only when its result matches the provider's, a failure otherwise.
            signed: dict[tuple[Any, ...], list[tuple[Attestation, Any]]] = defaultdict(list)
            for o in self.oracles:
                success = result_hash(compute(plan.spec)) == claimed
                attestation = Attestation(
                    job_id=plan.job_id,
                    provider=plan.provider.address,
                    success=success,
                    units=units_of(plan.spec) if success else 0,
                    result_hash=claimed,
                    deadline=deadline,
                    config_version=o.rails.oracle.config_version(),
                )
                signed[attestation.as_tuple()].append((attestation, o.rails.oracle.sign_attestation(attestation)))
                self.signatures[o.address] += 1
            # The relayer sends the statement a quorum agrees on.
            agreed = next(v for v in signed.values() if len(v) >= self.cfg.threshold)
            attestation = agreed[0][0]
            plan.outcome = "settled" if attestation.success else "failed"
            batch.append((attestation, [sig for _, sig in agreed[: self.cfg.threshold]]))
        relayer = self.oracles[0].rails
        with self.progress("Relaying quorums", len(batch)) as advance:
            for start in range(0, len(batch), self.cfg.batch):
                chunk = batch[start : start + self.cfg.batch]
                _sent, skipped = relayer.oracle.submit_attestations(chunk)
                if skipped:
                    raise RuntimeError(f"the hub skipped attestations for jobs {skipped}")
                for _ in chunk:
                    advance()
        self.operators_unjail()

    def metered(self) -> None:
        """Pay per request (issue 12): see :mod:`computerails.sim.metered`. Skipped on a
        deployment made before MeteredEscrow existed."""
        if self.metered_escrow is None:
            return
        phase = MeteredPhase(
            payers=self.clients[: self.cfg.metered_payers],
            providers=self.providers,
            dishonest=self.dishonest,
            oracle=self.oracles[0],
            oracle_keys=[o.key for o in self.oracles],
            treasury=self.treasury,
            requests=self.cfg.metered_requests,
            seed=self.cfg.seed,
            mint=self.mint,
            progress=self.progress,
            log=self.log,
            senders=self.cfg.senders,
        )
        self.metered_report = phase.run()

    def operators_unjail(self) -> None:
        """What an operator's cron does after a collateral slash: unjail while stake allows."""
        for p in self.providers:
            status = p.rails.provider.status()
            if status.jailed and status.staked >= self._min_stake():
                p.rails.provider.unjail()

    def dispute_one(self) -> None:
        """A client disputes an attestation; the arbitrator recomputes and rejects the dispute."""
        plan = next(p for p in self.plans if p.outcome == "settled")
        rails = plan.client.rails
        with self.progress("Dispute and arbitration", 2) as advance:
            rails.client.dispute(plan.job_id)
            advance()
            job = self.governance.rails.views.job(plan.job_id)
            upheld = compute(plan.spec) != plan.result or job.units > units_of(plan.spec)
            self.governance.rails.send(
                self.governance.rails.escrow.functions.resolveDispute(plan.job_id, upheld), "resolveDispute"
            )
            plan.outcome = "failed" if upheld else "disputed"
            advance()

    def report_uptime(self) -> None:
        """Oracles observe heartbeats through an epoch; the offline provider misses many."""
        rails = self.governance.rails
        slasher = rails.slasher.functions
        epoch = rails.views.current_epoch()
        # The SLA applies from the first epoch that starts after a provider registered.
        registered = max(_timestamp(p.rails.provider.status().sla_from) for p in self.providers)
        if slasher.epochStart(epoch).call() < registered:
            epoch += 1
        answered = {}
        for p in self.providers:
            misses = self.rng.randint(8, 12) if p is self.offline else self.rng.randint(0, 1)
            answered[p.address] = HEARTBEATS_PER_EPOCH - misses
        self.warp(max(0, slasher.epochEnd(epoch).call() - rails.now()))
        with self.progress("Uptime reports", len(self.providers)) as advance:
            for p in self.providers:
                bps = answered[p.address] * 10_000 // HEARTBEATS_PER_EPOCH
                self.uptime[p.address] = bps
                # The oracles name the relayer that earns the reward: a copy sent by anyone else
                # still pays it, not the copier.
                report = UptimeReport(
                    provider=p.address,
                    epoch=epoch,
                    uptime_bps=bps,
                    relayer=self.oracles[0].address,
                    config_version=self.oracles[0].rails.oracle.config_version(),
                )
                signatures = [o.rails.oracle.sign_uptime_report(report) for o in self.oracles]
                for o in self.oracles:
                    self.signatures[o.address] += 1
                self.oracles[0].rails.oracle.submit_uptime_report(report, signatures[: self.cfg.threshold])
                advance()
        status = self.offline.rails.provider.status()
        if status.jailed:  # it comes back: tops up to at least the minimum and unjails
            top_up = status.total_slashed
            stake_token = rails.deployment.staking_token
            self.mint(self.offline, stake_token, int(top_up * 10**STAKE_DECIMALS))
            self.offline.rails.provider.stake(top_up)
            self.offline.rails.provider.unjail()

    def settle_and_reclaim(self) -> None:
        rails = self.governance.rails
        self.warp(rails.escrow.functions.challengeWindow().call() + 1)
        reads = [rails.call("JobEscrow", rails.escrow.address, "jobStatus", p.job_id) for p in self.plans]
        statuses = rails.rpc.run(reads)
        ready = [
            p.job_id for p, status in zip(self.plans, statuses) if JobStatus.from_int(status) is JobStatus.ATTESTED
        ]
        with self.progress("Settling (keeper)", max(1, len(ready))) as advance:
            for start in range(0, len(ready), 50):
                chunk = ready[start : start + 50]
                rails.send(rails.escrow.functions.settleMany(chunk), "settleMany")
                for _ in chunk:
                    advance()
        self.warp(int(JOB_LIFETIME.total_seconds()))
        expired = [p for p in self.plans if p.outcome == "expired"]
        with self.progress("Reclaiming expired jobs", len(expired)) as advance:
            for plan in expired:
                plan.client.rails.client.reclaim_expired(plan.job_id)
                advance()
        self.operators_unjail()

    def payouts(self) -> None:
        payers = [*self.providers, *self.clients, self.treasury, *self.oracles]
        with self.progress("Claims and withdrawals", len(payers)) as advance:
            for actor in payers:
                method = (
                    actor.rails.provider.claim_rewards if actor in self.providers else actor.rails.client.withdraw_all
                )
                for payout in method():
                    self.claimed[actor.address][payout.token.symbol] += payout.amount
                advance()

    # ── accounting ──
    def _min_stake(self) -> Decimal:
        return from_raw(self.governance.rails.staking.functions.minStake().call(), STAKE_DECIMALS)

    def _holdings(self) -> dict[str, dict[str, int]]:
        """Raw amounts per token: supply, our wallets, contract balances and their parts
        (:func:`computerails.sim.books.holdings`, in batched JSON-RPC round trips: a
        10,000-job run reads 10,000 jobs)."""
        parties = books.Parties(
            wallets=[a.address for a in self.everyone if a is not self.treasury],
            treasury=self.treasury.address,
            payers=[c.address for c in self.clients],
            providers=[p.address for p in self.providers],
            job_ids=[p.job_id for p in self.plans],
        )
        return books.holdings(self.governance.rails, parties)

    def accounting(self) -> dict[str, Any]:
        """Per token: nothing created or destroyed, and each contract holds exactly its parts
        (:func:`computerails.sim.books.check`), plus the metered phase's own checks."""
        rails = self.governance.rails
        first = rails.deployment.payment_tokens[0]

        def metered_checks(token: str) -> dict[str, bool]:
            return dict(self.metered_report.get("checks", {})) if token == first else {}

        return books.check(rails, self.balances_before, self._holdings(), dict(self.minted), metered_checks)

    # ── report ──
    def report(self) -> Report:
        rails = self.governance.rails
        escrow = rails.escrow
        logs_settled = escrow.events.JobSettled().get_logs(from_block=self.start_block)
        logs_refunded = escrow.events.JobRefunded().get_logs(from_block=self.start_block)
        logs_disputed = escrow.events.JobDisputed().get_logs(from_block=self.start_block)
        earned: Counter[str] = Counter()
        done: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        paid: Counter[str] = Counter()
        refunded: Counter[str] = Counter()
        for log in logs_settled:
            earned[log.args.provider] += log.args.providerNet
            done[log.args.provider] += 1
            paid[log.args.client] += log.args.gross
            refunded[log.args.client] += log.args.refund
        job_provider = {p.job_id: p.provider.address for p in self.plans}
        for log in logs_refunded:
            failed[job_provider[log.args.jobId]] += 1
            refunded[log.args.client] += log.args.refund
        bonds: Counter[str] = Counter()
        for log in logs_disputed:
            bonds[log.args.client] += log.args.bond
        usd = rails.token(rails.deployment.payment_tokens[0])
        stake = rails.staking_token
        report = Report(config=vars(self.cfg).copy())
        for p in self.providers:
            s = p.rails.provider.status()
            role = "dishonest" if p is self.dishonest else "offline" if p is self.offline else "honest"
            report.providers.append(
                {
                    "name": p.name,
                    "address": p.address,
                    "role": role,
                    "stake": s.staked,
                    "slashed": s.total_slashed,
                    "jobs_done": done[p.address],
                    "jobs_failed": failed[p.address],
                    "earned": from_raw(earned[p.address], usd.decimals),
                    "claimed": self.claimed[p.address].get(usd.symbol, Decimal(0)),
                    "uptime_bps": self.uptime.get(p.address),
                    "jailed": s.jailed,
                }
            )
        for c in self.clients:
            locked_raw = sum(
                int(pl.unit_price * (units_of(pl.spec) + 5) * 10**usd.decimals) for pl in self.plans if pl.client is c
            )
            report.clients.append(
                {
                    "name": c.name,
                    "address": c.address,
                    "jobs": sum(1 for pl in self.plans if pl.client is c),
                    "locked": from_raw(locked_raw + bonds[c.address], usd.decimals),
                    "paid": from_raw(paid[c.address], usd.decimals),
                    "refunded": from_raw(refunded[c.address], usd.decimals),
                    "slash_compensation": self.claimed[c.address].get(stake.symbol, Decimal(0)),
                }
            )
        for o in self.oracles:
            report.oracles.append({"name": o.name, "address": o.address, "signatures": self.signatures[o.address]})
        gas: dict[str, list[int]] = defaultdict(list)
        for actor in self.everyone:
            for sent in actor.rails.tx.sent:
                gas[sent.label].append(sent.gas_used)
        report.gas = [
            {"operation": label, "count": len(v), "mean": sum(v) // len(v), "total": sum(v)}
            for label, v in sorted(gas.items())
        ]
        outcomes = Counter(p.outcome for p in self.plans)
        report.jobs = {
            "total": len(self.plans),
            **{k: outcomes.get(k, 0) for k in ("settled", "disputed", "failed", "expired")},
        }
        report.accounting = self.accounting()
        report.timings = dict(self.timings)
        report.deployment = {"file": self.deployment, "chain_id": rails.chain_id, "start_block": self.start_block}
        report.metered = self.metered_report
        return report
