"""The RewardsDistributor under test: deployed on the session's AttestationHub with the staking
token as reward token, and a desk that posts roots the way the oracle nodes will (a tree built
with computerails.rewards, the quorum's signatures, the schedule's fees)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from computerails.eip712 import sign_all
from computerails.rewards import RewardsFile, RewardsTree, RootPost, Schedule
from computerails.tx import Call

STAKE = 10**18
USD = 10**6
EPOCH = 86_400
PARAMS = Schedule(e0=1_000 * STAKE, halving_epochs=4, fee_target=100 * USD, fee_window=2, activation_delay=3_600)


def params_tuple(s: Schedule) -> tuple[int, int, int, int, int]:
    return (s.e0, s.halving_epochs, s.fee_target, s.fee_window, s.activation_delay)


def deploy_rewards(
    project: Any, governance: Any, hub: Any, token: Any, genesis: int, schedule: Schedule = PARAMS
) -> Any:
    return project.RewardsDistributor.deploy(
        token.address, hub.address, governance.address, genesis, EPOCH, params_tuple(schedule), sender=governance
    )


class RewardsDesk:
    """Posts signed roots, moves time by epochs, and keeps the schedule's mirror in step."""

    def __init__(self, distributor: Any, protocol: Any, chain: Any, schedule: Schedule = PARAMS) -> None:
        self.distributor = distributor
        self.protocol = protocol
        self.chain = chain
        self.schedule = schedule
        self.genesis = int(distributor.genesis())

    def to_epoch(self, epoch: int) -> None:
        """Mine a block one second into `epoch` (epochs before it have ended)."""
        self.chain.pending_timestamp = max(self.chain.pending_timestamp, self.genesis + epoch * EPOCH + 1)
        self.chain.mine()

    def activate(self) -> None:
        """Wait out the activation delay of the latest root."""
        self.protocol.warp(self.schedule.activation_delay)

    def post(
        self,
        amounts: Mapping[str, int] | RewardsTree,
        through: int,
        fees: Sequence[int],
        *,
        total: int | None = None,
        signers: Sequence[Any] | None = None,
        config_version: int | None = None,
        sender: Any = None,
    ) -> tuple[Any, RewardsTree, RootPost]:
        """Post the tree of `amounts` over epochs 0 .. through − 1 with the fees of the epochs it
        adds; `total` overrides the tree's sum (to post a malformed root)."""
        tree = amounts if isinstance(amounts, RewardsTree) else RewardsTree.of(amounts)
        version = int(self.protocol.hub.configVersion()) if config_version is None else config_version
        post = RootPost(tree.root, tree.total if total is None else total, through, tuple(fees), version)
        signatures = self.protocol.sign(self.digest(post), signers)
        receipt = self.distributor.postRoot(post.as_tuple(), signatures, sender=sender or self.protocol.oracles[0])
        return receipt, tree, post

    def digest(self, post: RootPost) -> bytes:
        return post.digest(self.chain.chain_id, self.distributor.address)

    def released(self, fees: Sequence[int]) -> int:
        return self.schedule.release(0, fees)[0]


