"""The rewards calculator: every provider's cumulative emission through an epoch, from the index.

Deterministic and open: it reads only the indexed events (issue 15) of one deployment and the
block times, so anyone with an index of the same chain computes the same tree and root. For
each epoch t from 0 to N it gathers the providers' facts (stake at the epoch's start and end,
the uptime reports covering t, protocol fees its traffic paid in t, whether it was jailed or
slashed in t), runs the schedule over the epochs' fees as the RewardsDistributor does (the Python
mirror), and splits E(t) by :func:`computerails.rewards.allocation.allocate`.

Facts are final ``settle_delay`` seconds after an epoch ends (the uptime report window: a
report lands after its slasher epoch ended, and is refused on chain once the window closed), so
epoch N can be computed once the index has passed ``end(N) + settle_delay``. The calculator's
parameters in force at each epoch's end (``CalculatorParamsSet``) apply to it. The schedule
(``ParamsSet``) is the one the distributor runs the epoch with: it releases an epoch when the
first root covering it is posted, with the schedule in force at that moment. So an epoch that a
root not vetoed covers uses the schedule in force when that root was posted, and an epoch no
such root covers yet uses the schedule in force at the index's head (what a post made now
runs). A schedule change between an epoch's end and its root's post therefore cannot make the
root's total exceed what the distributor releases (``TotalAboveReleased``).

Which event counts for what:

- stake: ``ProviderStaking`` events replayed through the indexer's own state code (the figures
  ``computerails index verify`` checks against the chain); capacity is the smaller of the active
  stake at the epoch's start and at its end;
- fees: ``JobSettled.fee`` of jobs in the fee token and ``VoucherCollected.fee`` in the fee token,
  by the block time of the settlement or collection;
- jailed in t: jailed when t started, or a ``ProviderJailed`` in t;
- uptime in t: the UptimeSlasher's reports, placed by time: a report covers its slasher epoch's
  span (the slasher's own schedules, ``ScheduleSet``, which governance can change while the
  distributor's epochs never change), and t's uptime is the average over t's span of the uptime
  reported for each part of it, 10,000 bps where no report covers a part. With the two schedules
  aligned (as deployed) a report covers exactly one epoch and is its uptime. A report counts for
  t only if it landed before t's facts were final;
- slashed in t: ``CollateralSlashed`` or ``FraudSlashed`` in t, or an ``UptimeReported`` below the
  SLA covering part of t (a request to slash; its ``ProviderSlashed`` lands in a later epoch and is
  attributed to t);
- left: a provider that called ``leave`` before t started earns nothing from t on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, create_engine, or_, select

from computerails.errors import ComputeRailsError
from computerails.indexer import schema as s
from computerails.indexer.apply import replay
from computerails.indexer.decode import Event
from computerails.indexer.flywheel import RewardsClock, rewards_clock
from computerails.rewards.allocation import BPS, CalculatorParams, EpochAllocation, ProviderEpoch, allocate
from computerails.rewards.merkle import RewardsTree
from computerails.rewards.schedule import Schedule
from computerails.rewards.treefile import RewardsFile

#: The events the calculator reads, by contract.
READS = {
    "ProviderStaking": None,  # every event: the stake replay
    "JobEscrow": ("JobCreated", "JobSettled"),
    "MeteredEscrow": ("VoucherCollected",),
    "UptimeSlasher": ("ScheduleSet", "UptimeReported"),
    "RewardsDistributor": ("ParamsSet", "CalculatorParamsSet"),
}


class CalculatorError(ComputeRailsError):
    """The rewards cannot be computed from this index."""


class IndexMissesDeployment(CalculatorError):
    """The index lacks events from the deployment's first blocks (it starts after the deploy
    block): its facts cannot be complete, whatever the head."""


class EpochNotSettled(CalculatorError):
    """The index has not reached the time at which the epoch's facts are final."""

    def __init__(self, epoch: int, settles_at: int, index_time: int) -> None:
        super().__init__(
            f"epoch {epoch} is final at {settles_at} (its end plus the settle delay); the index has reached "
            f"{index_time}: index further, or wait {settles_at - index_time} s"
        )
        self.epoch, self.settles_at, self.index_time = epoch, settles_at, index_time


