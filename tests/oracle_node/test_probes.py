"""Uptime probing (docs/ORACLE_NETWORK.md, "Uptime" 1–3): the secret schedule (pure), probes
against real agent processes and a stub server on 127.0.0.1, the probe log on disk across
restarts, and the prober that ties them to the provider directory."""

from __future__ import annotations

import hashlib
import hmac
import logging
import subprocess
import sys

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computerails.devnet import dev_address, dev_key
from computerails.oracle_node.probes import (
    Epoch,
    ProbeCounts,
    ProbeLog,
    ProbeOutcome,
    Prober,
    ProbeReason,
    ProbeResult,
    Slot,
    probe,
    probe_secret,
    probe_times,
)
from computerails.oracle_node.providers import ProviderDirectory
from tests.oracle_node.conftest import SPARE_PROVIDERS, run
from tests.support.sdk import PROVIDER

NODE_KEY = bytes.fromhex(dev_key(17)[2:])
SECRET = probe_secret(NODE_KEY)
TARGET = dev_address(PROVIDER)
CHAIN = 31337
START, LENGTH = 1_800_000_000, 3_600
TIMEOUT = 0.5  # seconds a probe may take against the stub that never answers


def schedule(secret: bytes = SECRET, chain_id: int = CHAIN, epoch: int = 7, provider: str = TARGET) -> list[int]:
    return probe_times(secret, chain_id, epoch, provider, START, LENGTH, 12)


# ───────────────────────── 1. the schedule ─────────────────────────


def test_probe_secret__hmac_of_the_key_over_the_label():
    assert SECRET == hmac.new(NODE_KEY, b"computerails/probe-secret/v1", hashlib.sha256).digest()
    assert probe_secret(bytes.fromhex(dev_key(18)[2:])) != SECRET


def test_probe_times__the_documented_formula():
    i = 5
    message = (
        b"computerails/probe/v1"
        + CHAIN.to_bytes(32, "big")
        + (7).to_bytes(32, "big")
        + bytes.fromhex(TARGET[2:])
        + i.to_bytes(32, "big")
    )
    offset = int.from_bytes(hmac.new(SECRET, message, hashlib.sha256).digest(), "big") % LENGTH
    assert START + offset in schedule()


def test_probe_times__n_sorted_distinct_times_within_the_epoch():
    times = schedule()
    assert len(times) == 12 and times == sorted(times)
    assert all(START <= t < START + LENGTH for t in times)
    assert len(set(times)) >= 11  # 12 draws from 3,600 seconds: a collision is rare, two would be a bug


def test_probe_times__same_inputs__same_times_also_in_a_fresh_process():
    code = (
        "from computerails.oracle_node.probes import probe_secret, probe_times;"
        f"secret = probe_secret(bytes.fromhex({NODE_KEY.hex()!r}));"
        f"print(probe_times(secret, {CHAIN}, 7, {TARGET!r}, {START}, {LENGTH}, 12))"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert schedule() == schedule()
    assert fresh.strip() == str(schedule())


@pytest.mark.parametrize(
    "other",
    [
        {"secret": probe_secret(bytes.fromhex(dev_key(18)[2:]))},
        {"epoch": 8},
        {"provider": dev_address(PROVIDER + 1)},
        {"chain_id": CHAIN + 1},
    ],
    ids=["other_key", "other_epoch", "other_provider", "other_chain"],
)
def test_probe_times__any_other_input__other_times(other):
    assert schedule(**other) != schedule()


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=32, max_size=32))
def test_probe_times__a_provider_without_the_key__cannot_compute_them(key):
    # Everything else is public (chain, epoch, address, epoch times, n): only the key decides.
    if key != NODE_KEY:
        assert schedule(secret=probe_secret(key)) != schedule()
        assert schedule(secret=key) != schedule()  # nor by guessing the secret is the key itself


