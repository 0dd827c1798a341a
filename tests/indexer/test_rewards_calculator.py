"""The rewards calculator (issue 16) on an indexed history of the marketplace (jobs settled,
uptime slashes and jailings, metered collections, a fraud slash): its root equals the root
recomputed from a fresh index of the same chain built in random runs and pages, on SQLite and
PostgreSQL; its figures follow the chain's events; it refuses an epoch that is not final."""

from __future__ import annotations

import json
from dataclasses import astuple, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from web3 import Web3

import computerails
from computerails._rpc import Codec
from computerails.cli import main
from computerails.deployments import load_artifact
from computerails.devnet import dev_key
from computerails.indexer import open_index
from computerails.indexer import schema as s
from computerails.indexer.flywheel import RewardsClock
from computerails.rewards import RewardsFile, Schedule
from computerails.rewards.calculator import (
    EpochNotSettled,
    IndexMissesDeployment,
    SlasherEpochs,
    compute,
    expected_release,
    index_time,
    posted_roots,
    release_schedules,
)
from computerails.rewards.merkle import verify
from computerails.tx import Call
from computerails.types import UptimeReport
from tests.indexer.conftest import Chain, ForkPoint, build


class Settled:
    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        address = chain.deployment.contracts["RewardsDistributor"]
        abi = load_artifact("RewardsDistributor")["abi"]
        w3 = Web3(Web3.HTTPProvider(chain.url))
        self.distributor = w3.eth.contract(address=address, abi=abi)
        self.epochs = RewardsClock(
            self.distributor.functions.genesis().call(), self.distributor.functions.epochLength().call()
        )
        self.params = self.distributor.functions.calculatorParams().call()
        self.settle_delay = int(self.params[3])
        now = w3.eth.get_block("latest")["timestamp"]
        self.through = self.epochs.of(now - self.settle_delay)  # epochs 0 .. through − 1 are final
        self.staking_token = chain.deployment.staking_token


@pytest.fixture(scope="module")
def settled(history: Chain) -> Settled:
    """The history with the clock moved past the last active epoch's settle delay."""
    history.rpc("evm_increaseTime", [30 * 3_600])
    history.rpc("evm_mine", [])
    return Settled(history)