class CalculatorParamsNotSet(CalculatorError):
    """Governance has not set the calculator's parameters by the end of an epoch."""


@dataclass(frozen=True)
class Rewards:
    """The calculator's answer for epochs 0 .. ``through`` − 1."""

    through: int
    amounts: dict[str, int]  # lowercase account -> cumulative amount (positive only)
    epochs: tuple[EpochAllocation, ...]
    params: CalculatorParams  # in force at the last epoch's end
    schedule: Schedule  # the distributor runs the last epoch with (see the module's docstring)
    fee_average: int = 0  # the schedule's fee average after the last epoch (as the distributor keeps it)
    #: each epoch's facts as :func:`~computerails.rewards.allocation.allocate` received them (to
    #: rerun an epoch's split on other facts: what a provider would have earned without some fees)
    inputs: tuple[tuple[ProviderEpoch, ...], ...] = ()

    @property
    def fees(self) -> list[int]:
        return [e.fees for e in self.epochs]

    @property
    def total(self) -> int:
        return sum(self.amounts.values())

    @property
    def released(self) -> int:
        return sum(e.emission for e in self.epochs)

    def tree(self) -> RewardsTree:
        """The tree of the cumulative amounts.

        Raises:
            CalculatorError: no provider has earned anything yet (a tree needs one account).
        """
        if not self.amounts:
            raise CalculatorError(f"no provider earned rewards in epochs 0..{self.through - 1}: there is no tree")
        return RewardsTree.of(sorted(self.amounts.items()))

    def file(self, chain_id: int, distributor: str) -> RewardsFile:
        p = self.params
        return RewardsFile(
            chain_id=chain_id,
            distributor=distributor,
            through=self.through,
            tree=self.tree(),
            fees=tuple(self.fees),
            epochs=tuple(_epoch_doc(e) for e in self.epochs),
            params={
                "feeToken": p.fee_token,
                "availabilityBps": p.availability_bps,
                "washCapBps": p.wash_cap_bps,
                "settleDelay": p.settle_delay,
                "rewardPerFee": str(p.reward_per_fee),
                "e0": str(self.schedule.e0),
                "halvingEpochs": self.schedule.halving_epochs,
                "feeTarget": str(self.schedule.fee_target),
                "feeWindow": self.schedule.fee_window,
            },
        )


def _epoch_doc(e: EpochAllocation) -> dict[str, Any]:
    return {
        "epoch": e.epoch,
        "emission": str(e.emission),
        "fees": str(e.fees),
        "allocated": str(e.allocated),
        "unallocated": str(e.unallocated),
        "shares": {
            s.provider: {"availability": str(s.availability), "usage": str(s.usage), "capped": s.capped}
            for s in e.shares
        },
    }


@dataclass
class _Facts:
    """Per-epoch facts gathered in one pass over the events."""

    fees: dict[int, int]  # epoch -> protocol fees in the fee token
    provider_fees: dict[int, dict[str, int]]  # epoch -> provider -> fees its traffic paid
    covered: dict[int, dict[str, int]]  # epoch -> provider -> seconds of it an uptime report covers
    reported: dict[int, dict[str, int]]  # epoch -> provider -> Σ seconds × reported bps over them
    slashed: dict[int, set[str]]
    jailed: dict[int, set[str]]  # jailed at some moment of the epoch
    stake_start: dict[int, dict[str, int]]
    stake_end: dict[int, dict[str, int]]
    left_before: dict[int, set[str]]  # left before the epoch started
    registered: dict[int, set[str]]  # registered by the epoch's end


def _lower(v: Any) -> str:
    return str(v).lower()


