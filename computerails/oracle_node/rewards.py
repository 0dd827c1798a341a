"""The oracle node's rewards duty (docs/ORACLE_NETWORK.md, "Rewards roots"): its own index of the
deployment, the calculator run on it, the tree files it serves, and the distributor's state.

:class:`RewardsDuty` holds what the duty needs besides the node's journal and gossip (those stay
in :class:`~computerails.oracle_node.node.OracleNode`):

- the index: a SQLite file in the node's data directory (``rewards-index.sqlite``), advanced by
  :meth:`RewardsDuty.advance` (the app's index loop); it resumes from its own cursor after a
  restart;
- :meth:`RewardsDuty.settled_through`: how many epochs the index has settled (their end plus the
  settle delay reached);
- :meth:`RewardsDuty.compute`: the calculator's answer through an epoch (:class:`Computed`),
  cached, or None while the index cannot tell (not settled yet). Epochs in which nobody earned
  (before the first provider staked) give the *empty root*: root zero, total zero, with their fee
  figures. Posting it moves the schedule on, so that a deployment older than 64 epochs when its
  first provider joins can still reach the epochs that pay (one post adds at most 64 epochs);
  nothing can be claimed against it;
- the tree files, ``<data_dir>/rewards/<root>.json``, written before the node signs a root;
- :meth:`RewardsDuty.chain`: the distributor's latest and active roots and clock, read in one batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3.contract import Contract

from computerails._rpc import Request
from computerails.deployments import load_artifact
from computerails.indexer import Indexer, JsonRpc, open_index
from computerails.indexer.flywheel import RewardsClock
from computerails.rewards.calculator import (
    CalculatorError,
    CalculatorParamsNotSet,
    EpochNotSettled,
    IndexMissesDeployment,
    PostedRoot,
    compute,
    expected_release,
    index_time,
    last_settled,
    posted_roots,
    release_schedules,
)
from computerails.rewards.roots import RootPost
from computerails.rewards.schedule import Schedule
from computerails.rewards.treefile import RewardsFile

log = logging.getLogger("computerails.oracle.rewards")

INDEX_FILE = "rewards-index.sqlite"
TREES_DIR = "rewards"
#: The distributor's contract name in the SDK's codecs.
DISTRIBUTOR = "RewardsDistributor"
#: Most epochs one post may add (the distributor's MAX_EPOCHS_PER_POST).
MAX_EPOCHS_PER_POST = 64
#: The root of epochs in which nobody earned: nothing to claim, only the schedule moves on.
EMPTY_ROOT = bytes(32)


@dataclass(frozen=True)
class Computed:
    """The calculator's answer through `through` epochs: its root and total, every epoch's fee
    figure, and its file (None for the empty root: nobody earned, there is no tree)."""

    through: int
    root: bytes
    total: int
    fees: tuple[int, ...]
    file: RewardsFile | None

    def fees_from(self, base_through: int) -> list[int]:
        """The fee figures a post carries after a root over `base_through` epochs."""
        if not 0 <= base_through <= self.through:
            raise ValueError(f"the previous root covers {base_through} epochs; this one {self.through}")
        return list(self.fees[base_through:])


@dataclass(frozen=True)
class ChainRoots:
    """The distributor's roots as one block saw them."""

    root: bytes  # the latest posted root (zero before the first)
    total: int
    through: int
    activates_at: int
    vetoed: bool
    active_root: bytes  # the root claims use now (zero before the first activates)
    active_total: int
    active_through: int
    now: int  # the block's time
    current_epoch: int
    released: int = 0  # what the distributor released through the latest root's epochs
    fee_average: int = 0  # its fee average after them

    @property
    def pending(self) -> bool:
        """The latest root waits for its activation (and can be vetoed)."""
        return self.through > 0 and not self.vetoed and self.now < self.activates_at

    @property
    def base_through(self) -> int:
        """Epochs covered by the last root not vetoed: the next post continues from it."""
        return self.active_through if self.vetoed else self.through

    @property
    def base_total(self) -> int:
        return self.active_total if self.vetoed else self.total


def next_through(chain: ChainRoots, settled: int) -> int | None:
    """The epochs the next root should cover, or None when no root is due: one is pending, or
    no epoch past the last root not vetoed has settled. At most 64 epochs past it (the
    distributor's bound), and only ended epochs."""
    if chain.pending:
        return None
    through = min(settled, chain.base_through + MAX_EPOCHS_PER_POST, chain.current_epoch)
    return through if through > chain.base_through else None


