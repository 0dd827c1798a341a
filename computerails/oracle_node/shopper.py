"""The mystery shopper (docs/ORACLE_NETWORK.md, "Jobs and receipts"): the node's own paid
inference requests to the registered providers' agents, recomputed like a forwarded receipt.

1. **Schedule.** :func:`shop_times` gives a provider's shop moments in an epoch (on the chain's
   clock) from :func:`shop_secret`, an HMAC of the node's probe secret: the node computes the same
   moments after a restart, nobody without its key can, and they are not its probe moments.
2. **Durable slots.** :class:`ShopLog` (SQLite, WAL, ``synchronous=FULL``) keeps every slot. A
   slot is claimed (``started``) in a committed transaction *before* anything is signed, and a
   claimed slot is never shopped again: a node killed in the middle of a shop finds it
   ``started`` on restart and closes it as an ``error`` ("interrupted"), so it never pays twice
   for one slot. A slot found more than ``max_lateness`` seconds late (the node was down) is
   ``missed``, not shopped in a burst.
3. **A shop** (:meth:`Shopper.shop`): one of ``digits.samples()`` picked at random, the agent's
   402 terms read first (token, price within the epoch's remaining budget, the node's escrow
   covering it, else refused without signing anything), then the request paid through
   :class:`~computerails.pay_client.PayingAuth` (its cumulative figures in the same SQLite file)
   and the receipt checked by :func:`computerails.pay_client.infer`, then recomputed by
   :meth:`OracleNode.check_receipt`: a wrong answer the provider signed opens the same fraud
   round as a forwarded receipt.

Outcomes: ``correct``, ``fraud``, ``refused`` (the provider or the terms: no escrow, another
token, a price above the budget's rest), ``error`` (down, a malformed answer, a receipt that does
not match, interrupted), ``skipped`` (not active any more, no http(s) URL) and ``missed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from computerails import _http, pay_client
from computerails._sqlite import DurableSqlite
from computerails.addresses import parse_address
from computerails.errors import (
    BudgetExceeded,
    ComputeRailsError,
    InvalidReceipt,
    PaymentRefused,
    PaymentRejected,
)
from computerails.models import digits
from computerails.oracle_node.config import ShopperSettings
from computerails.oracle_node.node import OracleNode
from computerails.oracle_node.probes import probe_times
from computerails.oracle_node.providers import ProviderDirectory
from computerails.pay_client import PayingAuth, PaymentTerms
from computerails.types import to_raw
from computerails.vouchers import Meter

log = logging.getLogger("computerails.oracle_node.shopper")

SECRET_LABEL = b"computerails/shop-secret/v1"
OUTCOMES = ("correct", "fraud", "refused", "error", "skipped", "missed")
#: The most a voucher collection may ever reach: the epoch budget is what bounds the spending.
COLLECTION_CAP = 2**127
#: A shop's spending when it is not known (it failed after the slot was claimed): what was reserved.
UNKNOWN = -1


# ───────────────────────── 1. the schedule ─────────────────────────


def shop_secret(probe_secret: bytes) -> bytes:
    """The shopper's schedule secret: HMAC-SHA256(the node's probe secret,
    ``computerails/shop-secret/v1``), so shop moments are not probe moments."""
    return hmac.new(probe_secret, SECRET_LABEL, hashlib.sha256).digest()


def shop_times(
    secret: bytes, chain_id: int, epoch: int, provider: str, epoch_start: int, epoch_length: int, n: int
) -> list[int]:
    """When the node shops at `provider` in `epoch`: `n` chain times in the epoch, sorted and
    distinct (two coinciding moments are one slot). The construction is
    :func:`~computerails.oracle_node.probes.probe_times`' under :func:`shop_secret`."""
    return sorted(set(probe_times(secret, chain_id, epoch, provider, epoch_start, epoch_length, n)))


