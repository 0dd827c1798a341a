"""The rewards duty's rules without a chain: which epochs the next root covers, when a pending
root is contradicted, what the veto says, and a root post's journey through the gossip's JSON."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computerails.indexer.flywheel import RewardsClock
from computerails.oracle_node.config import OracleSettings
from computerails.oracle_node.node import (
    REWARDS,
    UNDECIDED,
    OracleNode,
    dump_statement,
    kind_of,
    parse_statement,
    round_key,
)
from computerails.oracle_node.rewards import (
    EMPTY_ROOT,
    ChainRoots,
    Computed,
    disagrees,
    next_through,
    post_of,
    premature,
    veto_key,
    veto_reason,
)
from computerails.rewards import RootPost

ROOT, OTHER = b"\x01" * 32, b"\x02" * 32
RELEASED, FEE_AVERAGE = 10**21, 5 * 10**6  # the distributor's figures for the pending root


def roots(
    through: int = 10,
    *,
    now: int = 1_000,
    activates_at: int = 900,
    vetoed: bool = False,
    active_through: int = 10,
    current: int = 200,
) -> ChainRoots:
    return ChainRoots(
        root=ROOT,
        total=500,
        through=through,
        activates_at=activates_at,
        vetoed=vetoed,
        active_root=ROOT,
        active_total=400,
        active_through=active_through,
        now=now,
        current_epoch=current,
        released=RELEASED,
        fee_average=FEE_AVERAGE,
    )


def computed(through: int = 10, root: bytes = ROOT, total: int = 500) -> Computed:
    return Computed(through, root, total, tuple(range(through)), None)


def test_next_through__active_root__settled_epochs_past_it_capped_at_64_and_the_current_epoch() -> None:
    assert next_through(roots(10), settled=15) == 15
    assert next_through(roots(10), settled=500) == 74
    assert next_through(roots(10, current=12), settled=15) == 12


def test_next_through__nothing_settled_past_the_last_root__none() -> None:
    assert next_through(roots(10), settled=10) is None
    assert next_through(roots(0, activates_at=0, active_through=0), settled=0) is None


def test_next_through__root_pending__none_whatever_settled() -> None:
    assert next_through(roots(10, activates_at=2_000), settled=50) is None


def test_next_through__latest_vetoed__continues_from_the_active_root() -> None:
    chain = roots(10, activates_at=2_000, vetoed=True, active_through=4)
    assert not chain.pending and chain.base_through == 4 and chain.base_total == 400
    assert next_through(chain, settled=10) == 10


def test_disagrees__same_epochs_other_root_total_release_or_fee_average__true_else_false() -> None:
    pending, release = roots(10, activates_at=2_000), (RELEASED, FEE_AVERAGE)
    assert not disagrees(pending, computed(), release)
    assert disagrees(pending, computed(root=OTHER), release)
    assert disagrees(pending, computed(total=501), release)
    # the right tree posted with other fee figures: the post released and averages otherwise
    assert disagrees(pending, computed(), (RELEASED + 1, FEE_AVERAGE))
    assert disagrees(pending, computed(), (RELEASED, FEE_AVERAGE - 1))
    assert not disagrees(pending, computed(through=9, root=OTHER), release)  # other epochs: no opinion


def test_veto_key__the_same_root_posted_again__another_round() -> None:
    first, again = roots(10, activates_at=2_000), roots(10, activates_at=2_600)
    assert veto_key(first) == f"veto:0x{ROOT.hex()}:2000" and veto_key(again) != veto_key(first)


def test_premature__root_over_epochs_not_final_on_the_chains_clock__a_reason_else_none() -> None:
    epochs, settle = RewardsClock(genesis=0, epoch_length=100), 250  # epoch 9 ends at 1,000, final at 1,250
    assert premature(roots(10, now=1_249, activates_at=2_000), epochs, settle) == (
        "root through 10 posted before its epochs settle at 1250"
    )
    assert premature(roots(10, now=1_250, activates_at=2_000), epochs, settle) is None
    assert premature(roots(0, now=0, activates_at=0), epochs, settle) is None


def test_veto_reason__names_the_nodes_root_total_and_release() -> None:
    assert veto_reason(computed(root=OTHER, total=7), (9, 3)) == (
        f"oracle computed root 0x{OTHER.hex()} total 7 through 10 released 9 fee average 3"
    )


def test_post_of__fees_from_the_previous_roots_epochs() -> None:
    post = post_of(computed(through=6), base_through=4, config_version=3)
    assert post == RootPost(ROOT, 500, 6, (4, 5), 3)
    with pytest.raises(ValueError):
        computed(through=6).fees_from(7)


def test_root_post__gossip_json_round_trip__same_statement_and_round() -> None:
    post = RootPost(OTHER, 10**30, 70, (0, 2**200, 5), 9)
    again = parse_statement(REWARDS, dump_statement(post))
    assert again == post and kind_of(again) == REWARDS
    assert round_key(again) == "rewards:67:70:9"


@pytest.mark.parametrize(
    "change",
    [{"root": "0x1234"}, {"fees": []}, {"fees": ["-1"]}, {"through": 1}, {"total": "-5"}],
)
def test_root_post__malformed_json__refused(change: dict) -> None:
    body = dump_statement(RootPost(EMPTY_ROOT, 0, 3, (0, 0), 1)) | change
    with pytest.raises(ValueError):
        parse_statement(REWARDS, body)


def test_settings__rewards_switch__on_by_default_off_by_config(tmp_path) -> None:
    required = {"deployment": "deployments/31337.json", "keystore": "oracle.json", "data_dir": str(tmp_path)}
    assert OracleSettings(**required).rewards.enabled
    assert not OracleSettings(**required, rewards={"enabled": False}).rewards.enabled


class _Duty:
    """What OracleNode._root_done asks the rewards duty: the chain's roots, and the index's record
    of the latest post (None: not indexed yet) with its release for given fees."""

    def __init__(self, chain: ChainRoots, posted: object | None, release: tuple[int, int] | None) -> None:
        self._chain, self._posted, self._release = chain, posted, release

    def chain(self) -> ChainRoots:
        return self._chain

    def latest_post(self, chain: ChainRoots) -> object | None:
        return self._posted

    def release_of(self, posted: object, fees: object, first: int = 0) -> tuple[int, int] | None:
        return self._release


def _root_done(duty: _Duty, post: RootPost) -> str | None:
    return OracleNode._root_done(SimpleNamespace(rewards=duty), post)  # type: ignore[arg-type]


def test_root_done__same_root_vetoed_index_behind__undecided_neither_sent_nor_closed() -> None:
    """Regression: the chain shows this root vetoed but the index has not caught up with that
    post. It was judged "posted on chain and vetoed" and the round closed, though the veto may
    have been of the same tree with other fees (then this post is due): the nodes never posted
    it (seen under load in the rewards network suite)."""
    post = RootPost(ROOT, 500, 10, tuple(range(5)))
    vetoed = roots(10, vetoed=True, activates_at=2_000, active_through=5)  # the post adds epochs 5 .. 9

    assert _root_done(_Duty(vetoed, posted=None, release=None), post) == UNDECIDED
    # once indexed: the veto was of this very post (same release) ...
    assert _root_done(_Duty(vetoed, object(), (RELEASED, FEE_AVERAGE)), post) == "posted on chain and vetoed"
    # ... or of the same tree with other fees: this post is due
    assert _root_done(_Duty(vetoed, object(), (RELEASED + 1, FEE_AVERAGE)), post) is None
    assert _root_done(_Duty(roots(10, activates_at=2_000), None, None), post) == "posted on chain"
