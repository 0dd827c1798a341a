"""What the keeper does: one pass every ``interval`` seconds (:meth:`Keeper.run_once`).

Each pass, in this order:

1. **reconcile** the journal: every transaction the keeper signed was recorded before its
   broadcast (``TxManager.before_broadcast``); a pending one is looked up by its hash, broadcast
   again byte for byte if the node never saw it (a crash between journalling and broadcasting),
   and its outcome recorded. While one is still unresolved the pass sends nothing new, so a
   crash never leads to a second transaction for the same work.
2. **scan** the escrow's ``JobCreated`` and ``JobAttested`` events from the block after the
   cursor, ``log_batch`` blocks per request; each range's jobs and the new cursor are written in
   one transaction (:class:`~computerails.keeper_node.store.KeeperStore`). Nothing is scanned
   twice.
3. **jobs**: the jobs that are due (by the chain time kept per job) are read in one batch and:
   settled when their challenge window (or lapsed dispute) is over, in ``settleMany`` batches of
   at most ``max_batch``, ordered by provider (the escrow releases collateral once per run of one
   provider's jobs); reclaimed when accepted and past their deadline unattested
   (``reclaimExpired``: anyone may, the refund goes to the client); cancelled when open past the
   accept window *and the keeper is the client* (``cancel``: only a job's client may; other
   clients' such jobs are left alone, noted once in the log).
4. **relay**: the quorum-signed uptime reports the oracle nodes serve at ``GET /v1/reports``
   that name this keeper as relayer, are not on chain yet (``isReported``) and not in the
   journal, are relayed (``submitUptimeReport``) one by one.
5. **claim** the relayer rewards accrued in the staking contract.

Worth the gas. Nobody pays a keeper for settling or reclaiming, so a job is acted on when the
value it moves to its parties (escrow plus any dispute bond, raw token units) is at least
``min_value_per_gas`` times the action's gas cost priced in the job's token
(``native_price``: token units one native coin is worth), or when one of its parties (client or
provider) is in ``parties``; a token without a price moves only for those parties. A report is
relayed when the relayer reward it will earn (the slasher's ``relayerRewardBps`` of the slash,
capped at ``relayerRewardCap``; the slash is ``uptimeSlashBps`` of the provider's slashable
stake, capped, and only what free and unbonding stake can pay now) is worth its gas at the
staking token's price; the reward is claimed when the balance is worth the claim's gas. Gas is
priced with the node's gas price and the figures below (measured on anvil). A decision not to
act is logged once per job or report, with the figures, and counted in
``computerails_keeper_skipped_not_worth_gas_total{action}``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from computerails import _http
from computerails.errors import AgentConfigError, ComputeRailsError, ContractRevert, PreconditionError
from computerails.keeper_node.config import KeeperSettings
from computerails.keeper_node.metrics import KeeperMetrics
from computerails.keeper_node.store import (
    JournalEntry,
    KeeperStore,
    TrackedJob,
    jobs_subject,
    report_subject,
)
from computerails.rails import ComputeRails
from computerails.service import journal
from computerails.types import Job, JobStage, Signature, TokenInfo, UptimeReport, from_raw, to_raw

log = logging.getLogger("computerails.keeper")

T = TypeVar("T")
BPS = 10_000
WEI_PER_NATIVE = 10**18

# Gas the worth-it checks price with, measured on anvil against this repository's contracts
# (README "Run a keeper"; settleMany of 1, 5, 20 and 50 jobs of one provider: 124,264, 136,628,
# 375,372 and 852,871 gas, so about 16 k a job). The batch part is the dearest case: the first
# job's claimable balances new.
SETTLE_BATCH_GAS = 110_000  # a settleMany's own part: the call, cold balances, one collateral release
SETTLE_GAS_PER_JOB = 16_000  # each job of a settleMany
RECLAIM_GAS = 120_000  # reclaimExpired: refund and collateral slash (117,490)
RELAY_GAS = 140_000  # submitUptimeReport below the SLA, two signatures, slash and jail (138,707)
CLAIM_GAS = 62_000  # the staking contract's claim (61,168)

#: Test-only hook: an action (``relay``, ``settle``, ...) after whose journalling the process exits
#: at once, before the broadcast, as a ``kill -9`` there would (tests/keeper_node crash tests).
EXIT_AFTER_JOURNAL = "COMPUTERAILS_TEST_KEEPER_EXIT_AFTER_JOURNAL"
CRASH_EXIT_CODE = 86


@dataclass
class PassReport:
    """What one pass did."""

    settled: list[int] = field(default_factory=list)
    reclaimed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    relayed: list[str] = field(default_factory=list)  # provider/epoch
    claimed: int = 0  # raw staking-token units
    waiting: bool = False  # a journalled transaction is unresolved: nothing new was sent
    seconds: float = 0.0


def token_prices(rails: ComputeRails, native_price: Mapping[str, Decimal]) -> dict[str, int]:
    """Raw units of each priced token one native coin is worth, by token address; keys of
    `native_price` are addresses or symbols of the deployment's payment tokens or staking token.

    Raises:
        AgentConfigError: a key names no such token.
    """
    tokens = rails.views.payment_tokens() + [rails.staking_token]
    prices: dict[str, int] = {}
    for key, price in native_price.items():
        match = [t for t in tokens if key.lower() in (t.address.lower(), t.symbol.lower())]
        if not match:
            known = ", ".join(sorted({t.symbol for t in tokens}))
            raise AgentConfigError(f"native_price: {key} is none of the deployment's tokens ({known})")
        for token in match:
            prices[token.address] = int(price * 10**token.decimals)
    return prices


class Keeper:
    """The keeper's duties (see the module docstring).

    Args:
        rails: the keeper's connection; its transaction manager journals every transaction.
        store: the keeper's database.
        metrics: where outcomes, gas and skips are counted.
        settings: the keeper's settings.
    """

    def __init__(
        self, rails: ComputeRails, store: KeeperStore, metrics: KeeperMetrics, settings: KeeperSettings
    ) -> None:
        self.rails = rails
        self.store = store
        self.metrics = metrics
        self.settings = settings
        self.address = rails.require_account().address
        store.bind({"keeper": self.address, "chain_id": str(rails.chain_id), "escrow": rails.escrow.address})
        self.prices = token_prices(rails, settings.native_price)
        self.http = _http.client(timeout=settings.oracle_timeout)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll of an oracle node
        self._intent: tuple[str, str] | None = None  # (action, subject) of the transaction being sent
        self._told: set[str] = set()  # what was logged once already
        rails.tx.before_broadcast = self._journal

    def close(self) -> None:
        self.http.close()

    # ── the pass ──

    def run_once(self) -> PassReport:
        """One pass (see the module docstring). A duty that fails is logged and counted; the
        others still run."""
        started = time.monotonic()
        report = PassReport()
        try:
            if not self.reconcile():
                report.waiting = True
                log.info("a journalled transaction is still unresolved: nothing new is sent this pass")
                return report
            self._scan()
            gas_price = int(self.rails.w3.eth.gas_price)
            if self.settings.settle or self.settings.reclaim:
                self._duty("jobs", lambda: self._jobs(gas_price, report))
            if self.settings.relay:
                self._duty("relay", lambda: self._relay(gas_price, report))
                self._duty("claim", lambda: self._claim(gas_price, report))
        finally:
            report.seconds = time.monotonic() - started
            self.metrics.passes.inc()
            self.metrics.pass_seconds.observe(report.seconds)
        return report

    def _duty(self, where: str, run: Callable[[], None]) -> None:
        try:
            run()
        except ComputeRailsError as exc:  # a revert, a timeout: the next pass reads the chain again
            self.metrics.errors.labels(where).inc()
            log.warning("%s failed: %s: %s", where, type(exc).__name__, exc)

    # ── 1. the journal ──

    def _journal(self, tx_hash: str, nonce: int, raw: bytes, label: str) -> None:
        action, subject = self._intent or (label, "")
        self.store.journal_intent(tx_hash, nonce, raw, label=label, action=action, subject=subject)
        self.metrics.pending.inc()
        log.info("%s %s (nonce %d, %s) journalled before broadcast", action, tx_hash, nonce, subject)
        if os.environ.get(EXIT_AFTER_JOURNAL) == action:
            log.warning("exiting after journalling %s (%s is set: tests only)", tx_hash, EXIT_AFTER_JOURNAL)
            logging.shutdown()
            os._exit(CRASH_EXIT_CODE)

    def _send(self, action: str, subject: str, send: Callable[[], T]) -> T:
        """Run `send` (one SDK call that sends one transaction) with its journal subject, then
        record the mined transaction's outcome; return the call's result."""
        before = len(self.rails.tx.sent)
        self._intent = (action, subject)
        try:
            result = send()
        finally:
            self._intent = None
        tx_hash = self.rails.tx.sent[before].tx_hash if len(self.rails.tx.sent) > before else ""
        for entry in self.store.pending():
            if entry.tx_hash == tx_hash or entry.subject == subject:
                self._resolve(entry)
        return result

    def reconcile(self) -> bool:
        """Look up every pending transaction and record its outcome.

        Returns:
            True when none is left pending (new transactions may be sent).
        """
        resolved = all([self._resolve(entry) is not None for entry in self.store.pending()])
        self.metrics.pending.set(len(self.store.pending()))
        return resolved

    def _resolve(self, entry: JournalEntry) -> str | None:
        """Record `entry`'s outcome (``mined``, ``reverted``, ``dropped``); None while unresolved."""
        receipt = journal.resolve(
            self.rails.w3, entry.tx_hash, entry.raw, timeout=self.settings.receipt_timeout, what=entry.action
        )
        if receipt is None:
            return None
        if receipt == journal.DROPPED:
            self._record(entry, "dropped", None)
            return "dropped"
        status = "mined" if receipt["status"] == 1 else "reverted"
        self._record(entry, status, receipt)
        return status

    def _record(self, entry: JournalEntry, status: str, receipt: Any) -> None:
        gas_cost = 0 if receipt is None else journal.gas_cost(receipt)
        if not self.store.journal_outcome(entry.tx_hash, status, gas_cost):
            return
        self.metrics.pending.set(len(self.store.pending()))
        self.metrics.gas_spent.labels(entry.action).inc(gas_cost)
        done = self._effects(entry, receipt) if status == "mined" else 0
        gas = 0 if receipt is None else int(receipt["gasUsed"])
        log.info(
            "%s %s %s (%s): %d done, gas %d (%d wei)",
            entry.action,
            entry.tx_hash,
            status,
            entry.subject,
            done,
            gas,
            gas_cost,
        )

    def _effects(self, entry: JournalEntry, receipt: Any) -> int:
        """Count what a mined transaction did, from its receipt's events."""
        s = self.rails
        escrow = s.escrow.address
        if entry.action == "settle":
            settled = [int(e["jobId"]) for e in s.abi["JobEscrow"].events["JobSettled"].logs(receipt, escrow)]
            for job_id in settled:
                self.store.set_due(job_id, None)
            self.metrics.jobs_settled.inc(len(settled))
            return len(settled)
        if entry.action in ("reclaim", "cancel"):
            name = "JobRefunded" if entry.action == "reclaim" else "JobCancelled"
            ended = [int(e["jobId"]) for e in s.abi["JobEscrow"].events[name].logs(receipt, escrow)]
            for job_id in ended:
                self.store.set_due(job_id, None)
            self.metrics.jobs_reclaimed.labels(entry.action).inc(len(ended))
            return len(ended)
        if entry.action == "relay":
            reported = s.abi["UptimeSlasher"].events["UptimeReported"].logs(receipt, s.slasher.address)
            self.metrics.reports_relayed.inc(len(reported))
            return len(reported)
        if entry.action == "claim":
            claimed = s.abi["ProviderStaking"].events["Claimed"].logs(receipt, s.staking.address)
            amount = sum(int(e["amount"]) for e in claimed)
            self.metrics.rewards_claimed.inc(amount)
            return len(claimed)
        return 0

    # ── 2. the cursor ──

    def _scan(self) -> None:
        s = self.rails
        head = int(s.w3.eth.block_number)
        last = self.store.last_block()
        start = s.deployment.deploy_block if last is None else last + 1
        escrow = s.escrow.address
        events = s.abi["JobEscrow"].events
        created_event, attested_event = events["JobCreated"], events["JobAttested"]
        topics = [["0x" + created_event.topic.hex(), "0x" + attested_event.topic.hex()]]
        for low in range(start, head + 1, self.settings.log_batch):
            high = min(head, low + self.settings.log_batch - 1)
            logs = s.w3.eth.get_logs({"address": escrow, "fromBlock": low, "toBlock": high, "topics": topics})
            found = {"logs": logs}
            created = [
                TrackedJob(
                    job_id=int(e["jobId"]),
                    client=e["client"],
                    provider=e["provider"],
                    token=e["token"],
                    escrow=int(e["unitPrice"]) * int(e["maxUnits"]),
                    deadline=int(e["deadline"]),
                    accept_by=int(e["acceptBy"]),
                    due_at=int(e["acceptBy"]) + 1,
                    note=None,
                )
                for e in created_event.logs(found, escrow)
            ]
            attested = {
                int(e["jobId"]): int(e["challengeEnds"]) for e in attested_event.logs(found, escrow) if e["success"]
            }
            self.store.record_events(created, attested, high)
            self.metrics.last_block.set(high)
            if created or attested:
                log.info("blocks %d-%d: %d new job(s), %d attested", low, high, len(created), len(attested))

    # ── 3. jobs ──

    def _jobs(self, gas_price: int, report: PassReport) -> None:
        s = self.rails
        now = s.now()
        due = self.store.due(now)
        if not due:
            return
        views = s.rpc.run([s.call("JobEscrow", s.escrow.address, "job", t.job_id) for t in due])
        settle: list[Job] = []
        reclaim: list[Job] = []
        cancel: list[Job] = []
        for view in views:
            job = s.views.job_from_view(view)
            stage = job.stage(now)
            if stage is JobStage.SETTLEABLE:
                settle.append(job)
            elif stage is JobStage.EXPIRED:
                reclaim.append(job)
            elif stage is JobStage.NOT_ACCEPTED and job.client == self.address:
                cancel.append(job)
            elif stage is JobStage.NOT_ACCEPTED:
                note = "open past its accept window: only its client may cancel it"
                self.store.set_due(job.id, None, note)
                log.info("job %d left alone: %s (client %s)", job.id, note, job.client)
            else:
                self.store.set_due(job.id, _next_due(job, now))
        if self.settings.settle:
            self._settle(self._worth_settling(settle, gas_price), report)
        if self.settings.reclaim:
            for job in reclaim:
                why = self._job_not_worth(job, RECLAIM_GAS, gas_price)
                if why is not None:
                    self._skip("reclaim", f"reclaim:{job.id}", f"job {job.id} not worth reclaiming: {why}")
                    continue
                self._send("reclaim", jobs_subject([job.id]), partial(s.client.reclaim_expired, job.id))
                report.reclaimed.append(job.id)
            for job in cancel:
                self._send("cancel", jobs_subject([job.id]), partial(s.client.cancel, job.id))
                report.cancelled.append(job.id)

    def _settle(self, jobs: list[Job], report: PassReport) -> None:
        jobs = sorted(jobs, key=lambda j: (j.provider, j.id))  # one collateral release per provider run
        size = self.settings.max_batch
        for start in range(0, len(jobs), size):
            ids = [j.id for j in jobs[start : start + size]]
            settlements = self._send("settle", jobs_subject(ids), partial(self.rails.keeper.settle_many, ids))
            report.settled += [x.job_id for x in settlements]

    def _worth_settling(self, jobs: list[Job], gas_price: int) -> list[Job]:
        """The settleable jobs worth settling now. A job that pays for a settleMany of its own
        (or has a watched party) makes the batch; the others join a batch that goes anyway when
        they pay for the gas they add to it."""
        alone = SETTLE_BATCH_GAS + SETTLE_GAS_PER_JOB
        anchors = {j.id for j in jobs if self._job_not_worth(j, alone, gas_price) is None}
        chosen = []
        for job in jobs:
            gas = SETTLE_GAS_PER_JOB if anchors else alone
            why = None if job.id in anchors else self._job_not_worth(job, gas, gas_price)
            if why is None:
                chosen.append(job)
            else:
                where = "in a batch" if anchors else "alone"
                self._skip("settle", f"settle:{job.id}", f"job {job.id} not worth settling ({where}): {why}")
        return chosen

    def _job_not_worth(self, job: Job, gas: int, gas_price: int) -> str | None:
        """None when acting on `job` is worth `gas` (or one of its parties is watched), else why not.
        The value is what the job moves to its parties: its escrow and any dispute bond."""
        if job.client in self.settings.parties or job.provider in self.settings.parties:
            return None
        token = job.token
        value = to_raw(job.escrow, token.decimals) + to_raw(job.dispute_bond, token.decimals)
        return self._not_worth(value, token, gas, gas_price)

    def _not_worth(self, value: int, token: TokenInfo, gas: int, gas_price: int) -> str | None:
        """None when `value` raw units of `token` are worth `gas` at `gas_price`, else why not."""
        price = self.prices.get(token.address)
        if price is None:
            return f"no native_price for {token.symbol}, and no party of it is watched"
        cost = gas * gas_price * price // WEI_PER_NATIVE
        need = self.settings.min_value_per_gas * cost
        if value >= need:
            return None
        d = token.decimals
        return (
            f"moves {from_raw(value, d)} {token.symbol}; {gas} gas at {gas_price} wei costs "
            f"{from_raw(cost, d)} {token.symbol} and min_value_per_gas {self.settings.min_value_per_gas} "
            f"asks for at least {from_raw(int(need), d)}"
        )

    def _skip(self, action: str, key: str, message: str) -> None:
        if key in self._told:
            return
        self._told.add(key)
        self.metrics.skipped.labels(action).inc()
        log.info("%s", message)

    # ── 4. relay ──

    def _relay(self, gas_price: int, report: PassReport) -> None:
        s = self.rails
        for item, signatures in self._offers().values():
            subject = report_subject(item.provider, item.epoch)
            if item.relayer != self.address:
                self._ignore("other_relayer", subject, f"names relayer {item.relayer}, not this keeper")
                continue
            if self.store.journalled("relay", subject):
                self._ignore("journalled", subject, "relayed already (journal)")
                continue
            if s.views.is_reported(item.provider, item.epoch):
                self._ignore("reported", subject, "already reported on chain")
                continue
            token = s.staking_token
            reward = self._expected_reward(item)
            why = self._not_worth(reward, token, RELAY_GAS, gas_price)
            if why is not None:
                self._skip("relay", f"relay:{subject}", f"report {subject} not worth relaying: reward {why}")
                continue
            try:
                self._send("relay", subject, partial(s.oracle.submit_uptime_report, item, signatures))
            except (PreconditionError, ContractRevert) as exc:  # stale, bad signatures, window closed
                self._ignore("refused", subject, f"{type(exc).__name__}: {exc}")
                continue
            report.relayed.append(subject)

    def _offers(self) -> dict[tuple[str, int], tuple[UptimeReport, list[Signature]]]:
        """The reports the oracle nodes serve, the first one of each provider and epoch."""
        found: dict[tuple[str, int], tuple[UptimeReport, list[Signature]]] = {}
        for url in self.settings.oracle_urls:
            try:
                answer = self.http.get(f"{url}/v1/reports")
                answer.raise_for_status()
                items = answer.json()
                if not isinstance(items, list):
                    raise ValueError("the answer is not a JSON list")
            except (httpx.HTTPError, ValueError) as exc:
                self.metrics.errors.labels("oracle").inc()
                log.warning("oracle node %s: no reports: %s", url, exc)
                continue
            for item in items:
                try:
                    statement = UptimeReport.model_validate(item["report"])
                    signatures = [Signature.model_validate(x) for x in item["signatures"]]
                except (KeyError, TypeError, ValidationError) as exc:
                    self._ignore("invalid", f"{url}:{str(item)[:200]}", f"not a signed report: {exc}")
                    continue
                found.setdefault((statement.provider, statement.epoch), (statement, signatures))
        return found

    def _ignore(self, reason: str, subject: str, message: str) -> None:
        key = f"ignore:{reason}:{subject}"
        if key in self._told:
            return
        self._told.add(key)
        self.metrics.reports_ignored.labels(reason).inc()
        log.info("report %s ignored: %s", subject, message)

    def _expected_reward(self, report: UptimeReport) -> int:
        """The relayer reward `report` would earn now (raw staking-token units), as
        ``UptimeSlasher.onUptimeReport`` and ``ProviderStaking.slash`` compute it."""
        s = self.rails
        info, params = s.rpc.run(
            [
                s.call("ProviderStaking", s.staking.address, "providerInfo", report.provider),
                s.call("UptimeSlasher", s.slasher.address, "params"),
            ]
        )
        _epoch_length, _statute, sla, slash_bps, slash_cap, reward_bps, reward_cap = _fields(params)
        staked, _locked, free, unbonding = (int(v) for v in info[4:8])
        if report.uptime_bps >= sla or report.relayer == report.provider:
            return 0
        requested = min((staked + unbonding) * slash_bps // BPS, slash_cap)
        slashed = min(requested, free + unbonding)  # the rest is deferred as a shortfall
        return int(min(slashed * reward_bps // BPS, reward_cap))

    # ── 5. claim ──

    def _claim(self, gas_price: int, report: PassReport) -> None:
        s = self.rails
        token = s.staking_token
        raw = to_raw(s.oracle.reward(), token.decimals)
        if raw == 0:
            return
        why = self._not_worth(raw, token, CLAIM_GAS, gas_price)
        if why is not None:
            self._skip("claim", f"claim:{raw}", f"reward not worth claiming yet: {why}")
            return
        self._send("claim", "staking", s.oracle.claim_reward)
        report.claimed += raw


def _next_due(job: Job, now: int) -> int | None:
    """The chain time from which the keeper may next act on `job` (None: never)."""
    stage = job.stage(now)
    if stage is JobStage.TO_ACCEPT and job.accept_by is not None:
        return int(job.accept_by.timestamp()) + 1
    if stage is JobStage.AWAITING_ATTESTATION:
        return int(job.deadline.timestamp()) + 1
    if stage is JobStage.IN_CHALLENGE and job.challenge_ends is not None:
        return int(job.challenge_ends.timestamp())
    if stage is JobStage.DISPUTED and job.dispute_ends is not None:
        return int(job.dispute_ends.timestamp()) + 1
    return None


def _fields(params: Any) -> tuple[int, ...]:
    """The slasher's ``params()`` struct as a flat tuple (a node may wrap it once)."""
    values = params[0] if len(params) == 1 else params
    return tuple(int(v) for v in values)
