"""The flywheel phase of ``make demo``: incentive emissions bootstrap supply, then fade as real
fees take over, and washing fees through oneself loses money every epoch.

On a fresh anvil the protocol is deployed with a short-demo parameter set (one-hour epochs, a
statute of one epoch so an epoch is final two epochs after it ends, a subsidy halving every
eight epochs and a fee target the demo's traffic reaches); the distributor's reserve is funded.
Providers with different stakes register, and so does a **washer**: a provider that also pays
itself, through a second address it controls, a fixed amount of metered vouchers every epoch.

Each epoch honest clients pay the providers (metered vouchers, collected by each provider in one
``collectMany``) and demand grows epoch by epoch; the washer washes. When an epoch has settled,
one indexer follows the chain, the calculator computes the tree through it, the oracle quorum's
dev keys sign the :class:`~computerails.rewards.RootPost`, it is posted, the activation delay is
waited out, and every provider's rewards are claimed (``claimMany``).

Per epoch the demo records the emission, the protocol fees, the **subsidy share** of provider
revenue (rewards allocated for the epoch / (those rewards + the providers' net fee revenue from
honest traffic, valued at ``rewardPerFee``)) and the washer's **net from washing**: its rewards
for the epoch minus what :func:`~computerails.rewards.allocation.allocate` gives it on the same
facts without the wash fees (same emission: the wash's own lowering of the schedule is not
counted, which only flatters washing), minus the wash's protocol fees valued at ``rewardPerFee``.
The demo fails if washing ever pays, if the share does not fall, or if the distributor's books
break ``claimed ≤ root total ≤ released ≤ funded``.

Writes ``<folder>/flywheel-<time>/flywheel.png`` (share falling, fees rising) and
``flywheel.json`` (the series).
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.logs import DISCARD

import computerails
from computerails.dashboard.queries import IndexReader
from computerails.dashboard.snapshot import write_snapshot
from computerails.deployments import Deployment, load_artifact
from computerails.devnet import Anvil, ape_build_artifacts, deploy_protocol, derive_key, dev_key, write_deployment
from computerails.devnet.anvil import ROOT
from computerails.devnet.keys import ORACLE_INDEXES
from computerails.devnet.params import HOUR, STAKE_UNIT
from computerails.eip712 import sign_all
from computerails.indexer import Indexer, JsonRpc, open_index, schema
from computerails.indexer.flywheel import RewardsClock, flywheel_series
from computerails.rewards import RootPost
from computerails.rewards.allocation import ProviderEpoch, allocate
from computerails.rewards.calculator import Rewards, compute, last_settled
from computerails.sim.books import Party
from computerails.vouchers import Voucher, VoucherDomain, VoucherSigner, keccak256

USD = 10**6  # the first payment token has 6 decimals
ETH_PER_ACCOUNT = 10**21
WAD = 10**18

#: A parameter set for a short demo (merged over DEFAULT_PARAMS). One-hour epochs; a statute of
#: one epoch, so the uptime report window and the calculator's settle delay are two epochs; the
#: subsidy (100 tokens in epoch 0) halves every 8 epochs and fades as the fee average (over 4
#: epochs) nears 30 payment tokens an epoch; stake locks from metered collections last about
#: two hours, so stake differences, not locks, decide availability.
DEMO_PARAMS: dict[str, Any] = {
    "uptime": {"epoch_length": HOUR, "statute_epochs": 1},
    "metered": {"dispute_window": HOUR},
    "rewards": {
        "e0": 100 * STAKE_UNIT,
        "halving_epochs": 8,
        "fee_target": 30 * USD,
        "fee_window": 4,
        "activation_delay": 10 * 60,
    },
}


@dataclass
class FlywheelConfig:
    epochs: int = 20
    seed: int = 7
    providers: int = 3  # honest providers (the washer comes on top)
    clients: int = 3
    demand: int = 40 * USD  # honest gross per epoch grows by this much every epoch
    wash: int = 40 * USD  # the washer's self-payment per epoch (gross)
    fund: int = 5_000 * STAKE_UNIT  # the distributor's reserve

    @classmethod
    def fast(cls) -> FlywheelConfig:
        """The test's size: 8 epochs (about 20 s)."""
        return cls(epochs=8)

    def validate(self) -> None:
        if self.epochs < 2:
            raise click.BadParameter("--epochs must be at least 2 (a share that falls needs two epochs)")
        if self.providers < 1 or self.clients < 1:
            raise click.BadParameter("the demo needs at least one honest provider and one client")