def test_probe_times__bad_epoch_length__refused():
    from computerails.errors import PreconditionError

    with pytest.raises(PreconditionError, match="epoch_length must be positive"):
        probe_times(SECRET, CHAIN, 1, TARGET, START, 0, 3)


# ───────────────────────── 2. one probe, real processes ─────────────────────────


def probe_once(url: str, provider: str, chain_id: int, timeout: float = 10.0) -> ProbeResult:
    async def go() -> ProbeResult:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await probe(client, url, provider, chain_id, timeout)

    result: ProbeResult = run(go())
    return result


def test_probe__registered_provider_answers__up(provider_agent):
    rails, agent = provider_agent
    result = probe_once(agent.url, rails.address, rails.chain_id)
    assert (result.up, result.reason) == (True, ProbeReason.UP)
    assert result.latency > 0


def test_probe__answer_signed_by_another_key_behind_the_registered_url__down(impostor):
    rails, agent = impostor
    result = probe_once(agent.url, rails.address, rails.chain_id)
    assert (result.up, result.reason) == (False, ProbeReason.WRONG_SIGNER)
    assert dev_address(8) in result.detail  # the key that did answer


def test_probe__right_key_for_another_provider_address__down(provider_agent):
    rails, agent = provider_agent
    result = probe_once(agent.url, dev_address(SPARE_PROVIDERS[1]), rails.chain_id)
    assert result.reason is ProbeReason.WRONG_SIGNER


def test_probe__agent_killed__connection_refused(probe_agents):
    rails, agent = probe_agents["doomed"]
    assert probe_once(agent.url, rails.address, rails.chain_id).up

    agent.kill()  # SIGKILL by its pid

    result = probe_once(agent.url, rails.address, rails.chain_id)
    assert (result.up, result.reason) == (False, ProbeReason.REFUSED)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("sleep", ProbeReason.TIMEOUT),
        ("status", ProbeReason.HTTP_STATUS),
        ("garbage", ProbeReason.MALFORMED),
        ("list", ProbeReason.MALFORMED),
        ("huge", ProbeReason.MALFORMED),
        (f"chain/{CHAIN}", ProbeReason.WRONG_CHAIN),
        ("elsewhere", ProbeReason.HTTP_STATUS),
    ],
)
def test_probe__stub_misbehaves__down_with_its_reason(health_stub, path, reason):
    result = probe_once(f"{health_stub}/{path}", TARGET, CHAIN, timeout=TIMEOUT)
    assert (result.up, result.reason) == (False, reason)


def test_probe__stub_signs_for_this_chain__up(health_stub):
    # The stub's other chain path, asked for the chain it does sign for: the control of the case above.
    result = probe_once(f"{health_stub}/chain/{CHAIN - 1}", TARGET, CHAIN)
    assert result.reason is ProbeReason.UP


# ───────────────────────── 3. the probe log ─────────────────────────


def test_probe_log__restart__never_probes_a_recorded_slot_again(tmp_path):
    path = tmp_path / "probes.sqlite"
    log = ProbeLog(path)
    times = schedule()
    assert log.plan(7, TARGET, times) == len(set(times))
    now = times[5]
    first = log.due(now, max_lateness=LENGTH)
    assert [s.scheduled_at for s in first] == sorted(set(times[:6]))
    for slot in first[:3]:
        assert log.record(slot, ProbeResult(True, ProbeReason.UP, 0.01), now)
    log.close()

    reopened = ProbeLog(path)

    assert reopened.plan(7, TARGET, times) == 0  # the schedule recomputed after a restart adds nothing
    assert reopened.due(now, max_lateness=LENGTH) == first[3:]
    assert not reopened.record(first[0], ProbeResult(False, ProbeReason.TIMEOUT, 1.0), now)  # kept as it was
    assert reopened.counts(7)[TARGET] == ProbeCounts(planned=len(set(times)), up=3, pending=len(set(times)) - 3)


