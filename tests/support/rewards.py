"""The RewardsDistributor under test: deployed on the session's AttestationHub with the staking
token as reward token, and a desk that posts roots the way the oracle nodes will (a tree built
with computerails.rewards, the quorum's signatures, the schedule's fees)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from computerails.rewards import RewardsTree, RootPost, Schedule

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