@pytest.fixture(scope="module")
def reference_db(settled: Settled, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The settled history indexed in one go into SQLite."""
    url = str(tmp_path_factory.mktemp("reference") / "index.sqlite")
    build(settled.chain, url).engine.dispose()
    return url


@pytest.fixture(scope="module")
def reference(settled: Settled, reference_db: str) -> Any:
    """The rewards computed from the reference index."""
    engine = open_index(reference_db)
    with engine.connect() as conn:
        rewards = compute(conn, settled.epochs, settled.through, settled.staking_token)
    engine.dispose()
    return rewards


def test_compute__history__providers_earn_within_release_and_proofs_verify(settled: Settled, reference: Any) -> None:
    r = reference
    assert r.through == settled.through and len(r.epochs) == r.through
    assert r.amounts, "the marketplace's providers staked and served: someone earns"
    assert 0 < r.total <= r.released
    tree = r.tree()
    for account, amount in r.amounts.items():
        assert verify(tree.root, account, amount, tree.proof(account))
    # the file round-trips with the same root and fees
    f = r.file(settled.chain.deployment.chain_id, settled.distributor.address)
    again = RewardsFile.from_document(f.document())
    assert again.root == tree.root and list(again.fees) == r.fees


def test_compute__fees__equal_settlements_and_collections_in_the_fee_token(
    settled: Settled, reference: Any, reference_db: str
) -> None:
    """The calculator reads raw events; the indexer's derived tables are a second path to the same sums."""
    fee_token = settled.params[0].lower()
    expected: dict[int, int] = {}
    engine = open_index(reference_db)
    with engine.connect() as conn:
        times = dict(conn.execute(select(s.blocks.c.number, s.blocks.c.timestamp)).all())
        for block, token, fee in conn.execute(
            select(s.collections.c.block_number, s.collections.c.token, s.collections.c.fee)
        ):
            if token.lower() == fee_token:
                t = settled.epochs.of(times[block])
                expected[t] = expected.get(t, 0) + int(fee)
        settle = (
            select(s.job_transitions.c.block_number, s.jobs.c.token, s.jobs.c.fee)
            .join(s.jobs, s.jobs.c.job_id == s.job_transitions.c.job_id)
            .where(s.job_transitions.c.event == "JobSettled")
        )
        for block, token, fee in conn.execute(settle):
            if token.lower() == fee_token:
                t = settled.epochs.of(times[block])
                expected[t] = expected.get(t, 0) + int(fee)
    engine.dispose()
    got = {e.epoch: e.fees for e in reference.epochs if e.fees}
    assert got == {t: v for t, v in expected.items() if t < settled.through and v}
    assert sum(got.values()) > 0


def test_compute__jailed_or_slashed_epochs__earn_nothing(settled: Settled, reference: Any, reference_db: str) -> None:
    engine = open_index(reference_db)
    with engine.connect() as conn:
        times = dict(conn.execute(select(s.blocks.c.number, s.blocks.c.timestamp)).all())
        punished = set()
        for block, kind, provider, epoch in conn.execute(
            select(s.slashes.c.block_number, s.slashes.c.kind, s.slashes.c.provider, s.slashes.c.epoch)
        ):
            if kind == "UptimeReported":
                punished.add((int(epoch), provider.lower()))
            elif kind in ("CollateralSlashed", "FraudSlashed"):
                punished.add((settled.epochs.of(times[block]), provider.lower()))
        jailings = conn.execute(
            select(s.events.c.block_number, s.events.c.args).where(s.events.c.event == "ProviderJailed")
        ).all()
    engine.dispose()
    for block, args in jailings:
        punished.add((settled.epochs.of(times[block]), args["provider"].lower()))
    punished = {(t, p) for t, p in punished if t < settled.through}
    assert punished, "the history jails and slashes providers"
    for t, provider in punished:
        assert provider not in {sh.provider for sh in reference.epochs[t].shares}, (t, provider)


def test_compute__epoch_not_final__refused_with_when(settled: Settled, reference_db: str) -> None:
    engine = open_index(reference_db)
    with engine.connect() as conn:
        reached = index_time(conn)
        with pytest.raises(EpochNotSettled) as e:
            compute(conn, settled.epochs, settled.through + 1, settled.staking_token)
    engine.dispose()
    assert e.value.epoch == settled.through and e.value.index_time == reached
    assert e.value.settles_at == settled.epochs.end(settled.through) + settled.settle_delay


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    segments=st.lists(
        st.tuples(st.floats(0, 1), st.one_of(st.sampled_from([1, 5000]), st.integers(1, 5000))), min_size=1, max_size=3
    )
)
@example(segments=[(0.5, 7)])
def test_compute__fresh_index_in_random_runs__same_root(
    settled: Settled, reference: Any, new_db: Any, segments: list[tuple[float, int]]
) -> None:
    """Anyone indexing the same chain (either database, any page sizes, restarts anywhere)
    computes the same tree: the property oracle nodes rely on to agree on a root."""
    chain = settled.chain
    head, start = chain.head(), chain.deployment.deploy_block
    url = new_db()
    for fraction, page in sorted(segments):
        build(chain, url, page=page, target=start + round(fraction * (head - start)))
    engine = build(chain, url, page=segments[-1][1], target=head).engine
    with engine.connect() as conn:
        fresh = compute(conn, settled.epochs, settled.through, settled.staking_token)
    engine.dispose()
    assert fresh.tree().root == reference.tree().root
    assert fresh.amounts == reference.amounts and fresh.fees == reference.fees