@dataclass
class EpochRecord:
    epoch: int  # the distributor's epoch
    demo_epoch: int  # 0 for the demo's first traffic epoch
    emission: int  # reward units released for the epoch
    fees: int  # protocol fees in the fee token (the wash's included)
    wash_fees: int
    subsidy: int  # reward units allocated to providers for the epoch
    revenue: int  # providers' net fee revenue from honest traffic, in reward units
    subsidy_share: float
    washer_reward: int
    washer_reward_without_wash: int
    wash_cost: int  # the wash's protocol fees in reward units
    washer_net: int


@dataclass
class FlywheelResult:
    config: dict[str, Any]
    epochs: list[EpochRecord] = field(default_factory=list)
    contract: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    claims: int = 0  # claimMany transactions
    roots: int = 0
    seconds: float = 0.0
    folder: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "epochs": [asdict(e) for e in self.epochs],
            "series": {
                "epoch": [e.demo_epoch for e in self.epochs],
                "emission": [str(e.emission) for e in self.epochs],
                "fees": [str(e.fees) for e in self.epochs],
                "subsidy_share": [e.subsidy_share for e in self.epochs],
                "washer_net": [str(e.washer_net) for e in self.epochs],
            },
            "contract": {k: str(v) for k, v in self.contract.items()},
            "checks": self.checks,
            "roots": self.roots,
            "claims": self.claims,
            "seconds": self.seconds,
            "result": "PASS" if self.passed else "FAIL",
        }


class FlywheelError(RuntimeError):
    """The flywheel's claims did not hold (washing paid, the share did not fall, the books broke)."""


