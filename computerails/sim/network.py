"""The network demo (issue 14): the marketplace as real processes on 127.0.0.1, with faults.

    python -m computerails.sim.network              # make demo
    python -m computerails.sim.network --small      # the configuration make test runs

What runs, each its own process, stopped by its own pid (and killed with the demo if the demo is
killed: PR_SET_PDEATHSIG): one anvil with the protocol deployed, five provider agents (paid
inference over HTTP, per-job work), three oracle nodes (probes, recomputation, gossip, the
transmitter schedule; threshold 2), one oracle's links to its peers through a cuttable relay, and
one keeper (settles, reclaims, relays uptime reports). The demo itself plays the clients: each
sends paid inference requests through the real paying client (and forwards a sample of the
provider-signed receipts to an oracle node) and creates per-job work.

The devnet's clock is the demo's: it moves in steps of an eighth of an epoch (an hour of chain
time), and after each step waits until every running oracle node has probed what is due. So an
epoch takes seconds, and the nodes' secret probe schedules are the real ones.

The script (epochs counted from the first under the SLA):

- epoch 1: ``p1`` answers every third paid request wrongly. A forwarded receipt is recomputed,
  the nodes agree on a fraud attestation: ``p1`` is slashed and jailed; its operator leaves.
  ``p3``'s agent is killed with -9 and restarted: nothing is accepted, collected or lost twice.
- epoch 2: ``p2``'s agent is stopped for six of the eight steps. The nodes' probes see it down,
  the lower median of their observations is reported by the keeper: ``p2`` is slashed and jailed.
  Its restarted agent tops its stake up from its budget and unjails by itself.
  Oracle ``o0`` is killed with -9 for two steps: quorum still forms, transmitters fail over.
- epoch 3: ``o2``'s links to its peers are cut for three steps: the others go on; it catches up.
- epoch 4: ``p2`` serves again. Then the clients stop, the clock moves past every window, the
  keeper settles and reclaims what is left, and the books are checked: accounting PASS.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import httpx
from eth_account import Account
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from web3 import HTTPProvider, Web3

import computerails
from computerails import JobStatus, _http, workloads
from computerails.agent.jobs import DirectorySpecSource
from computerails.dashboard.snapshot import DemoDashboard
from computerails.devnet import Anvil, ape_build_artifacts, deploy_protocol, derive_key, dev_key, write_deployment
from computerails.devnet.agent import AgentProcess, shutdown_all, write_config, write_keystore
from computerails.devnet.anvil import ROOT
from computerails.devnet.oracle import KeeperProcess, LinkProcess, OracleProcess, oracle_network
from computerails.models import digits
from computerails.oracle_node.node import transmit_order
from computerails.pay_client import PaidAnswer, PayingAuth, infer
from computerails.rails import ComputeRails
from computerails.sim import books
from computerails.sim.books import Party
from computerails.types import Attestation, Job

console = Console(width=None if Console().is_terminal else 140)

STAKE = 10**18
USD = 10**6
ETH = 10**21  # gas money per account on the devnet
PRICE = "0.001"  # mUSD per paid request
PRICE_RAW = 1_000
UNIT_PRICE = Decimal("0.10")  # mUSD per unit of per-job work
MAX_UNITS = 50
JOB_DURATION = timedelta(hours=2)
DEPOSIT = 20  # mUSD each payer escrows for each provider
STAKES = {"p0": 2_000, "p1": 1_500, "p2": 1_020, "p3": 2_000, "p4": 2_000}  # p2 ends up below the minimum


@dataclass(frozen=True)
class NetConfig:
    """What the demo runs: sizes per step, and the steps of an epoch."""

    clients: int = 3
    requests: int = 4  # paid requests per client, provider and step
    jobs: int = 1  # jobs per client and step
    steps: int = 8  # steps per epoch (the clock moves an epoch / steps each)
    wrong_every: int = 3  # p1's cheat: every Nth answer wrong
    sample: float = 0.5  # share of receipts the clients forward to an oracle node
    seed: int = 7

    @classmethod
    def small(cls) -> NetConfig:
        """The configuration make test runs: the same script, less traffic."""
        return cls(clients=2, requests=1, jobs=1, steps=6)


@dataclass
class Fault:
    name: str
    done: str = ""
    caused: list[str] = field(default_factory=list)


@dataclass
class ProviderRun:
    party: Party
    agent: AgentProcess
    role: str
    serving: bool = False  # clients send it traffic
    served: int = 0
    wrong: int = 0
    after_unjail: int = 0
    paid_raw: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class ClientRun:
    party: Party
    auth: PayingAuth
    rng: random.Random
    requests: int = 0
    forwarded: int = 0
    fraud_verdicts: int = 0
    jobs: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class NetworkDemo:
    """Builds the network, runs the script, reports. Use as a context manager: every process
    it started is stopped on the way out, whatever happened."""

    def __init__(self, config: NetConfig, folder: Path, log: Callable[[str], None]) -> None:
        self.config = config
        self.folder = folder
        self.log = log
        self.stack = contextlib.ExitStack()
        self.faults: dict[int, Fault] = {i: Fault(n) for i, n in enumerate(FAULTS, 1)}
        self.minted: Counter[str] = Counter()
        self.epoch_seen: dict[int, dict[str, dict[str, Any]]] = {}
        self.oracle_metrics: dict[str, Counter[str]] = defaultdict(Counter)
        self.traffic_seconds = 0.0
        self.events: list[str] = []
        self.step_no = 0
        self.timings: defaultdict[str, float] = defaultdict(float)
        self.started_pids: set[int] = set()
        #: Blocks o0 was down between (fault 3): from its kill to its restart (None: not yet).
        self.o0_down: tuple[int, int | None] | None = None
        #: What the faults caused, as numbers (the JSON report's ``facts``; the tests read them).
        self.facts: dict[str, Any] = {}
        self.collected_raw: Counter[str] = Counter()
        self.collections: list[tuple[Any, Any]] = []
        self.punished: list[Any] = []

    def __enter__(self) -> NetworkDemo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    # ── set-up ──

    def key(self, role: str, i: int) -> str:
        return derive_key(self.config.seed, role, i)

    def start(self) -> None:
        """anvil, the deployment, the accounts and every process."""
        self.anvil = Anvil(prune_history=64)
        self.anvil.die_with_parent = True
        self.stack.enter_context(self.anvil)
        if self.anvil.pid is not None:
            self.started_pids.add(self.anvil.pid)
        w3 = Web3(HTTPProvider(self.anvil.url, request_kwargs={"timeout": 60}))
        self.w3 = w3
        oracle_keys = [self.key("oracle", i) for i in range(3)]
        self.treasury = Account.from_key(self.key("treasury", 0)).address
        build = ROOT / ".build" / "__local__.json"
        deployment = deploy_protocol(
            w3,
            dev_key(0),
            treasury=self.treasury,
            oracles=[Account.from_key(k).address for k in oracle_keys],
            threshold=2,
            artifacts=ape_build_artifacts(build) if build.exists() else None,
        )
        self.deployment = write_deployment(deployment, self.folder / "deployments")
        self.governance = self.connect(dev_key(0))
        self.before = None  # read once every party exists
        current = self.governance.views.epochs().current
        self.epoch_length = int((current.end - current.start).total_seconds())
        self.step = self.epoch_length // self.config.steps
        self.spec_dir = self.folder / "specs"
        self.spec_dir.mkdir(parents=True, exist_ok=True)

        self.keeper_party = self.party("keeper", self.key("keeper", 0))
        self.oracle_parties = [self.party(f"o{i}", k) for i, k in enumerate(oracle_keys)]
        self.providers = [self.make_provider(i) for i in range(5)]
        self.clients = [self.make_client(i) for i in range(self.config.clients)]
        self.job_ids: list[int] = []
        self.job_clients: dict[int, ClientRun] = {}
        self.cancelled: dict[int, str] = {}  # job id -> its provider's name: never accepted
        self.before = books.holdings(self.governance, self.parties())

        self.register_and_fund()
        self.start_processes()

    def connect(self, key: str) -> ComputeRails:
        return computerails.connect(self.anvil.url, deployment=self.deployment, account=key)

    def party(self, name: str, key: str) -> Party:
        rails = self.connect(key)
        self.w3.provider.make_request("anvil_setBalance", [rails.address, hex(ETH)])  # type: ignore[arg-type]
        return Party(name, key, rails)

    def make_provider(self, i: int) -> ProviderRun:
        name = f"p{i}"
        party = self.party(name, self.key("provider", i))
        home = self.folder / name
        keystore, password = write_keystore(home / "keys", party.key)
        role = {1: "cheats", 2: "goes down", 3: "killed -9"}.get(i, "honest")
        settings: dict[str, Any] = {
            "rpc_url": self.anvil.url,
            "deployment": str(self.deployment),
            "keystore": str(keystore),
            "password_file": str(password),
            "data_dir": str(home / "data"),
            "price": PRICE,
            "collect_interval": 8,  # seconds: each collection pays for a few steps of requests
            "native_price": "3000",
            "min_value_per_gas": "0.000001",
            "jobs": {
                "enabled": True,
                "spec_dir": str(self.spec_dir),
                "min_unit_price": {"mUSD": str(UNIT_PRICE)},
                "capacity": 50,
                "poll_interval": 0.3,
            },
            "housekeeping": {
                "interval": 1,
                "heartbeat": 1,
                "heartbeat_tolerance": 5,
                "claim_interval": 0,
                "top_up_budget": "500",
                "unjail_after_downtime": True,
            },
        }
        if role == "cheats":
            settings["wrong_answer_every"] = self.config.wrong_every
        agent = AgentProcess(write_config(home / "agent.toml", **settings), home)
        agent.die_with_parent = True
        return ProviderRun(party, agent, role)

    def make_client(self, i: int) -> ClientRun:
        party = self.party(f"c{i}", self.key("client", i))
        rails = party.rails
        auth = PayingAuth(
            party.key,
            chain_id=rails.chain_id,
            escrow=rails.collector.domain.escrow,
            tokens=rails.deployment.payment_tokens,
            budget=DEPOSIT * USD * 5,
            wallet=self.folder / f"c{i}" / "wallet.sqlite",
        )
        return ClientRun(party, auth, random.Random(f"{self.config.seed}/client/{i}"))

    def parties(self) -> books.Parties:
        wallets = [
            self.governance.address,
            self.keeper_party.address,
            *(o.address for o in self.oracle_parties),
            *(p.party.address for p in self.providers),
            *(c.party.address for c in self.clients),
        ]
        return books.Parties(
            wallets=wallets,
            treasury=self.treasury,
            payers=[c.party.address for c in self.clients],
            providers=[p.party.address for p in self.providers],
            job_ids=self.job_ids,
        )

    def mint(self, party: Party, token: str, raw: int) -> None:
        party.rails.send(party.rails.erc20(token).functions.mint(party.address, raw), "mint")
        self.minted[token] += raw

    def register_and_fund(self) -> None:
        usd, stake = self.governance.deployment.payment_tokens[0], self.governance.deployment.staking_token
        for p in self.providers:
            amount = STAKES[p.party.name]
            self.mint(p.party, stake, (amount + 500) * STAKE)  # the stake and the top-up budget
            p.party.rails.provider.register(p.agent.url, amount)
        for c in self.clients:
            self.mint(c.party, usd, (DEPOSIT * len(self.providers) + 200) * USD)
            for p in self.providers:
                c.party.rails.payer.deposit(p.party.address, DEPOSIT, token=usd)

    def start_processes(self) -> None:
        settings = {
            "probes_per_epoch": self.config.steps,
            "min_probes": 3,
            "max_lateness": self.step * 3 // 2,
            "observe_grace": self.step * 2,
            "uptime_relayer": self.keeper_party.address,
            "relayer_grace": 3,
            "probe_tick": 0.2,
        }
        self.oracles, link = oracle_network(
            self.folder / "oracles",
            self.anvil.url,
            self.deployment,
            [o.key for o in self.oracle_parties],
            cuttable=2,
            die_with_parent=True,
            **settings,
        )
        assert link is not None
        self.link: LinkProcess = link
        self.stack.callback(self.link.stop)
        if self.link.process is not None:
            self.started_pids.add(self.link.process.pid)
        home = self.folder / "keeper"
        keystore, password = write_keystore(home, self.keeper_party.key)
        everyone = [p.party.address for p in self.providers] + [c.party.address for c in self.clients]
        keeper_config = write_config(
            home / "keeper.toml",
            rpc_url=self.anvil.url,
            deployment=str(self.deployment),
            keystore=str(keystore),
            password_file=str(password),
            data_dir=str(home / "data"),
            interval=1,
            native_price={"mUSD": "3000", "mCRS": "3000"},
            parties=everyone,
            oracle_urls=[n.url for n in self.oracles],
        )
        self.keeper = KeeperProcess(keeper_config, home)
        self.keeper.die_with_parent = True
        processes: list[AgentProcess] = [p.agent for p in self.providers] + [*self.oracles, self.keeper]
        self.stack.callback(shutdown_all, processes)  # side by side on the way out
        for process in processes:  # launched from this thread (they die with it), ready together
            self.track(process.launch())
        for process in processes:
            process.wait_ready()
        for p in self.providers:
            p.serving = True

    # ── the clock ──

    def chain_now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp_to(self, timestamp: int) -> int:
        now = self.chain_now()
        if timestamp > now:
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return max(timestamp, now)

    def epoch_start(self, epoch: int) -> int:
        return int(self.governance.slasher.functions.epochStart(epoch).call())

    def live_oracles(self) -> list[OracleProcess]:
        return [n for n in self.oracles if n.running()]

    def wait_probes(self, until: int, timeout: float = 60.0) -> None:
        """Every running node has probed what is due at `until` (chain time)."""
        deadline = time.monotonic() + timeout
        for node in self.live_oracles():
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    seen = _http.get(f"{node.url}/v1/health", timeout=5).json().get("probed_until")
                    if seen is not None and seen >= until:
                        break
                time.sleep(0.1)  # polling a node's progress

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if check():
                    return True
            time.sleep(0.2)  # polling the chain or a process
        self.note(f"[yellow]gave up waiting for {what} after {timeout:.0f} s[/]")
        return False

    def note(self, line: str) -> None:
        self.events.append(line)
        self.log(line)

    # ── traffic ──

    def traffic(self) -> None:
        """One step of traffic: every client pays each serving provider for its requests, all
        pairs at once (the timed part: requests/s), then each client checks the answers,
        forwards a sample of the receipts to an oracle node and creates its jobs."""
        targets = [p for p in self.providers if p.serving]
        pairs = [(c, p) for c in self.clients for p in targets]
        with ThreadPoolExecutor(max(len(pairs), 1)) as pool:
            started = time.perf_counter()
            paid = list(pool.map(lambda pair: self.pay(*pair), pairs))
            self.traffic_seconds += time.perf_counter() - started
            answers: dict[int, list[tuple[ProviderRun, list[int], PaidAnswer]]] = defaultdict(list)
            for (c, _p), got in zip(pairs, paid, strict=True):
                answers[id(c)] += got
            list(pool.map(lambda c: self.after_pay(c, answers[id(c)], targets), self.clients))

    def pay(self, client: ClientRun, p: ProviderRun) -> list[tuple[ProviderRun, list[int], PaidAnswer]]:
        """`client`'s paid requests to `p`, one after another (its own rng: the pixels are drawn
        under the lock, as several of its threads draw at once)."""
        out = []
        with _http.client(timeout=30) as http:
            for _ in range(self.config.requests):
                with LOCK:
                    pixels = SAMPLES[client.rng.randrange(len(SAMPLES))]
                try:
                    out.append((p, pixels, infer(http, f"{p.agent.url}/v1/infer", pixels, client.auth)))
                except Exception as exc:  # a refused or failed request is counted, not fatal
                    with LOCK:
                        client.errors[type(exc).__name__] += 1
        return out

    def after_pay(
        self, client: ClientRun, answers: list[tuple[ProviderRun, list[int], PaidAnswer]], targets: list[ProviderRun]
    ) -> None:
        with _http.client(timeout=30) as http:
            for p, pixels, answer in answers:
                self.count_answer(client, p, pixels, answer)
                if client.rng.random() < self.config.sample:
                    self.forward(client, http, answer, pixels)
        eligible = [p for p in targets if p.role != "cheats"]
        for _ in range(self.config.jobs if eligible else 0):
            p = eligible[client.rng.randrange(len(eligible))]
            images = [SAMPLES[client.rng.randrange(len(SAMPLES))] for _ in range(client.rng.randint(1, 4))]
            spec_hash, _ = DirectorySpecSource(self.spec_dir).publish(workloads.digits_spec(images))
            try:
                job = client.party.rails.client.create_job(
                    p.party.address, UNIT_PRICE, MAX_UNITS, JOB_DURATION, spec_hash
                )
            except Exception as exc:  # counted and printed, not fatal
                with LOCK:
                    client.errors[type(exc).__name__] += 1
                continue
            with LOCK:
                self.job_ids.append(int(job.id))
                self.job_clients[int(job.id)] = client
                client.jobs += 1

    def count_answer(self, client: ClientRun, p: ProviderRun, pixels: list[int], answer: PaidAnswer) -> None:
        honest = digits.infer(pixels)
        with LOCK:
            client.requests += 1
            p.served += 1
            p.paid_raw += PRICE_RAW
            if answer.label != honest.label:
                p.wrong += 1
            if p.role == "goes down" and self.faults[2].caused:
                p.after_unjail += 1

    def forward(self, client: ClientRun, http: httpx.Client, answer: PaidAnswer, pixels: list[int]) -> None:
        nodes = self.live_oracles()
        if not nodes:
            return
        node = nodes[client.rng.randrange(len(nodes))]
        body = {
            "receipt": answer.receipt.model_dump(mode="json"),
            "provider_signature": answer.receipt_signature,
            "pixels": pixels,
        }
        try:
            verdict = http.post(f"{node.url}/v1/receipts", json=body, timeout=30)
        except httpx.HTTPError:
            return  # the node went down meanwhile: the sample is lost, not the payment
        with LOCK:
            client.forwarded += 1
            if verdict.status_code == 202:
                client.fraud_verdicts += 1

    # ── the script ──

    def run(self, progress: Progress) -> None:
        s = self.config.steps
        first = self.governance.views.current_epoch() + 1  # the SLA applies from here
        self.first_epoch = first
        total = 4 * s
        task = progress.add_task("Network: epochs 1-4 of the script", total=total)
        p1, p2, p3 = self.providers[1], self.providers[2], self.providers[3]
        o0, o2 = self.oracles[0], self.oracles[2]
        for e in range(4):
            epoch = first + e
            start = self.epoch_start(epoch)
            for k in range(s):
                self.step_no = e * s + k
                step_started, timed = time.monotonic(), self.timings["probes"] + self.timings["traffic"]
                at = self.warp_to(start + k * self.step + 1)
                t0 = time.monotonic()
                self.wait_probes(at)
                self.timings["probes"] += time.monotonic() - t0
                if e == 1 and k == 0 and not p1.serving and p1.agent.running():
                    p1.metrics = self.agent_metrics(p1)
                    p1.agent.stop()  # it left: its SLA ended with the epoch it left in
                    self.note("fault 1: p1's agent shut down for good")
                if e == 1 and k == 1:
                    self.stop_provider(p2)
                if e == 1 and k == s - 1:
                    self.restart_provider(p2)
                if e == 1 and k == s // 2 - 1:
                    self.kill_oracle(o0)
                if e == 1 and k == s // 2 + 1:
                    self.restart_oracle(o0)
                if e == 2 and k == 2:
                    self.cut()
                if e == 2 and k == s - 3:
                    self.restore(o2)
                t0 = time.monotonic()
                self.traffic()
                self.timings["traffic"] += time.monotonic() - t0
                if e == 0 and k == s // 2:
                    self.kill_and_restart_agent(p3)
                self.watch_cheat(p1)
                self.watch_downtime(p2, epoch)
                # the rest of the step: the faults, their waits and the clock
                untimed = self.timings["probes"] + self.timings["traffic"] - timed
                self.timings["faults"] += time.monotonic() - step_started - untimed
                progress.advance(task)
            self.note(
                f"epoch {e + 1} ({epoch}) done; so far: waiting for probes {self.timings['probes']:.1f} s, "
                f"traffic {self.timings['traffic']:.1f} s"
            )
        t0 = time.monotonic()
        self.wind_down()
        self.timings["wind-down"] = time.monotonic() - t0

    def stop_provider(self, p: ProviderRun) -> None:
        p.serving = False
        p.metrics = self.agent_metrics(p)
        code = p.agent.stop()
        self.faults[2].done = f"{p.party.name} stopped (SIGTERM, exit {code}) at step {self.step_no}"
        self.note(f"fault 2: {self.faults[2].done}")

    def restart_provider(self, p: ProviderRun) -> None:
        self.track(p.agent.start())
        p.serving = True
        self.faults[2].done += f", restarted at step {self.step_no}"
        self.note(f"fault 2: {p.party.name} restarted")

    def kill_oracle(self, node: OracleProcess) -> None:
        self.sample_oracle(node)
        node.kill()
        self.o0_down = (self.governance.w3.eth.block_number, None)
        self.faults[3].done = f"o0 killed with -9 at step {self.step_no}"
        self.note(f"fault 3: {self.faults[3].done}")

    def restart_oracle(self, node: OracleProcess) -> None:
        """Restart o0, once the others have sent at least one attestation whose schedule put o0
        first (the failover this fault is there to show): more jobs meanwhile if none has yet."""
        assert self.o0_down is not None, "o0 was not killed"
        killed_at = self.o0_down[0]

        def taken_over() -> bool:
            return self.taken_over_from(node.address, killed_at) > 0

        for _ in range(FAILOVER_ROUNDS):
            # until one was, or every job the agents took is attested (none can come): then more jobs
            self.wait(
                "an attestation o0 was first to send",
                lambda: taken_over() or self.jobs_settled_down(),
                20,
            )
            if taken_over():
                break
            self.traffic()
        self.o0_down = (killed_at, self.governance.w3.eth.block_number)
        self.track(node.start())
        self.faults[3].done += f", restarted at step {self.step_no}"
        self.note("fault 3: o0 restarted")

    def cut(self) -> None:
        self.link.cut()
        self.faults[4].done = f"o2's links cut at step {self.step_no}"
        self.note(f"fault 4: {self.faults[4].done}")

    def restore(self, node: OracleProcess) -> None:
        behind = [r["round"] for r in _http.get(f"{node.url}/v1/rounds", timeout=10).json() if r["kind"] != "uptime"]
        self.link.restore()
        self.faults[4].done += f", restored at step {self.step_no}"
        started = time.monotonic()

        def caught_up() -> bool:
            open_now = {r["round"] for r in _http.get(f"{node.url}/v1/rounds", timeout=10).json()}
            unreachable = _http.get(f"{node.url}/v1/health", timeout=10).json()["unreachable_peers"]
            return not (open_now & set(behind)) and not unreachable

        ok = self.wait("o2 to catch up", caught_up, timeout=90)
        self.facts["o2_caught_up"] = ok
        self.faults[4].caused.append(
            f"o2 held {len(behind)} open job/fraud rounds when reconnected; "
            + (
                f"all closed and its peers reachable {time.monotonic() - started:.1f} s later"
                if ok
                else "NOT caught up"
            )
        )
        self.note(f"fault 4: o2 reconnected; {self.faults[4].caused[-1]}")

    def kill_and_restart_agent(self, p: ProviderRun) -> None:
        before = self.agent_metrics(p)
        p.agent.kill()
        self.faults[5].done = (
            f"{p.party.name} killed with -9 at step {self.step_no} holding {before.get('outstanding', 0):,.0f} raw "
            "units of acknowledged, uncollected vouchers"
        )
        self.track(p.agent.start())
        after = self.agent_metrics(p)
        kept, now = before.get("outstanding", 0), after.get("outstanding", 0)
        self.faults[5].caused.append(
            f"restarted from its SQLite state: {now:,.0f} raw units outstanding after the restart "
            f"against {kept:,.0f} before the kill (any difference collected on chain meanwhile)"
        )
        self.note(f"fault 5: {self.faults[5].done}; {self.faults[5].caused[-1]}")

    def watch_cheat(self, p: ProviderRun) -> None:
        if not p.serving or not p.party.rails.provider.status().jailed:
            return
        p.serving = False
        # Its operator leaves: the agent stops (the key sends one transaction at a time), the
        # operator's `leave` goes out, and the agent comes back to answer probes until the SLA
        # ends with this epoch.
        p.agent.stop()
        status = self.connect(p.party.key).provider.leave()  # a fresh nonce: its agent sent since
        self.track(p.agent.start())
        self.faults[
            1
        ].done = f"p1 answered {p.wrong} of {p.served} paid requests wrongly (every {self.config.wrong_every}rd)"
        self.faults[1].caused.append(
            f"caught by a forwarded receipt, fraud-attested and jailed by step {self.step_no}; its operator left "
            f"(stake now {status.staked} mCRS)"
        )
        self.note(f"fault 1: {self.faults[1].caused[-1]}")

    def watch_downtime(self, p: ProviderRun, epoch: int) -> None:
        if self.faults[2].caused or not self.faults[2].done:
            return
        reported = self.governance.slasher.events.UptimeReported().get_logs(
            from_block=self.governance.deployment.deploy_block, argument_filters={"provider": p.party.address}
        )
        if not reported:
            return
        r = reported[0]["args"]
        self.facts["p2_reported"] = {"epoch": r["epoch"] - self.first_epoch + 1, "uptime_bps": r["uptimeBps"]}
        self.faults[2].caused.append(
            f"epoch {r['epoch'] - self.first_epoch + 1} reported at {r['uptimeBps'] / 100:.1f}% uptime (the median of "
            f"the nodes' probes) by {self.name_of(r['relayer'])}: slashed {Decimal(r['slashed']) / STAKE} mCRS, jailed"
        )
        self.note(f"fault 2: {self.faults[2].caused[-1]}")
        unjailed = self.wait("p2 to top up and unjail", lambda: not p.party.rails.provider.status().jailed, 60)
        status = p.party.rails.provider.status()
        self.facts["p2_unjailed"] = unjailed
        if unjailed:
            self.faults[2].caused.append(
                f"its agent topped its stake up to {status.staked} mCRS and unjailed by itself; serving again"
            )
            self.note(f"fault 2: {self.faults[2].caused[-1]}")

    def wind_down(self) -> None:
        """No more traffic: every job reaches an end (the keeper settles and reclaims), the
        agents' last collections land, and every process stops."""
        for p in self.providers:
            p.serving = False
        # The last step's jobs may still be open: the agents accept them within their accept
        # window, which the jump below would close. Only then is "attested" a fixed target.
        self.wait("every open job accepted by its agent", self.jobs_picked_up, timeout=120)
        self.wait("every job accepted is attested", self.jobs_attested, timeout=120)
        # One jump past every challenge window and deadline: the nodes' probe slots in between
        # are missed by the nodes themselves (they abstain), so nobody is reported for it.
        self.warp_to(self.chain_now() + self.epoch_length * 3)
        if not self.wait("every job settled or refunded", self.jobs_done, timeout=180):
            self.cancel_unaccepted()
        running = [p for p in self.providers if p.agent.running()]
        for _ in range(10):  # a stable reading: no collection landed between two
            first = {p.party.name: self.agent_metrics(p) for p in running}
            self.read_metered()
            again = {p.party.name: self.agent_metrics(p) for p in running}
            if first == again:
                break
            time.sleep(1)  # a collection was landing: read again
        for p in running:
            p.metrics = again[p.party.name]
        for node in self.oracles:
            if node.running():
                self.sample_oracle(node)
        self.read_uptime()

    def cancel_unaccepted(self) -> None:
        """Jobs still open past their accept window: no agent took them, and only their client
        may end them. The clients cancel them (their escrow comes back); the report fails on each
        (and on a cancel that failed: that job stays open, its escrow in the books' job column)."""
        for j, job in zip(self.job_ids, self.read_jobs()):
            if job.status is not JobStatus.OPEN:
                continue
            self.cancelled[j] = self.name_of(job.provider)
            try:
                self.job_clients[j].party.rails.client.cancel(j)
            except Exception as exc:  # reported, not fatal: the report still gets written
                self.cancelled[j] += f" (the cancel failed: {type(exc).__name__}: {exc})"
            self.note(f"[red]job {j} of {self.cancelled[j]} was never accepted: its client cancelled it[/]")

    def read_metered(self) -> None:
        """The MeteredEscrow's collections (each with its transaction) and fraud punishments,
        and the gross each provider was paid: one read, which the vouchers check and the report
        share."""
        g = self.governance
        address = Web3.to_checksum_address(g.deployment.contracts["MeteredEscrow"])
        events = g.abi["MeteredEscrow"].events
        logs = g.w3.eth.get_logs({"address": address, "fromBlock": g.deployment.deploy_block, "toBlock": "latest"})
        self.collections = [
            (e, log["transactionHash"])
            for log in logs
            for e in events["VoucherCollected"].logs({"logs": [log]}, address)
        ]
        self.punished = events["FraudPunished"].logs({"logs": logs}, address)
        self.collected_raw = Counter()
        for e, _tx in self.collections:
            self.collected_raw[e["provider"]] += int(e["gross"])

    def read_jobs(self) -> list[Job]:
        """Every job the demo created, in its current state (one batched read)."""
        return self.governance.views.jobs_by_id(self.job_ids)

    def jobs_picked_up(self, jobs: Sequence[Job] | None = None) -> bool:
        """No job waits on an agent that can still accept it: every job is past open, or its
        provider's agent is down or jailed, or its accept window has closed (`jobs`: a read of
        :meth:`read_jobs` to judge, instead of a new one)."""
        now = self.chain_now()
        able = {
            p.party.address.lower()
            for p in self.providers
            if p.agent.running() and not p.party.rails.provider.status().jailed
        }
        for job in self.read_jobs() if jobs is None else jobs:
            if job.status is not JobStatus.OPEN or job.provider.lower() not in able:
                continue
            assert job.accept_by is not None  # the escrow sets it on every job
            if now <= int(job.accept_by.timestamp()):
                return False
        return True

    def jobs_attested(self, jobs: Sequence[Job] | None = None) -> bool:
        """No job is accepted and waiting for its attestation."""
        return all(job.status is not JobStatus.ACCEPTED for job in (self.read_jobs() if jobs is None else jobs))

    def jobs_settled_down(self) -> bool:
        """Every job was picked up and every accepted one attested: one read of the jobs for both."""
        jobs = self.read_jobs()
        return self.jobs_picked_up(jobs) and self.jobs_attested(jobs)

    def jobs_done(self) -> bool:
        return all(job.status not in books.LIVE for job in self.read_jobs())

    # ── readings ──

    def agent_metrics(self, p: ProviderRun) -> dict[str, float]:
        """What the agent holds and was paid, from one ``/metrics`` read."""
        m = p.agent.samples()
        return {
            "outstanding": m.get("computerails_agent_outstanding", 0.0),
            "collected": m.get("computerails_agent_collected_value_total", 0.0),
        }

    def sample_oracle(self, node: OracleProcess) -> None:
        """Add the node's counters since its start to its totals (read before each stop or kill)."""
        m, kept = node.samples(), self.oracle_metrics[node.address]
        for kind in ("job", "fraud", "uptime"):
            kept[f"signed_{kind}"] += int(m.get(f'computerails_oracle_signed_total{{kind="{kind}"}}', 0))
        for result in ("up", "down"):
            kept[f"probes_{result}"] += int(m.get(f'computerails_oracle_probes_total{{result="{result}"}}', 0))

    def read_uptime(self) -> None:
        for e in range(3):
            epoch = self.first_epoch + e
            seen = {}
            for node, party in zip(self.oracles, self.oracle_parties, strict=True):
                if node.running():
                    with contextlib.suppress(httpx.HTTPError):
                        seen[party.name] = _http.get(f"{node.url}/v1/uptime/{epoch}", timeout=10).json()["providers"]
            self.epoch_seen[epoch] = seen

    def track(self, process: AgentProcess) -> AgentProcess:
        if process.process is not None:
            self.started_pids.add(process.process.pid)
        return process

    def pids(self) -> list[int]:
        """Every process id the demo started (each start of each process)."""
        return sorted(self.started_pids)

    def name_of(self, address: str) -> str:
        for p in [
            self.keeper_party,
            *self.oracle_parties,
            *(x.party for x in self.providers),
            *(c.party for c in self.clients),
        ]:
            if p.address.lower() == address.lower():
                return p.name
        return "treasury" if address.lower() == self.treasury.lower() else address[:10]

    # ── the report ──

    def report(self) -> dict[str, Any]:
        g = self.governance
        start = g.deployment.deploy_block
        escrow, staking = g.escrow.events, g.staking.events
        settled = escrow.JobSettled().get_logs(from_block=start)
        refunded = escrow.JobRefunded().get_logs(from_block=start)
        accepted = escrow.JobAccepted().get_logs(from_block=start)
        attested = escrow.JobAttested().get_logs(from_block=start)
        slashes = staking.ProviderSlashed().get_logs(from_block=start)
        frauds = staking.FraudSlashed().get_logs(from_block=start)
        jailed = staking.ProviderJailed().get_logs(from_block=start)
        unjailed = staking.ProviderUnjailed().get_logs(from_block=start)
        collected = [e for e, _tx in self.collections]
        collect_txs = {tx for _e, tx in self.collections}
        punished = self.punished
        accepts = Counter(int(e["args"]["jobId"]) for e in accepted)
        providers = []
        for p in self.providers:
            a = p.party.address
            status = p.party.rails.provider.status()
            providers.append(
                {
                    "name": p.party.name,
                    "role": p.role,
                    "paid requests": p.served,
                    "wrong": p.wrong,
                    "collected mUSD": Decimal(sum(e["gross"] for e in collected if e["provider"] == a)) / USD,
                    "jobs done": sum(1 for e in settled if e["args"]["provider"] == a),
                    "earned mUSD": Decimal(sum(e["args"]["providerNet"] for e in settled if e["args"]["provider"] == a))
                    / USD,
                    "slashed mCRS": Decimal(
                        sum(
                            e["args"]["fromFree"] + e["args"]["fromUnbonding"]
                            for e in slashes
                            if e["args"]["provider"] == a
                        )
                        + sum(e["args"]["amount"] for e in frauds if e["args"]["provider"] == a)
                    )
                    / STAKE,
                    "jailed": sum(1 for e in jailed if e["args"]["provider"] == a),
                    "unjailed": sum(1 for e in unjailed if e["args"]["provider"] == a),
                    "stake mCRS": status.staked,
                    "status": "left" if status.left else "jailed" if status.jailed else "active",
                }
            )
        clients = []
        for c in self.clients:
            a = c.party.address
            spent = sum(e["gross"] for e in collected if e["payer"] == a)
            clients.append(
                {
                    "name": c.party.name,
                    "paid requests": c.requests,
                    "vouchers signed mUSD": Decimal(sum(c.auth.spent().values())) / USD,
                    "collected mUSD": Decimal(spent) / USD,
                    "receipts forwarded": c.forwarded,
                    "fraud verdicts": c.fraud_verdicts,
                    "jobs": c.jobs,
                    "paid for jobs mUSD": Decimal(sum(e["args"]["gross"] for e in settled if e["args"]["client"] == a))
                    / USD,
                    "refunded mUSD": Decimal(
                        sum(e["args"]["refund"] for e in [*settled, *refunded] if e["args"]["client"] == a)
                    )
                    / USD,
                    "fraud compensation mCRS": Decimal(
                        sum(e["args"]["beneficiaryAmount"] for e in frauds if e["args"]["beneficiary"] == a)
                    )
                    / STAKE,
                    "errors": sum(c.errors.values()),
                    "error kinds": dict(c.errors),
                }
            )
        oracles, failovers = self.oracle_rows(attested)
        requests = sum(p.served for p in self.providers)
        collect_gas = sum(g.w3.eth.get_transaction_receipt(h)["gasUsed"] for h in collect_txs)
        uptime = self.uptime_rows()
        self.faults[3].caused.append(failovers)
        self.faults[5].caused.append(
            f"each of its jobs accepted once on chain (most accepts of one job: {max(accepts.values(), default=0)}); "
            f"{len([e for e in collected if e['provider'] == self.providers[3].party.address])} collections, "
            "each voucher's value paid once (the escrow pays only increments)"
        )
        if punished:
            self.faults[1].caused.append(
                f"{len(punished)} fraud attestation(s) landed; the payer got "
                f"{sum(e['args']['beneficiaryAmount'] for e in frauds) / STAKE} mCRS"
            )
        vouchers = [
            {
                "provider": p.party.name,
                "acknowledged": p.paid_raw,
                "collected": self.collected_raw[p.party.address],
                "outstanding": int(p.metrics.get("outstanding", 0)),
                "kept": p.paid_raw == self.collected_raw[p.party.address] + int(p.metrics.get("outstanding", 0)),
            }
            for p in self.providers
        ]
        after = books.holdings(g, self.parties())
        assert self.before is not None
        result_books = books.check(g, self.before, after, dict(self.minted))
        live = [(j, job) for j, job in zip(self.job_ids, self.read_jobs()) if job.status in books.LIVE]
        failures = [f"{row['token']}: {row['check']}" for row in books.rows(result_books) if row["result"] != "PASS"]
        failures += [f"job {j} accepted {n} times" for j, n in sorted(accepts.items()) if n > 1]
        failures += [f"vouchers of {v['provider']} not kept: {v}" for v in vouchers if not v["kept"]]
        failures += [
            f"fault {i} ({f.name}) not done or caused nothing"
            for i, f in self.faults.items()
            if not (f.done and f.caused)
        ]
        failures += [f"job {j} of {name} was never accepted (cancelled)" for j, name in self.cancelled.items()]
        failures += [
            f"job {j} of {self.name_of(job.provider)} still {job.status.value} after the wind-down" for j, job in live
        ]
        return {
            "providers": providers,
            "clients": clients,
            "oracles": oracles,
            "uptime": uptime,
            "faults": [
                {"fault": f"{i}. {f.name}", "done": f.done, "caused": "; ".join(f.caused)}
                for i, f in self.faults.items()
            ],
            "requests": requests,
            "requests_per_s": requests / self.traffic_seconds if self.traffic_seconds else 0.0,
            "collect_gas": collect_gas,
            "gas_per_request": collect_gas / requests if requests else 0.0,
            "jobs": {
                "created": len(self.job_ids),
                "settled": len(settled),
                "refunded": len(refunded),
                "max_accepts_per_job": max(accepts.values(), default=0),
            },
            "books": result_books,
            "vouchers": vouchers,
            "facts": self.facts | {"p2_served_after_unjail": self.providers[2].after_unjail},
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "pids": self.pids(),
            "failures": failures,
            "passed": not failures,
            "events": self.events,
        }

    def first_transmitter(self, attested: Any, oracles: list[str]) -> str:
        """The first transmitter in the schedule of a ``JobAttested`` event's attestation."""
        g, args = self.governance, attested["args"]
        job = g.views.job(int(args["jobId"]))
        statement = Attestation(
            job_id=job.id,
            provider=job.provider,
            success=args["success"],
            units=args["units"],
            result_hash=args["resultHash"],
            deadline=int(job.deadline.timestamp()),
            config_version=g.oracle.config_version(),
        )
        return transmit_order("0x" + g.oracle.digest(statement).hex(), oracles)[0]

    def taken_over_from(self, oracle: str, since_block: int) -> int:
        """Attestations since `since_block` whose schedule put `oracle` first (so another sent them)."""
        g = self.governance
        oracles = g.oracle.oracles()
        events = g.escrow.events.JobAttested().get_logs(from_block=since_block)
        return sum(1 for e in events if self.first_transmitter(e, oracles) == oracle)

    def oracle_rows(self, attested: list[Any]) -> tuple[list[dict[str, Any]], str]:
        g = self.governance
        oracles = g.oracle.oracles()
        sent: Counter[str] = Counter()
        failed_over = 0
        during_kill = 0
        for e in attested:
            sender = g.w3.eth.get_transaction(e["transactionHash"])["from"]
            sent[sender] += 1
            if self.first_transmitter(e, oracles) != sender:
                failed_over += 1
            down = self.o0_down
            if down is not None and down[0] <= e["blockNumber"] <= (down[1] or 10**12):
                during_kill += 1
        rows = []
        for node, party in zip(self.oracles, self.oracle_parties, strict=True):
            m = self.oracle_metrics[party.address]
            rows.append(
                {
                    "name": party.name,
                    "signed jobs": m["signed_job"],
                    "signed fraud": m["signed_fraud"],
                    "signed uptime": m["signed_uptime"],
                    "attestations sent": sent[party.address],
                    "probes up": m["probes_up"],
                    "probes down": m["probes_down"],
                    "restarts": node.starts - 1,
                }
            )
        self.facts.update(
            attested=len(attested),
            attested_while_o0_down=during_kill,
            failed_over=failed_over,
            transmitters=sorted(self.name_of(a) for a in sent),
        )
        summary = (
            f"{during_kill} job attestations landed while o0 was down (quorum from o1 and o2); "
            f"{failed_over} of {len(attested)} were sent by a later transmitter than the first in their schedule"
        )
        return rows, summary

    def uptime_rows(self) -> list[dict[str, Any]]:
        rows = []
        for epoch, seen in self.epoch_seen.items():
            for p in self.providers:
                cells: dict[str, Any] = {"epoch": epoch - self.first_epoch + 1, "provider": p.party.name}
                median = None
                for party in self.oracle_parties:
                    view = seen.get(party.name, {}).get(p.party.address)
                    own = None if view is None else view["uptime_bps"]
                    cells[party.name] = "-" if own is None else f"{own / 100:.1f}%"
                    if view is not None and view["median_bps"] is not None:
                        median = view["median_bps"]
                if all(cells[o.name] == "-" for o in self.oracle_parties):
                    continue
                cells["median"] = "-" if median is None else f"{median / 100:.1f}%"
                reported = self.governance.views.is_reported(p.party.address, epoch)
                cells["reported"] = "slashed" if reported else "no" if median is not None else "not under SLA"
                rows.append(cells)
        return rows