class SlasherEpochs:
    """The UptimeSlasher's epochs, from its ``ScheduleSet`` events: a schedule (index, first
    epoch, start time, length) runs from its first epoch until the next schedule's; a later event
    with the same index replaces a change that had not started yet."""

    def __init__(self) -> None:
        self._schedules: dict[int, tuple[int, int, int]] = {}  # index -> (first epoch, start, length)

    def set(self, args: dict[str, Any]) -> None:
        self._schedules[int(args["index"])] = (
            int(args["firstEpoch"]),
            int(args["startTime"]),
            int(args["epochLength"]),
        )

    def span(self, epoch: int) -> tuple[int, int]:
        """``[start, end)`` of slasher epoch `epoch`.

        Raises:
            IndexMissesDeployment: no schedule of the slasher covers it (the constructor's is missing).
        """
        running = [s for s in self._schedules.values() if s[0] <= epoch]
        if not running:
            raise IndexMissesDeployment(
                f"the index has no UptimeSlasher schedule for its epoch {epoch}: index from the deployment's block"
            )
        first, start, length = max(running)
        begins = start + (epoch - first) * length
        return begins, begins + length


def _uptime_bps(f: _Facts, t: int, provider: str, length: int) -> int:
    """t's uptime for `provider`: the reports' average over t, 10,000 bps where none covers.
    Reports never overlap (slasher epochs are disjoint, and the slasher takes one report per
    provider and epoch), so they cover at most t's length."""
    covered = f.covered.get(t, {}).get(provider, 0)
    if covered == 0:
        return BPS
    return (f.reported[t][provider] + (length - covered) * BPS) // length


def _stream(conn: Connection, until: int, contracts: Sequence[str] = tuple(READS)) -> Iterator[tuple[Event, int]]:
    """The events of `contracts` the calculator reads (:data:`READS`, selected in SQL), with their
    block times, in chain order, up to `until` (exclusive)."""
    e = s.events
    wanted = [
        e.c.contract == c if READS[c] is None else and_(e.c.contract == c, e.c.event.in_(list(READS[c] or ())))
        for c in contracts
    ]
    q = (
        select(e, s.blocks.c.timestamp)
        .join(s.blocks, s.blocks.c.number == e.c.block_number)
        .where(or_(*wanted), s.blocks.c.timestamp < until)
        .order_by(e.c.block_number, e.c.log_index)
    )
    for r in conn.execute(q).mappings():
        yield Event.from_row(r), int(r["timestamp"])


def index_time(conn: Connection) -> int:
    """The time of the last block the index has reached (0 for an empty index)."""
    cursor = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "cursor")).scalar()
    if cursor is not None:
        t = conn.execute(select(s.blocks.c.timestamp).where(s.blocks.c.number == int(cursor))).scalar()
        if t is not None:
            return int(t)
    t = conn.execute(select(s.blocks.c.timestamp).order_by(s.blocks.c.number.desc()).limit(1)).scalar()
    return int(t) if t is not None else 0


def _params_at(changes: Sequence[tuple[Any, Any]], when: Any) -> Any:
    """The last value set before `when` (a time, or a place in the chain; None if none)."""
    value = None
    for t, v in changes:
        if t >= when:
            break
        value = v
    return value


Position = tuple[int, int]  # (block number, log index): an event's place in the chain


def _parameters(
    conn: Connection,
) -> tuple[list[tuple[Position, Schedule]], list[tuple[int, CalculatorParams]]]:
    """Every schedule change the distributor made, with its place in the chain, and every
    calculator parameter change, with its time."""
    schedule_changes: list[tuple[Position, Schedule]] = []
    calc_changes: list[tuple[int, CalculatorParams]] = []
    for ev, ts in _stream(conn, 2**62, ("RewardsDistributor",)):
        p = ev.args["params"]
        if ev.event == "ParamsSet":
            schedule_changes.append(((ev.block_number, ev.log_index), Schedule(*(int(x) for x in p))))
        else:
            calc_changes.append((ts, CalculatorParams(_lower(p[0]), *(int(x) for x in p[1:]))))
    return schedule_changes, calc_changes


@dataclass(frozen=True)
class PostedRoot:
    """One ``RootPosted`` as the index recorded it (``vetoed`` by a later ``RootVetoed``)."""

    root: bytes
    total: int
    through: int
    released: int  # what the distributor released through `through` epochs at this post
    fee_average: int  # its fee average after them
    activates_at: int
    vetoed: bool
    position: Position