def veto_reason(mine: Computed, release: tuple[int, int]) -> str:
    """The short reason a node gives for vetoing a root: its own root and total, and the release
    and fee average the post would have made with its fee figures."""
    return (
        f"oracle computed root 0x{mine.root.hex()} total {mine.total} through {mine.through} "
        f"released {release[0]} fee average {release[1]}"
    )


def premature(chain: ChainRoots, epochs: RewardsClock, settle_delay: int) -> str | None:
    """The veto reason for a pending root over epochs that are not final yet on the chain's own
    clock (no honest node can have computed it: their facts can still change), or None. A root
    whose epochs have settled is judged by computing it."""
    if chain.through == 0:
        return None
    settles_at = epochs.end(chain.through - 1) + settle_delay
    if chain.now < settles_at:
        return f"root through {chain.through} posted before its epochs settle at {settles_at}"
    return None


def disagrees(chain: ChainRoots, mine: Computed, release: tuple[int, int]) -> bool:
    """The pending root differs from the node's own computation of the same epochs: its root or
    total, or what the distributor released for it and the fee average it keeps against
    `release`, what the post would have made with the node's fee figures (the fees drive the
    schedule: a root with the right tree and other fees moves it)."""
    return mine.through == chain.through and (
        (mine.root, mine.total) != (chain.root, chain.total) or release != (chain.released, chain.fee_average)
    )


def veto_key(chain: ChainRoots) -> str:
    """The veto round of the chain's latest root post: by root and activation time, as the same
    root may be posted again (with other fee figures) after a veto."""
    return f"veto:0x{chain.root.hex()}:{chain.activates_at}"


def post_of(rewards: Computed, base_through: int, config_version: int) -> RootPost:
    """What the quorum signs: the tree's root and total with the fees of the epochs it adds."""
    return RootPost(
        root=rewards.root,
        total=rewards.total,
        through=rewards.through,
        fees=tuple(rewards.fees_from(base_through)),
        config_version=config_version,
    )