# ───────────────────────── 2. the shop log ─────────────────────────

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shops (
    epoch INTEGER NOT NULL,
    provider TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,        -- chain seconds
    status TEXT NOT NULL,                 -- planned, started, done
    outcome TEXT,                         -- one of OUTCOMES once done
    reserved TEXT NOT NULL DEFAULT '0',   -- raw units committed when claimed (the price)
    spent TEXT NOT NULL DEFAULT '0',      -- raw units the vouchers of this shop signed
    detail TEXT NOT NULL DEFAULT '',
    round TEXT,                           -- the fraud round opened
    finished_at INTEGER,                  -- unix seconds
    PRIMARY KEY (epoch, provider, scheduled_at)
);
CREATE TABLE IF NOT EXISTS shop_deposits (
    provider TEXT NOT NULL,
    token TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    amount TEXT NOT NULL,                 -- raw units
    PRIMARY KEY (provider, token)
);
"""


@dataclass(frozen=True, order=True)
class ShopSlot:
    """One scheduled shop."""

    scheduled_at: int
    epoch: int
    provider: str


@dataclass(frozen=True)
class ShopOutcome:
    """What one shop found."""

    slot: ShopSlot
    outcome: str
    spent: int = 0  # raw units
    detail: str = ""
    round: str | None = None


class ShopLog:
    """The shopper's slots and deposits on disk (one transaction per write).

    Args:
        path: the SQLite file (the wallet's: :class:`~computerails.pay_client.MeterStore` keeps
            its table beside these).
    """

    def __init__(self, path: str | Path) -> None:
        self._file = DurableSqlite(path, _SCHEMA)
        self.path = self._file.path

    def close(self) -> None:
        self._file.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._file.transaction() as db:
            yield db

    def plan(self, epoch: int, provider: str, times: list[int]) -> int:
        """Add slots (those already there stay as they are). Returns how many were new."""
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO shops (epoch, provider, scheduled_at, status) VALUES (?, ?, ?, 'planned')",
                [(epoch, provider, t) for t in times],
            )
            return int(db.total_changes - before)

    def recover(self) -> int:
        """Close the slots a previous run claimed and never finished (it may have paid): never
        shopped again. Returns how many."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE shops SET status='done', outcome='error', spent=reserved, "
                "detail='interrupted (the node stopped during the shop): not repeated', finished_at=? "
                "WHERE status='started'",
                (int(time.time()),),
            )
            return int(cursor.rowcount)

    def due(self, now: int, max_lateness: int, oldest_epoch: int) -> list[ShopSlot]:
        """The planned slots at or before `now`, of `oldest_epoch` or later, earliest first;
        older planned ones (too late, or of an epoch gone by) are marked ``missed`` first."""
        with self._tx() as db:
            db.execute(
                "UPDATE shops SET status='done', outcome='missed', detail='the node was not running then', "
                "finished_at=? WHERE status='planned' AND (scheduled_at < ? OR epoch < ?)",
                (int(time.time()), now - max_lateness, oldest_epoch),
            )
            rows = db.execute(
                "SELECT scheduled_at, epoch, provider FROM shops WHERE status='planned' AND scheduled_at <= ? "
                "ORDER BY scheduled_at, provider",
                (now,),
            ).fetchall()
        return [ShopSlot(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    def claim(self, slot: ShopSlot, reserved: int) -> bool:
        """Mark a planned slot started, committing `reserved` raw units, before anything is
        signed. False: it was not planned any more (never shop it)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE shops SET status='started', reserved=? "
                "WHERE epoch=? AND provider=? AND scheduled_at=? AND status='planned'",
                (str(reserved), slot.epoch, slot.provider, slot.scheduled_at),
            )
            return cursor.rowcount == 1

    def finish(self, result: ShopOutcome) -> bool:
        """Record a slot's outcome (a planned or started one). False: already done."""
        s = result.slot
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE shops SET status='done', outcome=?, spent=CASE WHEN ? THEN reserved ELSE ? END, "
                "detail=?, round=?, finished_at=? WHERE epoch=? AND provider=? AND scheduled_at=? AND status != 'done'",
                (
                    result.outcome,
                    result.spent == UNKNOWN,
                    str(result.spent),
                    result.detail[:500],
                    result.round,
                    int(time.time()),
                    s.epoch,
                    s.provider,
                    s.scheduled_at,
                ),
            )
            return cursor.rowcount == 1

    def committed(self, epoch: int) -> int:
        """Raw units committed in `epoch`: what its shops spent (or reserved, while started) and
        the deposits made in it."""
        with self._file.lock:
            shops = self._file.connection.execute(
                "SELECT status, reserved, spent FROM shops WHERE epoch=? AND status != 'planned'", (epoch,)
            ).fetchall()
            deposits = self._file.connection.execute(
                "SELECT amount FROM shop_deposits WHERE epoch=?", (epoch,)
            ).fetchall()
        spent = sum(int(r[1]) if r[0] == "started" else int(r[2]) for r in shops)
        return spent + sum(int(r[0]) for r in deposits)

    def claim_deposit(self, provider: str, token: str, epoch: int, amount: int) -> bool:
        """Record a deposit before it is sent: at most one per provider and token, ever."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO shop_deposits VALUES (?, ?, ?, ?)", (provider, token, epoch, str(amount))
            )
            return cursor.rowcount == 1

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per provider: finished shops by outcome, ``spent`` (raw units), ``planned`` (slots to come)."""
        with self._file.lock:
            rows = self._file.connection.execute(
                "SELECT provider, status, outcome, spent FROM shops WHERE status != 'started'"
            ).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for provider, status, outcome, spent in rows:
            entry = out.setdefault(provider, {"planned": 0, "spent": 0, **{o: 0 for o in OUTCOMES}})
            if status == "planned":
                entry["planned"] += 1
            else:
                entry[outcome] += 1
                entry["spent"] += int(spent)
        return out

    def slots(self, epoch: int) -> list[tuple[ShopSlot, str, str | None]]:
        """An epoch's slots with their status and outcome (tests, operators)."""
        with self._file.lock:
            rows = self._file.connection.execute(
                "SELECT scheduled_at, epoch, provider, status, outcome FROM shops WHERE epoch=? "
                "ORDER BY scheduled_at, provider",
                (epoch,),
            ).fetchall()
        return [(ShopSlot(int(r[0]), int(r[1]), str(r[2])), str(r[3]), r[4]) for r in rows]


# ───────────────────────── 3. the shopper ─────────────────────────


@dataclass(frozen=True)
class _Epoch:
    number: int
    start: int
    length: int


class Shopper:
    """Plans each epoch's shops for the active providers and makes the due ones, one at a time.

    Args:
        node: the oracle node (its connection, key, metrics and :meth:`OracleNode.check_receipt`).
        directory: the providers (refreshed by the prober's loop).
        settings: the ``[shopper]`` section.
        secret: :func:`shop_secret` of the node's probe secret.
        wallet: the SQLite file (slots, deposits and the vouchers' figures).
        private_key: the node's key: it pays from its own escrow accounts.

    Raises:
        ComputeRailsError: the token cannot be read from the chain.
    """

    def __init__(
        self,
        node: OracleNode,
        directory: ProviderDirectory,
        settings: ShopperSettings,
        *,
        secret: bytes,
        wallet: Path,
        private_key: bytes,
    ) -> None:
        rails = node.rails
        self.node = node
        self.directory = directory
        self.settings = settings
        self.secret = secret
        self.token = rails.token(settings.token or rails.deployment.payment_tokens[0])
        self.budget = to_raw(settings.budget, self.token.decimals)
        self.max_price = None if settings.max_price is None else to_raw(settings.max_price, self.token.decimals)
        self.deposit = to_raw(settings.deposit, self.token.decimals)
        self.log = ShopLog(wallet)
        self.auth = PayingAuth(
            private_key,
            chain_id=rails.chain_id,
            escrow=rails.collector.domain.escrow,
            tokens=[self.token.address],
            budget=COLLECTION_CAP,
            wallet=wallet,
            max_price=self.max_price,
        )
        self.http = _http.client(timeout=settings.timeout, trust_env=False, follow_redirects=False)
        self._planned: set[tuple[int, str]] = set()
        interrupted = self.log.recover()
        if interrupted:
            log.warning("%d shop(s) interrupted by the last stop: closed as errors, not repeated", interrupted)
        self.current_epoch: int | None = None
        #: The chain time of the last finished pass: every slot due by then is done (None before).
        self.shopped_until: int | None = None

    def close(self) -> None:
        self.http.close()
        self.auth.close()
        self.log.close()

    # ── planning ──

    def _epoch(self) -> tuple[int, _Epoch]:
        rails = self.node.rails
        slasher = rails.slasher.address
        now, current = rails.rpc.run([rails.latest_time(), rails.call("UptimeSlasher", slasher, "currentEpoch")])
        start, end = rails.rpc.run(
            [
                rails.call("UptimeSlasher", slasher, "epochStart", current),
                rails.call("UptimeSlasher", slasher, "epochEnd", current),
            ]
        )
        return int(now), _Epoch(int(current), int(start), int(end) - int(start))

    def plan(self, epoch: _Epoch) -> int:
        """Add `epoch`'s slots for every known provider active now (once per provider and epoch
        in this process; idempotent across restarts). Returns how many slots were new."""
        added = 0
        self._planned = {key for key in self._planned if key[0] >= epoch.number - 1}
        for entry in self.directory.providers():
            key = (epoch.number, entry.address)
            if key in self._planned:
                continue
            if self.directory.status(entry.address).active and self.directory.url(entry.address) is not None:
                times = shop_times(
                    self.secret,
                    self.node.chain_id,
                    epoch.number,
                    entry.address,
                    epoch.start,
                    epoch.length,
                    self.settings.requests_per_epoch,
                )
                added += self.log.plan(epoch.number, entry.address, times)
            self._planned.add(key)
        return added

    def run_due(self) -> list[ShopOutcome]:
        """One pass: plan the current epoch, then make every due shop, earliest first (slots of
        the epoch before still count when due)."""
        now, epoch = self._epoch()
        self.current_epoch = epoch.number
        self.plan(epoch)
        done = []
        for slot in self.log.due(now, int(self.settings.max_lateness), epoch.number - 1):
            try:
                result = self.shop(slot)
            except ComputeRailsError as exc:  # the chain, mostly: what was reserved counts as spent
                result = ShopOutcome(slot, "error", UNKNOWN, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug: logged with its trace, the slot closed all the same
                log.exception("shop at %s failed", slot.provider)
                result = ShopOutcome(slot, "error", UNKNOWN, f"{type(exc).__name__}: {exc}")
            if self.log.finish(result):
                self._count(result)
                done.append(result)
        self.shopped_until = now
        return done

    def _count(self, result: ShopOutcome) -> None:
        metrics = self.node.metrics
        metrics.shops.labels(result.outcome).inc()
        metrics.shop_spent.inc(max(result.spent, 0))
        level = logging.WARNING if result.outcome in ("fraud", "error") else logging.INFO
        log.log(
            level,
            "shop at %s (epoch %s, slot %s): %s%s",
            result.slot.provider,
            result.slot.epoch,
            result.slot.scheduled_at,
            result.outcome,
            f" ({result.detail})" if result.detail else "",
        )

    # ── one shop ──

    def shop(self, slot: ShopSlot) -> ShopOutcome:
        """Make one shop (see the module docstring); never raises for what the provider does."""

        def outcome(kind: str, detail: str = "", spent: int = 0, round_key: str | None = None) -> ShopOutcome:
            return ShopOutcome(slot, kind, spent, detail, round_key)

        provider = slot.provider
        if not self.directory.status(provider).active:
            return outcome("skipped", "the provider is not active (jailed or left)")
        base = self.directory.url(provider)
        if base is None:
            return outcome("skipped", "no http(s) URL to shop at")
        url = base + "/v1/infer"
        pixels = list(secrets.choice(digits.samples())[0])
        try:
            terms = self._terms(url, pixels)
        except httpx.HTTPError as exc:
            return outcome("error", f"provider unreachable: {type(exc).__name__}: {exc}")
        except ValueError as exc:
            return outcome("error", str(exc))
        try:
            self.auth.check(terms)
        except PaymentRefused as exc:
            return outcome("refused", f"terms refused: {exc}")
        if parse_address(terms.provider) != provider:
            return outcome("error", f"the agent answers for {terms.provider}, not {provider}")
        price = terms.price.raw
        left = self.budget - self.log.committed(slot.epoch)
        if price > left:
            return outcome("refused", f"price {price} is above the epoch budget's rest {left}")
        meter = self.auth.meter(provider, self.token.address)
        if not self._covered(provider, meter, terms):
            if not self._deposit(provider, slot.epoch, left - price):
                return outcome("refused", "the node's escrow for this provider does not cover the price")
        if not self.log.claim(slot, price):
            return outcome("skipped", "claimed before")
        before = meter.value_aggregate
        try:
            answer = pay_client.infer(self.http, url, pixels, self.auth)
        except (PaymentRejected, PaymentRefused, BudgetExceeded) as exc:
            return outcome("refused", f"payment refused: {exc}", meter.value_aggregate - before)
        except InvalidReceipt as exc:
            return outcome("error", f"unusable receipt: {exc}", meter.value_aggregate - before)
        except (httpx.HTTPError, ValidationError, ValueError) as exc:
            return outcome("error", f"{type(exc).__name__}: {exc}", meter.value_aggregate - before)
        spent = meter.value_aggregate - before
        if answer.receipt.provider != provider:
            return outcome("error", f"the receipt names {answer.receipt.provider}", spent)
        try:
            verdict = self.node.check_receipt(answer.receipt, answer.receipt_signature, pixels)
        except (InvalidReceipt, ValueError) as exc:
            return outcome("error", f"receipt not checkable: {exc}", spent)
        if verdict["verdict"] == "fraud":
            return outcome("fraud", f"request {answer.receipt.request_index} answered wrongly", spent, verdict["round"])
        return outcome("correct", "", spent)

    def _terms(self, url: str, pixels: list[int]) -> PaymentTerms:
        """The agent's 402 terms for an unpaid request (what any new client first sees)."""
        response = self.http.post(url, json={"pixels": pixels})
        if response.status_code != 402:
            raise ValueError(f"the agent answered {response.status_code} to an unpaid request, not 402")
        try:
            return PaymentTerms.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"malformed 402 terms: {str(exc)[:200]}") from None

    def _covered(self, provider: str, meter: Meter, terms: PaymentTerms) -> bool:
        """Whether the node's escrow account covers one more request as the agent counts cover:
        the balance less the safety margin, less what the wallet signed and was not collected."""
        runway = self.node.rails.payer.runway(provider, [meter], token=self.token.address)
        balance = to_raw(runway.account.balance, self.token.decimals)
        outstanding = to_raw(runway.outstanding, self.token.decimals)
        cover = balance * (10_000 - terms.safety_margin_bps) // 10_000 - outstanding
        return balance >= terms.min_escrow.raw and cover >= terms.price.raw

    def _deposit(self, provider: str, epoch: int, left: int) -> bool:
        """Deposit ``deposit`` once per provider when configured and within what is left of the
        epoch's budget. True when a deposit was made now."""
        if self.deposit <= 0 or self.deposit > left:
            return False
        if not self.log.claim_deposit(provider, self.token.address, epoch, self.deposit):
            return False  # deposited once already (or a crash in between): never again
        try:
            self.node.rails.payer.deposit(provider, self.settings.deposit, token=self.token.address)
        except ComputeRailsError as exc:
            log.warning("shopper deposit for %s failed: %s", provider, exc)
            return False
        log.info("shopper deposited %s %s for %s", self.settings.deposit, self.token.symbol, provider)
        return True

    # ── for GET /v1/shopper ──

    def report(self) -> dict[str, Any]:
        epoch = self.current_epoch
        return {
            "enabled": True,
            "payer": self.node.me,
            "token": self.token.address,
            "budget_per_epoch": self.budget,
            "epoch": epoch,
            "committed_this_epoch": None if epoch is None else self.log.committed(epoch),
            "shopped_until": self.shopped_until,
            "providers": self.log.summary(),
        }