def test_probe_log__slots_missed_while_the_node_was_down__skipped_not_counted(tmp_path):
    log = ProbeLog(tmp_path / "probes.sqlite")
    log.plan(7, TARGET, [100, 200, 300, 400])
    for slot in log.due(150, max_lateness=60):  # the node probes the first slot ...
        log.record(slot, ProbeResult(True, ProbeReason.UP, 0.01), 150)

    due = log.due(430, max_lateness=60)  # ... and is down until 430

    assert due == [Slot(400, 7, TARGET)]  # 200 and 300 are too old to probe late
    assert log.counts(7)[TARGET] == ProbeCounts(planned=4, up=1, missed=2, pending=1)
    assert log.uptime_bps(7, TARGET, min_probes=1) == 10_000  # the missed slots count neither way
    assert [reason for _, reason in log.results(7, TARGET)] == [
        ProbeReason.UP,
        ProbeReason.MISSED_BY_NODE,
        ProbeReason.MISSED_BY_NODE,
        None,
    ]
    assert not log.record(Slot(200, 7, TARGET), ProbeResult(True, ProbeReason.UP, 0.01), 431)  # no late probe


@pytest.mark.parametrize(
    ("ups", "downs", "min_probes", "expected"),
    [
        (3, 1, 4, 7_500),
        (2, 1, 3, 6_666),  # rounded down
        (0, 5, 5, 0),
        (10, 0, 4, 10_000),
        (2, 1, 4, None),  # too few probes: abstain
        (0, 0, 0, None),  # nothing probed: abstain even with no minimum
    ],
)
def test_probe_log__uptime_bps__up_share_or_abstain(tmp_path, ups, downs, min_probes, expected):
    log = ProbeLog(tmp_path / "probes.sqlite")
    times = list(range(1, ups + downs + 1))
    log.plan(3, TARGET, [*times, 1_000])  # one slot still pending: not counted
    for t in times:
        up = t <= ups
        log.record(Slot(t, 3, TARGET), ProbeResult(up, ProbeReason.UP if up else ProbeReason.REFUSED, 0.0), t)
    assert log.uptime_bps(3, TARGET, min_probes) == expected
    assert log.uptime_bps(4, TARGET, 0) is None  # another epoch: nothing


def test_probe_log__forget__drops_older_epochs_only(tmp_path):
    log = ProbeLog(tmp_path / "probes.sqlite")
    for epoch in (5, 6, 7):
        log.plan(epoch, TARGET, [epoch * 100, epoch * 100 + 1])

    assert log.forget(7) == 4

    assert set(log.counts(7)) == {TARGET} and log.counts(6) == {} and log.counts(5) == {}


# ───────────────────────── the prober ─────────────────────────


def make_prober(rails, path, **overrides) -> Prober:
    directory = ProviderDirectory(rails)
    directory.refresh()
    values = (
        dict(
            secret=SECRET,
            chain_id=rails.chain_id,
            probes_per_epoch=6,
            probe_timeout=10.0,
            max_lateness=LENGTH,
            concurrency=4,
        )
        | overrides
    )
    return Prober(directory, ProbeLog(path), **values)