def posted_roots(conn: Connection) -> list[PostedRoot]:
    """Every root post the index recorded, in chain order."""
    r = s.rewards_roots
    rows = conn.execute(select(r).order_by(r.c.block_number, r.c.log_index)).mappings()
    return [
        PostedRoot(
            root=bytes.fromhex(str(row["root"]).removeprefix("0x")),
            total=int(row["total"]),
            through=int(row["through"]),
            released=int(row["released"]),
            fee_average=int(row["fee_average"]),
            activates_at=int(row["activates_at"]),
            vetoed=bool(row["vetoed"]),
            position=(int(row["block_number"]), int(row["log_index"])),
        )
        for row in rows
    ]


def release_schedules(
    conn: Connection, changes: Sequence[tuple[Position, Schedule]] | None = None
) -> list[tuple[int, Schedule]]:
    """The schedules the distributor runs the epochs with, as (first epoch, schedule) in epoch
    order: from each root not vetoed, the schedule in force when it was posted, for the epochs
    it added (its base's ``through`` on); from the last such root's ``through`` on, the latest
    schedule (what a post made now runs).

    Args:
        changes: the schedule changes (read from `conn` when not given).

    Raises:
        CalculatorError: the index holds no schedule (no ``ParamsSet``).
    """
    if changes is None:
        changes = _parameters(conn)[0]
    if not changes:
        raise CalculatorError("the index holds no RewardsDistributor ParamsSet event: is the distributor indexed?")
    spans: list[tuple[int, Schedule]] = []
    start = 0
    for post in posted_roots(conn):
        if post.vetoed:
            continue
        schedule = _params_at(changes, post.position)
        if schedule is None:
            raise CalculatorError(
                f"a root was posted in block {post.position[0]} before any ParamsSet the index holds: index the "
                "deployment from its first block"
            )
        if post.through > start:
            spans.append((start, schedule))
            start = post.through
    spans.append((start, changes[-1][1]))
    return spans


def expected_release(conn: Connection, post: PostedRoot, fees: Sequence[int], first: int = 0) -> tuple[int, int]:
    """What the distributor releases through `post`'s epochs, and its fee average after them, had
    the post carried `fees` (``fees[i]`` is epoch ``first + i``'s figure): the stored figures of
    the root it continues (the last one not vetoed before it) run on over the epochs it adds,
    with the schedule in force when it was posted. Only what the post adds is recomputed, so a
    root before it with other fee figures changes nothing here.

    Raises:
        CalculatorError: `post` is not in the index, `fees` do not cover its epochs, or no
            schedule precedes it.
    """
    posts = posted_roots(conn)
    if post not in posts:
        raise CalculatorError(f"the index holds no post of root 0x{post.root.hex()} at {post.position}")
    before = [p for p in posts[: posts.index(post)] if not p.vetoed]
    start, released, average = (
        (before[-1].through, before[-1].released, before[-1].fee_average) if before else (0, 0, 0)
    )
    if not first <= start or first + len(fees) < post.through:
        raise CalculatorError(
            f"fee figures for epochs {first}..{first + len(fees) - 1} do not cover the post's epochs "
            f"{start}..{post.through - 1}"
        )
    schedule: Schedule | None = _params_at(_parameters(conn)[0], post.position)
    if schedule is None:
        raise CalculatorError(f"no ParamsSet precedes the post at {post.position}")
    return schedule.release(start, fees[start - first : post.through - first], released, average)


def _schedule_of(spans: Sequence[tuple[int, Schedule]], epoch: int) -> Schedule:
    """The schedule of `epoch` in :func:`release_schedules`'s answer."""
    found = spans[0][1]
    for first, schedule in spans:
        if first > epoch:
            break
        found = schedule
    return found


def epochs_of(conn: Connection) -> RewardsClock:
    """The distributor's epochs as the indexer recorded them.

    Raises:
        CalculatorError: the index does not follow a RewardsDistributor.
    """
    clock = rewards_clock(conn)
    if clock is None:
        raise CalculatorError("the index follows no RewardsDistributor: index a deployment that has one")
    return clock