class Flywheel:
    """One run against a node with the protocol deployed by :func:`deploy_demo`."""

    def __init__(self, rpc: str, deployment: Path, config: FlywheelConfig, index_path: Path) -> None:
        self.cfg = config
        self.rng = random.Random(f"flywheel/{config.seed}")
        self.w3 = Web3(HTTPProvider(rpc, request_kwargs={"timeout": 60}))
        self.deployment_path = deployment
        self.deployment = Deployment.from_file(deployment)
        self.governance = self._party("governance", dev_key(0))
        self.providers = [self._new("provider", i) for i in range(config.providers)]
        self.washer = self._new("washer", 0)
        self.washer_payer = self._new("washer-payer", 0)  # the washer's second address
        self.clients = [self._new("client", i) for i in range(config.clients)]
        self.oracle_keys = [dev_key(i) for i in ORACLE_INDEXES]
        rails = self.governance.rails
        self.usd = self.deployment.payment_tokens[0]
        self.stake_token = self.deployment.staking_token
        self.escrow = self._contract("MeteredEscrow")
        self.distributor = self._contract("RewardsDistributor")
        self.domain = VoucherDomain(rails.chain_id, self.escrow.address)
        d = self.distributor.functions
        self.epochs = RewardsClock(int(d.genesis().call()), int(d.epochLength().call()))
        self.index = open_index(index_path)
        self.rpc = JsonRpc(rpc)
        self.indexer = Indexer(self.rpc, self.deployment, self.index)
        self.owed: dict[tuple[str, str], int] = defaultdict(int)  # (payer, provider) -> voucher value so far
        self.revenue: dict[int, int] = defaultdict(int)  # epoch -> honest providers' net (fee-token units)
        self.wash_fees: dict[int, int] = defaultdict(int)  # epoch -> the wash's protocol fees
        self.posted_through = 0
        self.rewards: Rewards | None = None
        self.result = FlywheelResult(config=asdict(config))

    # ── set-up ──
    def _party(self, name: str, key: str) -> Party:
        return Party(name, key, computerails.connect(self.w3, deployment=str(self.deployment_path), account=key))

    def _new(self, role: str, index: int) -> Party:
        key = derive_key(self.cfg.seed, f"flywheel-{role}", index)
        address = Account.from_key(key).address
        self.w3.provider.make_request("anvil_setBalance", [address, hex(ETH_PER_ACCOUNT)])  # type: ignore[arg-type]
        return self._party(f"{role}-{index}", key)

    def _contract(self, name: str) -> Contract:
        return self.w3.eth.contract(
            address=to_checksum_address(self.deployment.address(name)), abi=load_artifact(name)["abi"]
        )

    def warp_to(self, timestamp: int) -> None:
        now = self.governance.rails.now()
        self.w3.provider.make_request("evm_increaseTime", [max(0, timestamp - now)])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def mint(self, party: Party, token: str, raw: int) -> None:
        party.rails.send(party.rails.erc20(token).functions.mint(party.address, raw), "mint")

    def set_up(self) -> None:
        """Fund the reserve; providers (stakes differ) and the washer register; payers deposit."""
        gov = self.governance.rails
        self.mint(self.governance, self.stake_token, self.cfg.fund)
        gov.send(gov.erc20(self.stake_token).functions.approve(self.distributor.address, self.cfg.fund), "approve")
        gov.send(self.distributor.functions.fund(self.cfg.fund), "rewards.fund")
        sellers = [*self.providers, self.washer]
        for i, p in enumerate(sellers):
            stake = 10_000 * 2**i if p is not self.washer else 15_000
            self.mint(p, self.stake_token, stake * STAKE_UNIT)
            p.rails.provider.register(f'data:application/json,{{"name":"{p.name}"}}', Decimal(stake))
        # Every honest payer funds every seller for the whole run (twice the most it may pay);
        # the washer's second address funds the washer.
        n = self.cfg.epochs
        most = self.cfg.demand * n * (n + 1) // 2
        for c in self.clients:
            self._deposit(c, sellers, most * 2 // max(1, len(self.clients)))
        self._deposit(self.washer_payer, [self.washer], self.cfg.wash * n * 2)

    def _deposit(self, payer: Party, sellers: list[Party], each: int) -> None:
        rails = payer.rails
        self.mint(payer, self.usd, each * len(sellers))
        rails.send(rails.erc20(self.usd).functions.approve(self.escrow.address, each * len(sellers)), "approve")
        for s in sellers:
            rails.send(self.escrow.functions.deposit(s.address, self.usd, each), "metered.deposit")

    # ── one epoch of traffic ──
    def _voucher(self, payer: Party, seller: Party, amount: int) -> tuple[Any, bytes]:
        self.owed[payer.address, seller.address] += amount
        value = self.owed[payer.address, seller.address]
        voucher = Voucher(
            payer=payer.address,
            provider=seller.address,
            token=self.usd,
            collection_id=keccak256(f"flywheel/{self.cfg.seed}/{payer.address}/{seller.address}".encode()),
            value_aggregate=value,
            request_count=max(1, value // (USD // 100)),  # a request costs 0.01
            timestamp=self.governance.rails.now(),
        )
        return voucher.as_tuple(), VoucherSigner(self.domain, payer.key).sign(voucher)

    def traffic(self, demo_epoch: int) -> None:
        """Honest clients pay every seller (demand grows with the epoch), the washer pays itself;
        each seller collects its vouchers in one transaction."""
        sellers = [*self.providers, self.washer]
        pairs = [(c, s) for c in self.clients for s in sellers]
        gross = self.cfg.demand * (demo_epoch + 1)
        weights = [self.rng.uniform(0.8, 1.2) for _ in pairs]
        split = [int(gross * w / sum(weights)) for w in weights]
        vouchers: dict[str, list[tuple[Any, bytes]]] = defaultdict(list)
        for (c, s), amount in zip(pairs, split):
            vouchers[s.address].append(self._voucher(c, s, amount))
        vouchers[self.washer.address].append(self._voucher(self.washer_payer, self.washer, self.cfg.wash))
        for s in sellers:
            mine = vouchers[s.address]
            sent = s.rails.send(
                self.escrow.functions.collectMany([v for v, _ in mine], [sig for _, sig in mine]), "metered.collectMany"
            )
            if self.escrow.events.VoucherSkipped().process_receipt(sent.receipt, errors=DISCARD):
                raise FlywheelError(f"{s.name}'s collection skipped vouchers")
            when = int(self.w3.eth.get_block(sent.receipt["blockNumber"])["timestamp"])
            epoch = self.epochs.of(when)
            for e in self.escrow.events.VoucherCollected().process_receipt(sent.receipt, errors=DISCARD):
                if e.args.payer == self.washer_payer.address:
                    self.wash_fees[epoch] += int(e.args.fee)
                else:
                    self.revenue[epoch] += int(e.args.gross) - int(e.args.fee)

    # ── roots ──
    def settle_and_claim(self) -> None:
        """Index; post a root through every settled epoch not covered yet; wait out its
        activation delay; claim every provider's rewards."""
        self.indexer.run_until_head()
        with self.index.connect() as conn:
            through = last_settled(conn, self.epochs) + 1  # epochs 0 .. through − 1 are final
            if through <= self.posted_through or through < 1:
                return
            rewards = compute(conn, self.epochs, through, self.stake_token)
        if not rewards.amounts:  # nobody earned anything yet: no tree to post
            return
        tree = rewards.tree()
        gov = self.governance.rails
        version = int(gov.hub.functions.configVersion().call())
        post = RootPost(tree.root, tree.total, through, tuple(rewards.fees[self.posted_through :]), version)
        digest = post.digest(gov.chain_id, self.distributor.address)
        threshold = int(gov.hub.functions.threshold().call())
        relayer = self._party("oracle-relayer", self.oracle_keys[0])
        self.w3.provider.make_request("anvil_setBalance", [relayer.address, hex(ETH_PER_ACCOUNT)])  # type: ignore[arg-type]
        relayer.rails.send(
            self.distributor.functions.postRoot(post.as_tuple(), sign_all(digest, self.oracle_keys[:threshold])),
            "postRoot",
        )
        self.result.roots += 1
        self.posted_through = through
        self.rewards = rewards
        activates_at = int(self.distributor.functions.latestRoot().call()[3])
        self.warp_to(activates_at)
        claims = []
        for account, amount in sorted(rewards.amounts.items()):
            account = to_checksum_address(account)
            if amount > int(self.distributor.functions.claimed(account).call()):
                claims.append((account, amount, tree.proof(account)))
        if claims:
            # Anyone may send a claim: it pays the account (or the recipient it chose).
            self.washer.rails.send(self.distributor.functions.claimMany(claims), "rewards.claimMany")
            self.result.claims += 1

    # ── the run ──
    def run(self) -> FlywheelResult:
        started = time.monotonic()
        self.set_up()
        first = self.epochs.of(self.governance.rails.now()) + 1  # the first whole epoch with stake
        self.first = first
        for d in range(self.cfg.epochs):
            self.warp_to(self.epochs.start(first + d) + 1)
            self.settle_and_claim()
            self.traffic(d)
        last = first + self.cfg.epochs - 1
        while self.posted_through <= last:
            self.warp_to(self.epochs.start(self.epochs.of(self.governance.rails.now()) + 1) + 1)
            self.settle_and_claim()
        self.record()
        self.check()
        self.result.seconds = round(time.monotonic() - started, 1)
        return self.result

    def record(self) -> None:
        rewards = self.rewards
        assert rewards is not None
        params = rewards.params
        washer = self.washer.address.lower()
        for d in range(self.cfg.epochs):
            t = self.first + d
            allocation = rewards.epochs[t]
            wash = self.wash_fees.get(t, 0)
            without = [
                ProviderEpoch(p.provider, p.capacity, p.uptime_bps, p.fees - wash, p.excluded)
                if p.provider == washer
                else p
                for p in rewards.inputs[t]
            ]
            counterfactual = allocate(t, allocation.emission, allocation.fees - wash, without, params)
            got = sum(s.total for s in allocation.shares if s.provider == washer)
            would = sum(s.total for s in counterfactual.shares if s.provider == washer)
            cost = params.fee_value(wash)
            revenue = params.fee_value(self.revenue.get(t, 0))
            subsidy = allocation.allocated
            self.result.epochs.append(
                EpochRecord(
                    epoch=t,
                    demo_epoch=d,
                    emission=allocation.emission,
                    fees=allocation.fees,
                    wash_fees=wash,
                    subsidy=subsidy,
                    revenue=revenue,
                    subsidy_share=subsidy / (subsidy + revenue) if subsidy + revenue else 0.0,
                    washer_reward=got,
                    washer_reward_without_wash=would,
                    wash_cost=cost,
                    washer_net=got - would - cost,
                )
            )

    def check(self) -> None:
        d = self.distributor.functions
        latest = d.latestRoot().call()
        active = d.activeRoot().call()
        self.result.contract = {
            "funded": int(d.funded().call()),
            "released": int(latest[5]),
            "root_total": int(latest[1]),
            "active_total": int(active[1]),
            "through": int(latest[2]),
            "claimed": int(d.totalClaimed().call()),
        }
        c = self.result.contract
        shares = [e.subsidy_share for e in self.result.epochs]
        k = max(1, len(shares) // 4)
        self.result.checks = {
            "washing loses money every epoch": all(e.washer_net < 0 for e in self.result.epochs),
            "the subsidy share falls (last epochs below the first)": max(shares[-k:]) < shares[0],
            "the subsidy share never rises from one epoch to the next": all(b <= a for a, b in zip(shares, shares[1:])),
            "claimed <= root total": c["claimed"] <= c["active_total"] <= c["root_total"],
            "root total <= released": c["root_total"] <= c["released"],
            "released <= funded": c["released"] <= c["funded"],
            "every epoch is in the latest root": c["through"] >= self.first + self.cfg.epochs,
            "every provider claimed all it earned": c["claimed"] == c["root_total"],
            "the dashboard's flywheel curve has the demo's subsidy per epoch": self.dashboard_agrees(),
        }

    def dashboard_agrees(self) -> bool:
        """The dashboard's series (computerails.indexer.flywheel, over the demo's own index) gives
        each demo epoch the subsidy the calculator allocated to it, wherever a root added that
        epoch alone (a root over several epochs is spread evenly over them there)."""
        self.indexer.run_until_head()
        roots = schema.rewards_roots
        with self.index.connect() as conn:
            dashboard = {e.epoch: e.subsidy for e in flywheel_series(conn)}
            throughs = [int(t) for (t,) in conn.execute(select(roots.c.through).where(roots.c.vetoed.is_(False)))]
        alone = {b - 1 for a, b in zip([0, *sorted(throughs)], sorted(throughs)) if b - a == 1}
        compared = [e for e in self.result.epochs if e.epoch in alone]
        return bool(compared) and all(dashboard.get(e.epoch, 0) == e.subsidy for e in compared)


# ───────────────────────────── deploy, output, entry ─────────────────────────────


def deploy_demo(node: Anvil, out: Path) -> Path:
    """The protocol on `node` with :data:`DEMO_PARAMS` (the build Ape last compiled, else the
    package's code); the dev mnemonic's accounts are governance, treasury and oracles."""
    build = ROOT / ".build" / "__local__.json"
    deployment = deploy_protocol(
        Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60})),
        dev_key(0),
        params=DEMO_PARAMS,
        artifacts=ape_build_artifacts(build) if build.exists() else None,
    )
    return write_deployment(deployment, out)