def test_prober__due_slots_probed_concurrently__once_across_a_restart(provider_agent, impostor, tmp_path):
    rails, _ = provider_agent
    stand_in, _ = impostor
    epoch = Epoch(number=rails.views.current_epoch() + 1, start=rails.now() + 10, length=LENGTH)  # under the SLA
    middle, end = epoch.start + LENGTH // 2, epoch.start + LENGTH
    path = tmp_path / "probes.sqlite"

    async def first_run() -> tuple[list[ProbeOutcome], Prober]:
        prober = make_prober(rails, path)
        assert prober.probed_until is None
        try:
            outcomes = await prober.run_due(middle, epoch)
            assert prober.probed_until == middle  # every slot due by then is recorded
            return outcomes, prober
        finally:
            await prober.aclose()
            prober.log.close()

    async def after_restart() -> tuple[list[ProbeOutcome], list[ProbeOutcome], Prober]:
        prober = make_prober(rails, path)
        try:
            again = await prober.run_due(middle, epoch)
            assert prober.observe(epoch.number, rails.address) is None  # slots still to probe: not yet
            return again, await prober.run_due(end, epoch), prober
        finally:
            await prober.aclose()

    outcomes, prober = run(first_run())
    half = prober.load(epoch.number)
    mine = [o for o in outcomes if o.slot.provider == rails.address]
    theirs = [o for o in outcomes if o.slot.provider == stand_in.address]
    assert mine and all(o.result.reason is ProbeReason.UP for o in mine)
    assert theirs and all(o.result.reason is ProbeReason.WRONG_SIGNER for o in theirs)
    assert prober.made[ProbeReason.UP] == sum(o.result.up for o in outcomes)  # other suites' providers too

    again, later, restarted = run(after_restart())

    assert again == []  # every slot due at `middle` was recorded before the restart
    assert restarted.made[ProbeReason.UP] == sum(o.result.up for o in later)
    counts = restarted.load(epoch.number)[rails.address]
    assert half[rails.address].counted == len(mine)
    assert counts.counted == counts.planned == len(mine) + len([o for o in later if o.slot.provider == rails.address])
    assert restarted.log.uptime_bps(epoch.number, rails.address, min_probes=3) == 10_000
    assert restarted.log.uptime_bps(epoch.number, stand_in.address, min_probes=3) == 0
    # The node's UptimeSource: both are subjects; the observations are (bps, probes counted).
    assert {rails.address, stand_in.address} <= set(restarted.subjects(epoch.number))
    assert restarted.observe(epoch.number, rails.address) == (10_000, counts.counted)
    stand_in_counted = restarted.load(epoch.number)[stand_in.address].counted
    assert restarted.observe(epoch.number, stand_in.address) == (0, stand_in_counted)
    assert restarted.observe(epoch.number, dev_address(19)) is None  # not a provider, never probed: abstain


def run_prober(rails, path, *moments_and_epoch) -> Prober:
    """A prober that runs `run_due(now, epoch)` for each (now, epoch) in one event loop."""

    async def go() -> Prober:
        prober = make_prober(rails, path)
        try:
            for now, epoch in moments_and_epoch:
                await prober.run_due(now, epoch)
            return prober
        finally:
            await prober.aclose()

    result: Prober = run(go())
    return result


def test_prober__metadata_uri_not_http__counted_down_logged_once(probe_register, tmp_path, caplog):
    rails = probe_register(SPARE_PROVIDERS[2], "ipfs://bafy-not-a-url")
    epoch = Epoch(number=rails.views.current_epoch() + 1, start=rails.now() + 10, length=LENGTH)

    with caplog.at_level(logging.WARNING, logger="computerails.oracle_node.probes"):
        moments = [(epoch.start + LENGTH // 2, epoch), (epoch.start + LENGTH, epoch)]
        prober = run_prober(rails, tmp_path / "probes.sqlite", *moments)

    counts = prober.load(epoch.number)[rails.address]
    assert counts.down == counts.planned > 1
    assert prober.log.uptime_bps(epoch.number, rails.address, min_probes=1) == 0
    warnings = [r for r in caplog.records if rails.address in r.getMessage()]
    assert len(warnings) == 1 and "not an http(s) URL" in warnings[0].getMessage()


def test_prober__provider_not_under_the_sla__not_planned(probe_register, tmp_path):
    rails = probe_register(SPARE_PROVIDERS[3], "http://127.0.0.1:9/")
    began = Epoch(number=rails.views.current_epoch(), start=rails.now() - 10, length=LENGTH)  # before registering

    prober = run_prober(rails, tmp_path / "probes.sqlite", (began.start + LENGTH, began))

    assert rails.address not in prober.load(began.number)