def last_settled(conn: Connection, epochs: RewardsClock) -> int:
    """The last epoch whose facts are final at the index's time (−1: none yet), by the settle
    delay in force now.

    Raises:
        CalculatorParamsNotSet: governance has not set the calculator's parameters.
    """
    _schedule, calc_changes = _parameters(conn)
    if not calc_changes:
        raise CalculatorParamsNotSet(
            "the distributor's calculator parameters are not set: governance must call setCalculatorParams"
        )
    reached = index_time(conn) - calc_changes[-1][1].settle_delay
    return epochs.of(reached) - 1 if reached >= epochs.genesis else -1


def compute(conn: Connection, epochs: RewardsClock, through: int, staking_token: str) -> Rewards:
    """Every provider's cumulative reward over epochs 0 .. `through` − 1 from the index `conn`.

    Raises:
        EpochNotSettled: the index has not reached the last epoch's end plus the settle delay.
        CalculatorParamsNotSet: no ``CalculatorParamsSet`` before an epoch's end.
        CalculatorError: `through` is not positive, or no schedule parameters were indexed.
    """
    if through < 1:
        raise CalculatorError(f"a rewards root covers at least one epoch: through must be positive, not {through}")
    last = through - 1
    schedule_changes, calc_changes = _parameters(conn)
    if not schedule_changes:
        raise CalculatorError("the index holds no RewardsDistributor ParamsSet event: is the distributor indexed?")
    final_params = _params_at(calc_changes, epochs.end(last))
    if final_params is None:
        raise CalculatorParamsNotSet(
            f"the distributor's calculator parameters were not set by the end of epoch {last}: governance must call "
            "setCalculatorParams"
        )
    horizon = epochs.end(last) + final_params.settle_delay
    reached = index_time(conn)
    if reached < horizon:
        raise EpochNotSettled(last, horizon, reached)

    facts = _gather(conn, epochs, through, horizon, calc_changes, staking_token)
    spans = release_schedules(conn, schedule_changes)
    amounts: dict[str, int] = defaultdict(int)
    allocations = []
    inputs: list[tuple[ProviderEpoch, ...]] = []
    average = 0
    for t in range(through):
        schedule = _schedule_of(spans, t)
        params = _params_at(calc_changes, epochs.end(t))
        fees = facts.fees.get(t, 0)
        average = schedule.average(average, fees)
        emission = schedule.emission(t, average)
        if params is None:  # nothing can be split before governance sets the split
            allocations.append(EpochAllocation(t, emission, fees, ()))
            inputs.append(())
            continue
        providers = _providers(facts, t, epochs.epoch_length)
        inputs.append(tuple(providers))
        allocation = allocate(t, emission, fees, providers, params)
        for share in allocation.shares:
            amounts[share.provider] += share.total
        allocations.append(allocation)
    return Rewards(
        through=through,
        amounts={a: v for a, v in sorted(amounts.items()) if v > 0},
        epochs=tuple(allocations),
        params=final_params,
        schedule=_schedule_of(spans, last),
        fee_average=average,
        inputs=tuple(inputs),
    )


def _providers(f: _Facts, t: int, length: int) -> list[ProviderEpoch]:
    out = []
    for provider in sorted(f.registered.get(t, ())):
        excluded = ""
        if provider in f.left_before.get(t, ()):
            excluded = "left"
        elif provider in f.jailed.get(t, ()):
            excluded = "jailed"
        elif provider in f.slashed.get(t, ()):
            excluded = "slashed"
        capacity = min(f.stake_start.get(t, {}).get(provider, 0), f.stake_end.get(t, {}).get(provider, 0))
        out.append(
            ProviderEpoch(
                provider=provider,
                capacity=capacity,
                uptime_bps=_uptime_bps(f, t, provider, length),
                fees=f.provider_fees.get(t, {}).get(provider, 0),
                excluded=excluded,
            )
        )
    return out


