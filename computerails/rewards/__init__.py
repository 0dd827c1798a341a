"""Incentive emissions (issue 16): the schedule the RewardsDistributor runs, mirrored integer for
integer (:mod:`computerails.rewards.schedule`), and cumulative merkle trees in OpenZeppelin's
StandardMerkleTree format (:mod:`computerails.rewards.merkle`)."""

from computerails.rewards.merkle import RewardsTree, leaf_hash
from computerails.rewards.roots import RootPost
from computerails.rewards.schedule import Schedule, decay
from computerails.rewards.treefile import RewardsFile, RewardsFileError

__all__ = ["RewardsFile", "RewardsFileError", "RewardsTree", "RootPost", "Schedule", "decay", "leaf_hash"]