def tokens(raw: int, decimals: int = 18) -> str:
    return f"{Decimal(raw) / Decimal(10**decimals):,.2f}"


def table(result: FlywheelResult) -> Table:
    t = Table(title="Flywheel: subsidy fades as fees grow; washing loses money")
    for name in ("epoch", "emission", "fees", "wash fees", "subsidy", "revenue", "subsidy share", "washer net"):
        t.add_column(name, justify="right")
    for e in result.epochs:
        t.add_row(
            str(e.demo_epoch),
            tokens(e.emission),
            tokens(e.fees, 6),
            tokens(e.wash_fees, 6),
            tokens(e.subsidy),
            tokens(e.revenue),
            f"{e.subsidy_share:.1%}",
            tokens(e.washer_net),
        )
    return t


def plot(result: FlywheelResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    x = [e.demo_epoch for e in result.epochs]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(x, [100 * e.subsidy_share for e in result.epochs], marker="o", color="tab:blue", label="subsidy share")
    ax.set_xlabel("epoch (one hour)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("subsidy share of provider revenue (%)", color="tab:blue")
    ax.set_ylim(bottom=0)
    fees = ax.twinx()
    fees.plot(x, [e.fees / USD for e in result.epochs], marker="s", color="tab:orange", label="protocol fees")
    fees.set_ylabel("protocol fees per epoch (payment tokens)", color="tab:orange")
    fees.set_ylim(bottom=0)
    ax.set_title("ComputeRails flywheel: emissions fade as fees grow")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_demo(config: FlywheelConfig, folder: Path, console: Console | None = None) -> FlywheelResult:
    """Start an anvil, deploy, run the phase, write the PNG and JSON; raise if a check failed.

    Raises:
        FlywheelError: a check failed (the files are written first).
    """
    config.validate()
    console = console or Console()
    started = time.monotonic()
    out = folder / f"flywheel-{time.strftime('%Y%m%dT%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    with Anvil() as node:
        deployment = deploy_demo(node, out / "deployments")
        with console.status(f"Flywheel: {config.epochs} epochs of traffic, roots and claims"):
            fly = Flywheel(node.url, deployment, config, out / "index.sqlite")
            result = fly.run()
        fly.index.dispose()
        # the dashboard's pages over the same index, the flywheel curve on its Rewards page
        write_snapshot(IndexReader.open(out / "index.sqlite", node.url), out / "dashboard")
    result.seconds = round(time.monotonic() - started, 1)
    result.folder = str(out)
    plot(result, out / "flywheel.png")
    (out / "flywheel.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    console.print(table(result))
    first, last = result.epochs[0], result.epochs[-1]
    nets = [e.washer_net for e in result.epochs]
    c = result.contract
    console.print(
        f"subsidy share {first.subsidy_share:.1%} -> {last.subsidy_share:.1%}; washer net per epoch "
        f"{tokens(min(nets))} .. {tokens(max(nets))} reward tokens; claimed {tokens(c['claimed'])} <= root total "
        f"{tokens(c['root_total'])} <= released {tokens(c['released'])} <= funded {tokens(c['funded'])}"
    )
    for name, ok in result.checks.items():
        console.print(f"  {'[green]PASS[/]' if ok else '[red]FAIL[/]'} {name}")
    console.print(
        f"{result.roots} roots, {result.claims} claimMany, {result.seconds} s; wrote {out}/flywheel.png and the "
        f"dashboard's pages over the same index ({out}/dashboard/rewards.html: the same curve)"
    )
    if not result.passed:
        failed = [n for n, ok in result.checks.items() if not ok]
        raise FlywheelError(f"flywheel checks failed: {', '.join(failed)}")
    return result


@click.command()
@click.option("--epochs", default=FlywheelConfig.epochs, show_default=True, help="epochs of traffic")
@click.option("--fast", is_flag=True, help="the tests' size: 8 epochs (overrides --epochs)")
@click.option("--seed", default=FlywheelConfig.seed, show_default=True, help="keys and the demand split")
@click.option(
    "--folder",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="writes flywheel-<time>/ here",
)
def cli(epochs: int, fast: bool, seed: int, folder: Path) -> None:
    """The flywheel: emissions bootstrap providers and fade as fees grow; washing loses money."""
    config = FlywheelConfig.fast() if fast else FlywheelConfig(epochs=epochs)
    config.seed = seed
    try:
        run_demo(config, folder)
    except FlywheelError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    cli()