class DevnetRewards:
    """The devnet deployment's RewardsDistributor as the oracle nodes will drive it, for the SDK
    and CLI suites: funds the reserve, posts roots signed by the test oracles (over epochs that
    ended, moving the chain's clock there), activates and vetoes them, and writes the rewards
    file of each root."""

    def __init__(self, connect: Any, oracle_keys: Sequence[str]) -> None:
        self.connect = connect  # connect(private key) -> ComputeRails
        self.keys = list(oracle_keys)
        self.rails = connect(None)  # reads and the clock
        self.address = self.rails.deployment.contracts["RewardsDistributor"]
        read = self._read
        self.genesis, self.epoch_length = read("genesis"), read("epochLength")
        self.activation_delay = read("params")[4]

    def _read(self, fn: str, *args: Any) -> Any:
        return self.rails.read("RewardsDistributor", self.address, fn, *args)

    def _send(self, fn: str, *args: Any) -> Any:
        """Send as the first oracle, from a connection of its own: each test reverts the chain,
        nonces included, so a connection kept across tests would count on a stale nonce."""
        sender = self.connect(self.keys[0])
        data = sender.abi["RewardsDistributor"][fn].encode(*args)
        return sender.tx.send(Call(self.address, data, fn), label=fn)

    def _mine_at(self, timestamp: int) -> None:
        w3 = self.rails.w3
        w3.provider.make_request("evm_setNextBlockTimestamp", [max(timestamp, self.rails.now() + 1)])
        w3.provider.make_request("evm_mine", [])

    def base_through(self) -> int:
        """Epochs covered by the last root not vetoed (what the next post continues from)."""
        _, _, through, _, vetoed, _, _ = self._read("latestRoot")
        if not vetoed:
            return int(through)
        return int(self._read("activeRoot")[2])

    def post(self, amounts: Mapping[str, int], through: int, fees: Sequence[int] | None = None) -> Any:
        """Post the tree of `amounts` (raw units) over epochs 0 .. through − 1 (default fees: 0
        each), first moving the clock into epoch `through`; returns its RewardsFile."""
        fees = list(fees) if fees is not None else [0] * through
        self._mine_at(self.genesis + through * self.epoch_length + 1)
        tree = RewardsTree.of(amounts)
        version = int(self.rails.hub.functions.configVersion().call())
        threshold = int(self.rails.hub.functions.threshold().call())
        post = RootPost(tree.root, tree.total, through, tuple(fees[self.base_through() :]), version)
        digest = post.digest(self.rails.chain_id, self.address)
        self._send("postRoot", post.as_tuple(), sign_all(digest, self.keys[:threshold]))
        return RewardsFile(self.rails.chain_id, self.address, through, tree, tuple(fees))

    def activate(self) -> None:
        """Move the clock past the latest root's activation time."""
        self._mine_at(int(self._read("latestRoot")[3]))

    def veto(self, root: bytes, reason: str = "differs from my computation") -> None:
        self._send("veto", root, reason)


#: The first root the SDK and CLI suites post (raw units of the 18-decimal staking token): the
#: provider 30, the other provider 20, the client 10; the reserve holds 1,000.
FIRST = {"provider": 30 * STAKE, "other_provider": 20 * STAKE, "client": 10 * STAKE}
RESERVE = 1_000 * STAKE


@dataclass(frozen=True)
class RewardsWorld:
    """A funded devnet distributor with one active root over epochs 0 and 1."""

    desk: DevnetRewards
    file: RewardsFile  # the active root's rewards file
    path: Path  # where it is written
    accounts: Mapping[str, str]  # "provider", "other_provider", "client" -> address

    @property
    def root(self) -> str:
        return "0x" + self.file.root.hex()

    def amounts(self, **raw: int) -> dict[str, int]:
        """FIRST with some accounts' amounts replaced, by address."""
        return {self.accounts[k]: raw.get(k, v) for k, v in FIRST.items()}


@contextmanager
def posted_root(
    connect: Any, w3: Any, folder: Path, funder: int, oracles: Sequence[str], roles: Mapping[str, int]
) -> Iterator[RewardsWorld]:
    """Fund the devnet distributor, post and activate the root of FIRST, write its file in
    `folder`; the chain goes back to where it was afterwards (one snapshot around it all).

    Args:
        connect: connect(private key, or None: read-only) -> ComputeRails.
        funder: the dev key that mints and funds the reserve.
        oracles: the oracles' private keys (the first signs and sends).
        roles: "provider", "other_provider", "client" -> private key.
    """
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        desk = DevnetRewards(connect, oracles)
        accounts = {name: Account.from_key(key).address for name, key in roles.items()}
        amounts = {accounts[k]: v for k, v in FIRST.items()}
        latest = desk._read("latestRoot")
        if int(latest[2]) == 0:
            rails = connect(funder)
            token = rails.erc20(rails.deployment.staking_token)
            rails.send(token.functions.mint(rails.address, RESERVE), "mint")
            rails.rewards.fund(RESERVE // STAKE)
            first = desk.post(amounts, through=2)
        else:
            # This world is on the node already: Ape's pytest plugin can build a module fixture a
            # second time ("rebasing", its InvalidIsolationWarning) before the first one's teardown
            # reverted the chain. Each test reverted its own changes, so what is there is the
            # funded reserve and FIRST's root: use them.
            first = RewardsFile(desk.rails.chain_id, desk.address, 2, RewardsTree.of(amounts), (0, 0))
            assert bytes(latest[0]) == first.root and int(latest[2]) == 2, (
                f"the devnet distributor already holds another root ({latest}): a suite left rewards state behind"
            )
        desk.activate()
        yield RewardsWorld(desk, first, first.write(folder / "root-2.json"), accounts)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])