def _gather(
    conn: Connection,
    epochs: RewardsClock,
    through: int,
    horizon: int,
    calc_changes: Sequence[tuple[int, CalculatorParams]],
    staking_token: str,
) -> _Facts:
    f = _Facts(
        fees=defaultdict(int),
        provider_fees=defaultdict(lambda: defaultdict(int)),
        covered=defaultdict(lambda: defaultdict(int)),
        reported=defaultdict(lambda: defaultdict(int)),
        slashed=defaultdict(set),
        jailed=defaultdict(set),
        stake_start=defaultdict(dict),
        stake_end=defaultdict(dict),
        left_before=defaultdict(set),
        registered=defaultdict(set),
    )
    job_tokens: dict[int, str] = {}
    slasher = SlasherEpochs()
    staking_events: list[tuple[Event, int]] = []
    # the stake replay runs through the indexer's own state code, on a scratch database
    scratch = create_engine("sqlite://")
    s.metadata.create_all(scratch)
    with scratch.begin() as sc:
        epoch = 0  # the epoch whose end the replay has not passed yet
        left_at: dict[str, int] = {}

        def close_epochs_before(ts: int) -> None:
            """Snapshot the stake at the end of every epoch that ended at or before `ts`."""
            nonlocal epoch
            while epoch < through and epochs.end(epoch) <= ts:
                if staking_events:
                    replay(sc, staking_token, staking_events)
                    staking_events.clear()
                rows = sc.execute(select(s.providers.c.address, s.providers.c.staked, s.providers.c.jailed)).all()
                end = {_lower(a): int(staked) for a, staked, _ in rows}
                f.stake_end[epoch] = end
                f.registered[epoch] = set(end)
                if epoch + 1 < through:
                    f.stake_start[epoch + 1] = dict(end)
                    # jailed when the next epoch starts
                    f.jailed[epoch + 1] |= {_lower(a) for a, _, jailed in rows if jailed}
                    f.left_before[epoch + 1] = {a for a, at in left_at.items() if at < epochs.start(epoch + 1)}
                epoch += 1

        for ev, ts in _stream(conn, horizon):
            close_epochs_before(ts)
            t = epochs.of(ts)
            in_range = 0 <= t < through
            args = ev.args
            if ev.contract == "ProviderStaking":
                staking_events.append((ev, ts))
                provider = _lower(args.get("provider", ""))
                if in_range and ev.event == "ProviderJailed":
                    f.jailed[t].add(provider)
                elif in_range and ev.event in ("CollateralSlashed", "FraudSlashed"):
                    f.slashed[t].add(provider)
                elif ev.event == "ProviderLeft":
                    left_at[provider] = ts
                continue
            if ev.contract == "UptimeSlasher":
                if ev.event == "ScheduleSet":
                    slasher.set(args)
                    continue
                start, end = slasher.span(int(args["epoch"]))
                provider = _lower(args["provider"])
                bps, slash = int(args["uptimeBps"]), int(args["slashRequested"]) > 0
                for u in range(max(epochs.of(start), 0), min(epochs.of(end - 1), through - 1) + 1):
                    if ts >= epochs.end(u) + _settle(calc_changes, epochs, u):
                        continue  # u's facts were final before the report landed
                    overlap = min(end, epochs.end(u)) - max(start, epochs.start(u))  # ≥ 1 s: u is in the span
                    f.covered[u][provider] += overlap
                    f.reported[u][provider] += overlap * bps
                    if slash:
                        f.slashed[u].add(provider)
                continue
            if ev.contract == "RewardsDistributor":  # its parameters were read first
                continue
            if ev.event == "JobCreated":
                job_tokens[int(args["jobId"])] = _lower(args["token"])
                continue
            if not in_range:
                continue
            params = _params_at(calc_changes, epochs.end(t))
            if params is None:
                continue
            if ev.event == "JobSettled":
                token = job_tokens.get(int(args["jobId"]))
            else:  # VoucherCollected
                token = _lower(args["token"])
            if token != params.fee_token:
                continue
            fee = int(args["fee"])
            f.fees[t] += fee
            f.provider_fees[t][_lower(args["provider"])] += fee
        close_epochs_before(horizon)
    scratch.dispose()
    return f


def _settle(calc_changes: Sequence[tuple[int, CalculatorParams]], epochs: RewardsClock, t: int) -> int:
    params = _params_at(calc_changes, epochs.end(t))
    return params.settle_delay if params is not None else 0
