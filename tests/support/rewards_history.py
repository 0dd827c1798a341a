"""A RewardsDistributor history on a devnet node (anvil), for the indexer's and the dashboard's
suites: the reserve funded twice, roots posted through the real oracle quorum (a tree built with
computerails.rewards, signed by the hub's oracles), one root vetoed by an oracle and the same tree
posted again over more epochs, a claim, a recipient set, and a claimMany with an item skipped.
Optionally a last root left pending (its activation delay not waited out).

Transactions go through the SDK's transaction manager (encoded with the shipped ABI), so a revert
fails the run with the decoded error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

import computerails
from computerails import eip712
from computerails._rpc import Codec, Rpc
from computerails.deployments import load_artifact
from computerails.devnet.keys import derive_key
from computerails.rails import ComputeRails
from computerails.rewards import RewardsTree, RootPost
from computerails.tx import Call

STAKE = 10**18
FUNDING = (3_000 * STAKE, 2_000 * STAKE)
ETH = 10 * 10**18


@dataclass
class Posted:
    """One root as posted: its tree and what was signed."""

    tree: RewardsTree
    post: RootPost
    vetoed: bool = False


@dataclass
class RewardsRun:
    distributor: str
    accounts: dict[str, str]  # alice, bob, carol, dave (bob's recipient), funder
    oracle_keys: list[str]
    posted: list[Posted] = field(default_factory=list)
    funded: int = 0
    claimed: int = 0
    skipped: int = 0  # claimMany items skipped

    @property
    def distributed(self) -> int:
        """The latest root's total that was not vetoed."""
        return [p for p in self.posted if not p.vetoed][-1].post.total


class NodeDesk:
    """Sends the distributor's transactions as the run's named accounts (the same `seed`, the same
    accounts) and posts roots signed by `oracle_keys`."""

    def __init__(self, url: str, deployment: Path, oracle_keys: Sequence[str], seed: int = 7) -> None:
        self.url = url
        self.deployment = deployment
        self.keys = {name: derive_key(seed, "rewards", i) for i, name in enumerate(("funder", "alice", "bob", "carol"))}
        self.keys["dave"] = derive_key(seed, "rewards", 4)
        self.address = {name: str(Account.from_key(k).address) for name, k in self.keys.items()}
        self.funder = computerails.connect(url, deployment, account=self.keys["funder"])
        for name in ("funder", "bob"):
            self.funder.rpc.request("anvil_setBalance", [self.address[name], hex(ETH)])
        self.oracle_keys = list(oracle_keys)
        self.rd = Codec(load_artifact("RewardsDistributor")["abi"])
        self.distributor = self.funder.deployment.contracts["RewardsDistributor"]
        self.genesis = self.read("genesis")
        self.epoch_length = self.read("epochLength")
        self.activation_delay = int(self.read("params")[4])

    def read(self, fn: str, *args: Any) -> Any:
        return self.funder.rpc.run([Rpc.call(self.distributor, self.rd[fn], *args)])[0]

    def send(self, rails: ComputeRails, fn: str, *args: Any) -> Any:
        return rails.send(Call(self.distributor, self.rd[fn].encode(*args), fn), fn)

    def as_(self, key: str) -> ComputeRails:
        return computerails.connect(self.url, self.deployment, account=key)

    def warp(self, seconds: int) -> None:
        self.funder.rpc.request("evm_increaseTime", [seconds])
        self.funder.rpc.request("evm_mine", [])

    def to_epoch(self, epoch: int) -> None:
        """Moves time one second into `epoch` if it is not there yet."""
        now = self.funder.now()
        start = self.genesis + epoch * self.epoch_length + 1
        if now < start:
            self.warp(start - now)

    def post(self, amounts: Mapping[str, int], through: int, previous_through: int) -> Posted:
        tree = RewardsTree.of({self.address[n]: a for n, a in amounts.items()})
        hub = self.funder.hub.address
        version = int(self.funder.read("AttestationHub", hub, "configVersion"))
        threshold = int(self.funder.read("AttestationHub", hub, "threshold"))
        fees = tuple(1_000_000 * (e + 1) for e in range(previous_through, through))  # what the quorum signs
        post = RootPost(tree.root, tree.total, through, fees, version)
        digest = post.digest(self.funder.chain_id, self.distributor)
        signed = eip712.sign_all(digest, self.oracle_keys[:threshold])
        self.send(self.funder, "postRoot", post.as_tuple(), signed)
        return Posted(tree, post)

    def mint(self, amount: int) -> None:
        """Mints `amount` reward tokens to the funder and approves the distributor for them."""
        erc20 = self.funder.erc20(self.funder.deployment.staking_token)
        self.funder.send(erc20.functions.mint(self.address["funder"], amount), "mint")
        self.funder.send(erc20.functions.approve(self.distributor, amount), "approve")

    def claim_item(self, tree: RewardsTree, name: str, amount: int | None = None) -> tuple[str, int, list[bytes]]:
        account = self.address[name]
        return (account, tree.amount(account) if amount is None else amount, tree.proof(account))


def run_rewards(
    url: str, deployment: str | Path, oracle_keys: Sequence[str], *, seed: int = 7, pending: bool = False
) -> RewardsRun:
    """Plays the rewards history on the node at `url` (see the module's docstring).

    Args:
        oracle_keys: the hub's oracles' private keys (at least its threshold of them).
        pending: post one more root at the end and leave it pending.
    """
    desk = NodeDesk(url, Path(deployment), oracle_keys, seed)
    run = RewardsRun(desk.distributor, dict(desk.address), list(oracle_keys))
    desk.mint(sum(FUNDING))
    for amount in FUNDING:
        desk.send(desk.funder, "fund", amount)
        run.funded += amount

    # Epochs: the roots cover the epochs the history ran in (a post adds at most 64).
    now_epoch = int(desk.read("currentEpoch"))
    if now_epoch < 4:
        desk.to_epoch(4)
        now_epoch = 4
    last = min(now_epoch, 64)
    first = max(1, last // 2)

    one = desk.post({"alice": 100 * STAKE, "bob": 40 * STAKE}, first, 0)
    run.posted.append(one)
    desk.warp(desk.activation_delay + 1)
    desk.send(desk.funder, "claim", *desk.claim_item(one.tree, "alice"))
    run.claimed += 100 * STAKE

    # A root the oracles veto, and the same tree posted again over more epochs (same root value).
    bigger = {"alice": 300 * STAKE, "bob": 90 * STAKE, "carol": 30 * STAKE}
    two = desk.post(bigger, first + 1, first)
    oracle = desk.as_(oracle_keys[1])
    desk.send(oracle, "veto", two.post.root, "fees misreported for the last epoch")
    two.vetoed = True
    run.posted.append(two)
    three = desk.post(bigger, last, first)
    run.posted.append(three)
    desk.warp(desk.activation_delay + 1)

    desk.send(desk.as_(desk.keys["bob"]), "setRecipient", desk.address["dave"])
    items = [
        desk.claim_item(three.tree, "alice"),  # 300 cumulative: pays 200
        desk.claim_item(three.tree, "bob"),  # 90, paid to dave
        desk.claim_item(three.tree, "carol", 31 * STAKE),  # not the tree's amount: skipped (InvalidProof)
    ]
    desk.send(desk.funder, "claimMany", items)
    run.claimed += 200 * STAKE + 90 * STAKE
    run.skipped = 1

    if pending:
        desk.to_epoch(last + 1)
        four = desk.post({**bigger, "carol": 60 * STAKE}, last + 1, last)
        run.posted.append(four)
    return run