def test_cli_compute__epoch__writes_the_file_and_prints_the_reference_root(
    settled: Settled, reference: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rewards.json"
    argv = ["--rpc", settled.chain.url, "--deployment", str(settled.chain.deployment_file), "--json"]
    argv += ["rewards", "compute", "--epoch", str(settled.through - 1), "--db", str(tmp_path / "i.sqlite")]
    argv += ["--out", str(out), "--confirmations", "0"]

    assert main(argv) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["root"] == "0x" + reference.tree().root.hex()
    assert printed["through"] == settled.through and int(printed["total"]) == reference.total
    written = RewardsFile.load(out)
    assert written.root == reference.tree().root and list(written.fees) == reference.fees


def test_cli_compute__default_epoch__the_last_final_one(
    settled: Settled, reference: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--rpc", settled.chain.url, "--deployment", str(settled.chain.deployment_file), "--json"]
    argv += ["rewards", "compute", "--db", str(tmp_path / "i.sqlite"), "--out", str(tmp_path / "r.json")]
    argv += ["--confirmations", "0"]

    assert main(argv) == 0

    assert json.loads(capsys.readouterr().out)["through"] == settled.through


def test_cli_compute__epoch_not_final__one_error_line(settled: Settled, tmp_path: Any, capsys: Any) -> None:
    argv = ["--rpc", settled.chain.url, "--deployment", str(settled.chain.deployment_file)]
    argv += ["rewards", "compute", "--epoch", str(settled.through), "--db", str(tmp_path / "i.sqlite")]
    argv += ["--confirmations", "0"]

    assert main(argv) != 0

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and f"epoch {settled.through} is final at" in err[0]
    assert not (tmp_path / "rewards-data").exists()


def test_compute__reported_uptime__is_the_availability_weight(
    settled: Settled, reference: Any, reference_db: str
) -> None:
    """Every uptime the quorum reported for a settled epoch is the uptime the availability pool
    weighs that provider by (an epoch without a report counts as 10,000 bps)."""
    engine = open_index(reference_db)
    with engine.connect() as conn:
        reported = {
            (int(t), p.lower()): int(bps)
            for t, p, bps in conn.execute(select(s.uptime.c.epoch, s.uptime.c.provider, s.uptime.c.uptime_bps))
        }
    engine.dispose()
    reported = {k: v for k, v in reported.items() if k[0] < settled.through}
    assert reported, "the history reports uptime"
    weighed = {(t, p.provider): p.uptime_bps for t, facts in enumerate(reference.inputs) for p in facts}
    assert set(reported) <= set(weighed)  # every reported provider-epoch was weighed
    for key, bps in weighed.items():
        assert bps == reported.get(key, 10_000), key


def test_compute__schedule_changed_before_the_post__uncovered_epochs_run_the_schedule_of_the_post(
    settled: Settled, reference: Any, fork_point: ForkPoint, new_db: Any
) -> None:
    """Governance halves e0 after epochs 0 .. through − 1 ended, before their root is posted. The
    distributor runs the schedule when a root is posted: epochs the history's roots cover keep the
    schedule of their post, the others are released at the new e0 by the next post. The
    calculator follows it; with the e0 in force at each epoch's end its root could distribute
    more than that post releases (TotalAboveReleased)."""
    chain = settled.chain
    address = chain.deployment.contracts["RewardsDistributor"]
    old = Schedule(*settled.distributor.functions.params().call())
    new = replace(old, e0=old.e0 // 2)
    governor = computerails.connect(chain.url, chain.deployment_file, account=dev_key(0))  # a direct governor
    codec = Codec(load_artifact("RewardsDistributor")["abi"])
    governor.send(Call(address, codec["setParams"].encode(astuple(new)), "setParams"), "setParams")
    covered = [p for p in chain.rewards.posted if not p.vetoed][-1].post.through
    assert 0 < covered < settled.through  # some epochs covered by a root, some not yet

    engine = build(chain, new_db()).engine
    with engine.connect() as conn:
        changed = compute(conn, settled.epochs, settled.through, settled.staking_token)
        schedules = release_schedules(conn)
    engine.dispose()
    assert schedules[-1] == (covered, new) and all(s == old for _, s in schedules[:-1])
    assert changed.schedule == new

    average = 0
    for t, (before, after) in enumerate(zip(reference.epochs, changed.epochs, strict=True)):
        average = old.average(average, reference.fees[t])
        if t < covered:
            assert after.emission == before.emission, t
        else:
            assert after.emission == new.emission(t, average), t
    assert changed.released < reference.released
    assert 0 < changed.total <= changed.released


def test_expected_release__each_post_of_the_history__the_distributors_own_figures(
    settled: Settled, reference_db: str
) -> None:
    """For every root the history posted (one vetoed, the next continuing from the root before
    it), the base root's stored figures run on over the post's epochs with its fee figures give
    exactly what the distributor recorded; other fee figures give other figures (what a node's
    veto compares)."""
    engine = open_index(reference_db)
    with engine.connect() as conn:
        indexed = posted_roots(conn)
        assert [(p.root, p.vetoed) for p in indexed] == [(p.tree.root, p.vetoed) for p in settled.chain.rewards.posted]
        for record, sent in zip(indexed, settled.chain.rewards.posted, strict=True):
            fees, first = list(sent.post.fees), sent.post.through - len(sent.post.fees)
            assert expected_release(conn, record, fees, first) == (record.released, record.fee_average)
            other = [f + 10**8 for f in fees]
            assert expected_release(conn, record, other, first) != (record.released, record.fee_average)
    engine.dispose()


def _reschedule_slasher(
    settled: Settled,
    reference: Any,
    new_db: Any,
    new_length: int,
    reports: list[tuple[int, int, int]],
    epochs_after: int,
) -> tuple[int, list[str], Any]:
    """Governance sets the UptimeSlasher's epoch length to `new_length` (the distributor's never
    changes); once `epochs_after` distributor epochs of the new schedule have passed, the
    history's quorum reports (provider number, slasher epoch offset from the new schedule's
    first, bps) for the first two providers earning at the history's end; the clock then passes the settle
    delay and a fresh index computes every epoch up to there. Returns the distributor epoch the
    new schedule starts on, the two providers and the rewards."""
    chain = settled.chain
    w3 = Web3(Web3.HTTPProvider(chain.url))
    governor = computerails.connect(chain.url, chain.deployment_file, account=dev_key(0))  # a direct governor
    slasher = governor.slasher
    params = list(slasher.functions.params().call())
    assert params[0] == settled.epochs.epoch_length  # deployed aligned: the slasher's epochs are the distributor's
    params[0] = new_length
    codec = Codec(load_artifact("UptimeSlasher")["abi"])
    governor.send(Call(slasher.address, codec["setParams"].encode(tuple(params)), "setParams"), "setParams")
    first, start, length = (int(x) for x in slasher.functions.schedules().call()[-1][:3])
    assert length == new_length
    t = settled.epochs.of(start)
    assert settled.epochs.start(t) == start and t >= settled.through  # it starts on t's boundary
    later = settled.epochs.end(t + epochs_after - 1) + 60
    chain.rpc("evm_increaseTime", [later - w3.eth.get_block("latest")["timestamp"]])
    chain.rpc("evm_mine", [])
    oracles = [computerails.connect(chain.url, chain.deployment_file, account=k) for k in chain.rewards.oracle_keys]
    providers = sorted(p.provider for p in reference.inputs[settled.through - 1] if not p.excluded)[:2]
    assert len(providers) == 2, "the history leaves two providers earning"
    for number, offset, bps in reports:
        report = oracles[0].oracle.prepare(
            UptimeReport(provider=Web3.to_checksum_address(providers[number]), epoch=first + offset, uptime_bps=bps)
        )
        signatures = [o.oracle.sign_uptime_report(report) for o in oracles[:2]]  # the history's quorum: 2 of 3
        oracles[0].oracle.submit_uptime_report(report, signatures)
    chain.rpc("evm_increaseTime", [settled.settle_delay + 60])
    chain.rpc("evm_mine", [])
    engine = build(chain, new_db()).engine
    with engine.connect() as conn:
        rescheduled = compute(conn, settled.epochs, t + epochs_after, settled.staking_token)
    engine.dispose()
    return t, providers, rescheduled


def test_compute__slasher_rescheduled__uptime_placed_by_time_not_by_epoch_number(
    settled: Settled, reference: Any, fork_point: ForkPoint, new_db: Any
) -> None:
    """Governance halves the UptimeSlasher's epochs. Reports for the two half-length slasher epochs
    inside one distributor epoch t weigh t by the time each covers, and an unreported half counts
    as 10,000 bps; by epoch number instead, both would land in t and t + 1. Earlier epochs keep
    exactly the reference's weights."""
    half = settled.epochs.epoch_length // 2
    t, (p, q), rescheduled = _reschedule_slasher(
        settled, reference, new_db, half, [(0, 0, 9_600), (0, 1, 9_900), (1, 1, 9_700)], epochs_after=1
    )
    weights = {x.provider: x.uptime_bps for x in rescheduled.inputs[t]}
    assert weights[p] == (9_600 + 9_900) // 2  # half the epoch each
    assert weights[q] == (10_000 + 9_700) // 2  # its first half unreported
    assert all(bps == 10_000 for x, bps in weights.items() if x not in (p, q))
    assert rescheduled.inputs[: settled.through] == reference.inputs


def test_compute__slasher_epoch_straddles_two_epochs__weighs_both_by_overlap_and_its_slash_excludes_both(
    settled: Settled, reference: Any, fork_point: ForkPoint, new_db: Any
) -> None:
    """Slasher epochs of two thirds of the distributor's: the second one straddles t and t + 1.
    Its uptime weighs each by the part it covers, and its slash request (below the SLA) excludes
    the provider from both; the first slasher epoch, inside t only, touches nothing in t + 1."""
    length = settled.epochs.epoch_length
    two_thirds = length * 2 // 3
    t, (p, q), rescheduled = _reschedule_slasher(
        settled, reference, new_db, two_thirds, [(0, 0, 9_800), (0, 1, 9_000), (1, 0, 9_900)], epochs_after=2
    )
    rest = length - two_thirds  # the second slasher epoch's part of t
    by = {u: {x.provider: x for x in rescheduled.inputs[u]} for u in (t, t + 1)}
    assert by[t][p].uptime_bps == (two_thirds * 9_800 + rest * 9_000) // length
    assert by[t + 1][p].uptime_bps == ((two_thirds - rest) * 9_000 + (length - two_thirds + rest) * 10_000) // length
    assert by[t][p].excluded == by[t + 1][p].excluded == "slashed"
    assert by[t][q].uptime_bps == (two_thirds * 9_900 + rest * 10_000) // length
    assert by[t + 1][q].uptime_bps == 10_000 and by[t + 1][q].excluded != "slashed"
    assert rescheduled.inputs[: settled.through] == reference.inputs


def test_slasher_epochs__schedules_replaced_and_changed__spans_follow_the_slasher() -> None:
    """The slasher's epochs from its ScheduleSet events: the constructor's schedule, a pending
    change replaced under the same index, then a later change; an epoch before every schedule
    (an index that starts after the deploy block) is refused by name."""
    epochs = SlasherEpochs()
    with pytest.raises(IndexMissesDeployment):
        epochs.span(0)
    epochs.set({"index": 0, "firstEpoch": 0, "startTime": 1_000, "epochLength": 600})
    assert epochs.span(0) == (1_000, 1_600) and epochs.span(4) == (3_400, 4_000)
    epochs.set({"index": 1, "firstEpoch": 5, "startTime": 4_000, "epochLength": 300})  # pending ...
    epochs.set({"index": 1, "firstEpoch": 5, "startTime": 4_000, "epochLength": 900})  # ... replaced
    assert epochs.span(4) == (3_400, 4_000) and epochs.span(5) == (4_000, 4_900) and epochs.span(7) == (5_800, 6_700)
    epochs.set({"index": 2, "firstEpoch": 8, "startTime": 6_700, "epochLength": 60})
    assert epochs.span(7) == (5_800, 6_700) and epochs.span(8) == (6_700, 6_760) and epochs.span(10) == (6_820, 6_880)