FAULTS = (
    "a provider answers wrongly",
    "a provider is down most of an epoch",
    "an oracle node is killed with -9",
    "an oracle node's links are cut",
    "a provider agent is killed with -9",
)
#: Traffic rounds the demo adds at most while o0 is down, until another node sends an
#: attestation whose schedule put o0 first (one in three on average: a round usually does).
FAILOVER_ROUNDS = 10
SAMPLES = [list(pixels) for pixels, _label in digits.samples()[:64]]
LOCK = threading.Lock()


# ── printing ──


def cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.0001")).normalize(), "f") if value else "0"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return str(value)


HIDDEN = {"error kinds"}  # in the JSON report, not in the tables


def print_report(report: dict[str, Any], path: Path, wall: float) -> None:
    def table(title: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        t = Table(title=title)
        columns = [c for c in rows[0] if c not in HIDDEN]
        for c in columns:
            t.add_column(
                c,
                justify="left"
                if c in ("name", "role", "status", "fault", "done", "caused", "check", "token", "result", "provider")
                else "right",
            )
        for r in rows:
            t.add_row(*[cell(r[c]) for c in columns])
        console.print(t)

    table("Providers (agents)", report["providers"])
    table("Clients", report["clients"])
    table("Oracle nodes", report["oracles"])
    table("Uptime each oracle measured, against the median reported", report["uptime"])
    table("Faults and what each caused", report["faults"])
    table("Vouchers: every one acknowledged is collected or still held, none twice (raw mUSD)", report["vouchers"])
    table("Accounting", list(books.rows(report["books"])))
    jobs = report["jobs"]
    console.print(
        f"Paid inference: {report['requests']} requests at {report['requests_per_s']:,.0f} requests/s across the "
        f"agents; collections {report['collect_gas']:,} gas = {report['gas_per_request']:,.0f} gas per request"
    )
    console.print(
        f"Jobs: {jobs['created']} created, {jobs['settled']} settled, {jobs['refunded']} refunded; "
        f"at most {jobs['max_accepts_per_job']} accept per job"
    )
    errors = Counter[str]()
    for c in report["clients"]:
        errors.update(c["error kinds"])
    if errors:
        console.print("Client errors: " + ", ".join(f"{k} x{v}" for k, v in errors.items()))
    console.print(
        "Phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in report["timings"].items()) + f"; wall time {wall:.1f} s"
    )
    console.print(f"Report written to {path}")
    for failure in report["failures"]:
        console.print(f"[red]failed:[/] {failure}")
    verdict = "[bold green]PASS[/]" if report["passed"] else "[bold red]FAIL[/]"
    console.print(f"Accounting check: {verdict}")


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@contextlib.contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM ends the demo as Ctrl-C does: through every cleanup."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(
    config: NetConfig,
    folder: Path,
    report_path: Path,
    screenshot_to: Path | None = None,
    dashboard: bool = True,
) -> dict[str, Any]:
    """Run the demo in `folder`, write the JSON report to `report_path` and print it; with
    `dashboard`, index the chain beside it, serve the dashboard while it runs and write its
    snapshot, plots and screenshots (the network page's copied to `screenshot_to` when given)."""
    started = time.monotonic()
    columns = (TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with terminated_cleanly(), Progress(*columns, console=console) as progress:
        with NetworkDemo(config, folder, progress.console.print) as demo:
            with progress.console.status("Starting anvil, 5 agents, 3 oracle nodes, a link relay and a keeper"):
                t0 = time.monotonic()
                demo.start()
                demo.timings["start"] = time.monotonic() - t0
            progress.console.print(
                f"anvil {demo.anvil.url}; agents "
                + ", ".join(f"{p.party.name} {p.agent.url}" for p in demo.providers)
                + "; oracles "
                + ", ".join(n.url for n in demo.oracles)
                + f"; keeper {demo.keeper.url}"
            )
            summary: dict[str, Any] | None = None
            if dashboard:
                board = DemoDashboard(
                    demo.anvil.url,
                    demo.deployment,
                    folder / "dashboard",
                    demo.started_pids,
                    progress.console.print,
                    screenshot_to,
                )
                with board:
                    demo.run(progress)
                    t0 = time.monotonic()
                    summary = board.finish()
                    demo.timings["dashboard"] = time.monotonic() - t0
            else:
                demo.run(progress)
            t0 = time.monotonic()
            report = demo.report()
            report["timings"]["report"] = round(time.monotonic() - t0, 1)
            report["dashboard"] = summary
            stopping = time.monotonic()
        report["timings"]["stop"] = round(time.monotonic() - stopping, 1)  # every process stopped
    wall = time.monotonic() - started
    report["wall_s"] = round(wall, 1)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(plain(report), indent=2) + "\n")
    print_report(report, report_path, wall)
    return report


@click.command()
@click.option("--small", is_flag=True, help="Less traffic (the configuration make test runs).")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--folder", type=click.Path(file_okay=False, path_type=Path), help="Where the processes keep their files."
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--screenshot-to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also copy the dashboard's network page screenshot here (the README's: docs/dashboard.png). "
    "Without it the run writes under its own folder only, so your checkout stays as it was.",
)
@click.option(
    "--no-dashboard",
    is_flag=True,
    help="No dashboard beside the run (no index, snapshot, plots or screenshots): the e2e test's choice, "
    "as the dashboard's own suite covers it.",
)
def cli(
    small: bool,
    seed: int,
    folder: Path | None,
    report_path: Path | None,
    no_dashboard: bool,
    screenshot_to: Path | None,
) -> None:
    """Run the ComputeRails network as real processes, with five scripted faults; check the books."""
    config = NetConfig.small() if small else NetConfig()
    config = NetConfig(**{**config.__dict__, "seed": seed})
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = folder or Path("reports") / f"network-{stamp}"
    report = run(
        config,
        folder,
        report_path or Path("reports") / f"network-seed{seed}-{stamp}.json",
        screenshot_to,
        dashboard=not no_dashboard,
    )
    if not report["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    cli()