class RewardsDuty:
    """The index, the calculator and the tree files of one node.

    Args:
        rpc_url: the chain (the indexer's own JSON-RPC client).
        rails: the node's connection (deployment, chain id, reads).
        data_dir: the node's data directory.
        page: blocks per ``eth_getLogs`` of the indexer.
    """

    def __init__(self, rpc_url: str, rails: Any, data_dir: Path, page: int) -> None:
        deployment = rails.deployment
        address = deployment.contracts["RewardsDistributor"]
        self.rails = rails
        self.chain_id = int(rails.chain_id)
        self.distributor: Contract = rails.w3.eth.contract(
            address=address, abi=load_artifact("RewardsDistributor")["abi"]
        )
        self.address = str(self.distributor.address)
        genesis, epoch_length = rails.rpc.run(
            [rails.call(DISTRIBUTOR, self.address, fn) for fn in ("genesis", "epochLength")]
        )
        self.epochs = RewardsClock(int(genesis), int(epoch_length))
        self.staking_token = deployment.staking_token
        self.trees = Path(data_dir) / TREES_DIR
        self.trees.mkdir(parents=True, exist_ok=True)
        self.engine = open_index(Path(data_dir) / INDEX_FILE)
        self.rpc = JsonRpc(rpc_url)
        self.indexer = Indexer(self.rpc, deployment, self.engine, page=page)
        # by epochs covered, for the schedules the distributor runs them with (a schedule change
        # or a root posted or vetoed can change those after the epochs settled: then dropped)
        self._computed: dict[int, Computed] = {}
        self._schedules: tuple[tuple[int, Schedule], ...] = ()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.rpc.close()
        self.engine.dispose()

    # ── the index ──

    def advance(self) -> int:
        """Index up to the chain's head; returns the index's cursor block."""
        with self._lock:
            self.indexer.run_until_head()
            return self.indexer.cursor()

    def index_time(self) -> int:
        with self.engine.connect() as conn:
            return index_time(conn)

    def settle_delay(self) -> int:
        """The calculator's settle delay in force on chain now (seconds)."""
        return int(self.rails.read(DISTRIBUTOR, self.address, "calculatorParams")[3])

    def settled_through(self) -> int:
        """Epochs 0 .. n − 1 whose facts the index holds for final: n (by the settle delay in
        force now; the calculator checks the delay in force at each epoch)."""
        with self.engine.connect() as conn:
            try:
                return last_settled(conn, self.epochs) + 1
            except CalculatorParamsNotSet:
                return 0

    # ── the calculator ──

    def compute(self, through: int) -> Computed | None:
        """The calculator's answer through `through` epochs, or None while this index cannot tell
        (not settled yet, or the calculator's parameters not indexed). Cached while the schedules
        the distributor runs the epochs with stay the same (a settled epoch's facts do not
        change; its schedule can, by a ParamsSet or a root posted or vetoed)."""
        try:
            with self.engine.connect() as conn:
                schedules = tuple(release_schedules(conn))
                if schedules != self._schedules:
                    self._computed, self._schedules = {}, schedules
                cached = self._computed.get(through)
                if cached is not None:
                    return cached
                rewards = compute(conn, self.epochs, through, self.staking_token)
        except EpochNotSettled as exc:
            log.debug("rewards through %d not computable yet: %s", through, exc)
            return None
        except IndexMissesDeployment as exc:  # no later head mends it: the operator must
            log.warning("rewards through %d not computable, reindex from the deploy block: %s", through, exc)
            return None
        except CalculatorError as exc:
            log.info("rewards through %d not computable: %s", through, exc)
            return None
        fees = tuple(rewards.fees)
        if rewards.amounts:
            tree = rewards.file(self.chain_id, self.address)
            computed = Computed(through, tree.root, tree.total, fees, tree)
        else:
            computed = Computed(through, EMPTY_ROOT, 0, fees, None)
        self._computed[through] = computed
        return computed

    def latest_post(self, chain: ChainRoots) -> PostedRoot | None:
        """The index's record of the chain's latest root post (`chain`'s root, epochs, activation
        and veto), or None while the index has not caught up with it."""
        with self.engine.connect() as conn:
            posts = posted_roots(conn)
        if not posts:
            return None
        last = posts[-1]
        seen = (last.root, last.through, last.activates_at, last.vetoed)
        return last if seen == (chain.root, chain.through, chain.activates_at, chain.vetoed) else None

    def release_of(self, post: PostedRoot, fees: Sequence[int], first: int = 0) -> tuple[int, int] | None:
        """What the distributor would have released through `post` had it carried `fees` (from
        epoch `first`), and its fee average (:func:`expected_release`); None if the index cannot
        tell."""
        try:
            with self.engine.connect() as conn:
                return expected_release(conn, post, fees, first)
        except CalculatorError as exc:
            log.info("the release of root 0x%s cannot be checked: %s", post.root.hex(), exc)
            return None

    # ── tree files ──

    def tree_path(self, root: bytes) -> Path:
        return self.trees / f"0x{root.hex()}.json"

    def keep(self, computed: Computed) -> Path | None:
        """Write the tree's file (atomically) unless it is there already (None: the empty root
        has no tree)."""
        if computed.file is None:
            return None
        path = self.tree_path(computed.root)
        if not path.exists():
            computed.file.write(path)
        return path

    def tree(self, root: bytes) -> RewardsFile | None:
        """The tree file this node wrote for `root`, or None."""
        path = self.tree_path(root)
        return RewardsFile.load(path) if path.exists() else None

    # ── the chain ──

    def chain(self) -> ChainRoots:
        """The latest and active roots, the block time and the current epoch, at one block."""
        (block,) = self.rails.rpc.run([Request("eth_getBlockByNumber", ["latest", False])])
        at = int(block["number"], 16)
        latest, active, current = self.rails.rpc.run(
            [
                self.rails.call(DISTRIBUTOR, self.address, fn, block=at)
                for fn in ("latestRoot", "activeRoot", "currentEpoch")
            ]
        )
        return ChainRoots(
            root=bytes(latest[0]),
            total=int(latest[1]),
            through=int(latest[2]),
            activates_at=int(latest[3]),
            vetoed=bool(latest[4]),
            active_root=bytes(active[0]),
            active_total=int(active[1]),
            active_through=int(active[2]),
            now=int(block["timestamp"], 16),
            current_epoch=int(current),
            released=int(latest[5]),
            fee_average=int(latest[6]),
        )
