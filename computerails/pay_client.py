"""The paying client (issue 13): an ``httpx.Auth`` flow that answers a provider's 402 with a
signed cumulative voucher and retries.

On a 402 whose body is payment terms (:meth:`computerails.agent.payment.PaymentGate.terms`), the
flow checks them against what the user allows (the chain and escrow of the user's deployment, an
accepted token, the provider on the allow-list, the price under the maximum), signs the next
voucher of that provider's collection with a :class:`~computerails.vouchers.Meter` capped at the
budget, writes the collection's new cumulative figures to SQLite, and only then sends the request
again with the ``X-Payment-Voucher`` header. Later requests to the same origin are paid up front
with the cached terms (no 402 round trip). Because the figures are on disk before a voucher
leaves, a restarted client continues the collection from there and never signs a lower value,
which a provider would refuse as stale (and so lose what was already paid for).

A voucher whose request never reached the provider is not reused: the next one covers both, so
the provider is paid one price too many at worst, never too little. Requests to one provider go
one at a time through a synchronous client (vouchers must arrive in the order they were signed);
for parallel requests give each lane its own ``PayingAuth`` and wallet file (its own collection).
An ``httpx.AsyncClient`` uses the flow without that ordering.

Refusals are typed: :class:`~computerails.errors.PaymentRefused` (the client will not pay those
terms; nothing signed), :class:`~computerails.errors.BudgetExceeded` (the budget is spent; nothing
signed), :class:`~computerails.errors.PaymentRejected` (the provider refused the voucher, with its
reason and, for an escrow that falls short, the runway).
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from computerails._sqlite import UINT64_DIGITS, UINT128_DIGITS, DurableSqlite, pad
from computerails.addresses import parse_address
from computerails.errors import InvalidReceipt, PaymentRefused, PaymentRejected
from computerails.models import digits
from computerails.receipts import ResponseReceipt, verify
from computerails.voucher_header import SCHEME, VOUCHER_HEADER, encode_voucher_header
from computerails.vouchers import Meter, Voucher, VoucherDomain, VoucherSigner, new_collection_id, validation_problems


class _Amount(BaseModel):
    raw: int


class _Token(BaseModel):
    address: str


class PaymentTerms(BaseModel):
    """The part of a provider's 402 terms the client acts on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    scheme: str
    price: _Amount
    token: _Token
    escrow: str
    chain_id: int
    provider: str
    min_escrow: _Amount
    safety_margin_bps: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (
    chain_id INTEGER NOT NULL,
    escrow TEXT NOT NULL,
    token TEXT NOT NULL,
    provider TEXT NOT NULL,
    payer TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    value_aggregate TEXT NOT NULL,  -- zero-padded decimal: uint128 does not fit SQLite's integers
    request_count TEXT NOT NULL,
    PRIMARY KEY (chain_id, escrow, token, provider, payer)
)
"""


class MeterStore:
    """The client's cumulative figures per (chain, escrow, token, provider, payer), in SQLite
    (WAL, ``synchronous=FULL``: a figure written is on disk when :meth:`save` returns)."""

    def __init__(self, path: str | Path) -> None:
        self._file = DurableSqlite(path, _SCHEMA)
        self.path = self._file.path
        self._conn, self._lock = self._file.connection, self._file.lock

    def load(self, key: tuple[int, str, str, str, str]) -> tuple[str, int, int] | None:
        """(collection id, value aggregate, request count), or None for a new collection."""
        with self._lock:
            row = self._conn.execute(
                "SELECT collection_id, value_aggregate, request_count FROM meters "
                "WHERE chain_id=? AND escrow=? AND token=? AND provider=? AND payer=?",
                key,
            ).fetchone()
        return None if row is None else (row[0], int(row[1]), int(row[2]))

    def save(self, voucher: Voucher, chain_id: int, escrow: str) -> None:
        """Keep `voucher`'s figures as its collection's latest (never lowering them)."""
        row = (
            chain_id,
            escrow,
            voucher.token,
            voucher.provider,
            voucher.payer,
            voucher.collection_id,
            pad(voucher.value_aggregate, UINT128_DIGITS),
            pad(voucher.request_count, UINT64_DIGITS),
        )
        with self._file.transaction() as db:
            db.execute(
                "INSERT INTO meters VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chain_id, escrow, token, provider, payer) DO UPDATE SET "
                "collection_id=excluded.collection_id, value_aggregate=excluded.value_aggregate, "
                "request_count=excluded.request_count WHERE excluded.request_count > meters.request_count",
                row,
            )

    def spent(self) -> dict[str, int]:
        """Provider -> the value aggregate signed to it (raw units, all tokens and collections)."""
        with self._lock:
            rows = self._conn.execute("SELECT provider, value_aggregate FROM meters").fetchall()
        out: dict[str, int] = {}
        for provider, value in rows:
            out[provider] = out.get(provider, 0) + int(value)
        return out

    def close(self) -> None:
        self._file.close()


class PayingAuth(httpx.Auth):
    """Pays 402 answers with vouchers (see the module docstring). Thread-safe.

    Args:
        private_key: the key that signs vouchers: the payer's own, or a hot key the payer
            authorized in the escrow (``payer`` then names the payer).
        chain_id: the chain the user's deployment is on.
        escrow: the deployment's MeteredEscrow.
        tokens: the tokens the user pays in.
        budget: the most any one provider's collection may reach (raw units).
        wallet: the SQLite file of the cumulative figures.
        payer: the escrow account paying (default: the key's own address).
        max_price: the most one request may cost (raw units; None: any price within budget).
        allowed_providers: the providers the user pays (None: any).

    Raises:
        InvalidKey: `private_key` is not a key.
    """

    requires_response_body = True

    def __init__(
        self,
        private_key: bytes | str,
        *,
        chain_id: int,
        escrow: str,
        tokens: Iterable[str],
        budget: int,
        wallet: str | Path,
        payer: str | None = None,
        max_price: int | None = None,
        allowed_providers: Iterable[str] | None = None,
    ) -> None:
        self.domain = VoucherDomain(chain_id, escrow)
        self.signer = VoucherSigner(self.domain, private_key)
        self.payer = parse_address(payer, "payer") if payer is not None else self.signer.address
        self.tokens = frozenset(parse_address(t, "token") for t in tokens)
        self.budget = budget
        self.max_price = max_price
        self.allowed = None if allowed_providers is None else frozenset(parse_address(p) for p in allowed_providers)
        self.store = MeterStore(wallet)
        self._meters: dict[tuple[str, str], Meter] = {}
        self._terms: dict[str, PaymentTerms] = {}
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    # ── what the user allows ──

    def check(self, terms: PaymentTerms) -> None:
        """Refuse terms the user did not agree to.

        Raises:
            PaymentRefused: another scheme, chain, escrow or token, a provider not allowed, or a
                price above the maximum.
        """
        if terms.scheme != SCHEME:
            raise PaymentRefused(f"the provider asks for scheme {terms.scheme!r}; this client pays {SCHEME!r}")
        if terms.chain_id != self.domain.chain_id:
            raise PaymentRefused(f"the provider is paid on chain {terms.chain_id}, not {self.domain.chain_id}")
        if parse_address(terms.escrow, "escrow") != self.domain.escrow:
            raise PaymentRefused(f"the provider names escrow {terms.escrow}, not the deployment's {self.domain.escrow}")
        if parse_address(terms.token.address, "token") not in self.tokens:
            raise PaymentRefused(
                f"the provider asks for token {terms.token.address}, which this client does not pay in"
            )
        provider = parse_address(terms.provider, "provider")
        if self.allowed is not None and provider not in self.allowed:
            raise PaymentRefused(f"provider {provider} is not among the providers this client pays")
        if self.max_price is not None and terms.price.raw > self.max_price:
            raise PaymentRefused(
                f"the provider asks {terms.price.raw} per request; the most this client pays is {self.max_price}"
            )
        if terms.price.raw <= 0:
            raise PaymentRefused(f"the provider asks a price of {terms.price.raw}: not a positive amount")

    # ── signing ──

    def meter(self, provider: str, token: str) -> Meter:
        """The meter of `provider`'s collection in `token`, resumed from the wallet."""
        key = (provider, token)
        with self._lock:
            meter = self._meters.get(key)
            if meter is None:
                kept = self.store.load((self.domain.chain_id, self.domain.escrow, token, provider, self.payer))
                collection_id, value, count = kept if kept is not None else (new_collection_id(), 0, 0)
                meter = Meter(
                    self.signer,
                    payer=self.payer,
                    provider=provider,
                    token=token,
                    budget=max(self.budget, value),
                    collection_id=collection_id,
                    value_aggregate=value,
                    request_count=count,
                )
                self._meters[key] = meter
            return meter

    def pay(self, terms: PaymentTerms) -> str:
        """Sign the next voucher for one request under `terms`, write its figures to the wallet,
        and return the header value.

        Raises:
            PaymentRefused: the terms are not acceptable (nothing signed).
            BudgetExceeded: the request would pass the budget (nothing signed).
        """
        self.check(terms)
        meter = self.meter(parse_address(terms.provider), parse_address(terms.token.address))
        voucher, signature = meter.next(terms.price.raw)
        self.store.save(voucher, self.domain.chain_id, self.domain.escrow)  # on disk before it leaves
        return encode_voucher_header(voucher, signature)

    def spent(self) -> dict[str, int]:
        """Provider -> raw value signed to it so far."""
        return self.store.spent()

    # ── the flow ──

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow, one request at a time per provider: vouchers of a collection must reach the
        provider in the order they were signed, or the later-signed one arriving first makes the
        earlier one stale (paid, not served). Threads sharing this auth wait for each other."""
        with self._origin_lock(_origin(request.url)):
            yield from super().sync_auth_flow(request)

    def _origin_lock(self, origin: str) -> threading.Lock:
        with self._lock:
            return self._origin_locks.setdefault(origin, threading.Lock())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = _origin(request.url)
        terms = self._terms.get(origin)
        if terms is not None:
            request.headers[VOUCHER_HEADER] = self.pay(terms)
        response = yield request
        if response.status_code != 402:
            return
        body = _json(response)
        if "error" in body:
            raise PaymentRejected(str(body["error"]), body)
        terms = _terms(body)
        self._terms[origin] = terms
        request.headers[VOUCHER_HEADER] = self.pay(terms)
        response = yield request
        if response.status_code == 402:
            body = _json(response)
            raise PaymentRejected(str(body.get("error", "payment required again")), body)

    def close(self) -> None:
        self.store.close()


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PaymentRefused(f"the provider answered 402 without JSON terms: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise PaymentRefused("the provider's 402 answer is not a JSON object")
    return body


def _terms(body: dict[str, Any]) -> PaymentTerms:
    try:
        return PaymentTerms.model_validate(body)
    except ValidationError as exc:
        raise PaymentRefused(f"the provider's 402 terms are malformed: {validation_problems(exc)}") from None


class PaidAnswer(BaseModel):
    """A paid inference answer with the provider's countersigned receipt (checked)."""

    label: int
    logits: list[int]
    receipt: ResponseReceipt
    receipt_signature: str


def infer(client: httpx.Client, url: str, pixels: list[int], auth: PayingAuth) -> PaidAnswer:
    """POST `pixels` to `url` (``.../v1/infer``), paying with `auth`; check the receipt.

    Raises:
        PaymentRefused, BudgetExceeded, PaymentRejected: see the module docstring.
        InvalidReceipt: the receipt is not signed by the provider, or does not name this
            request and answer.
        httpx.HTTPStatusError: any other non-2xx answer (a malformed request: 422, too large: 413).
    """
    response = client.post(url, json={"pixels": pixels}, auth=auth)
    response.raise_for_status()
    answer = PaidAnswer.model_validate(response.json())
    receipt = answer.receipt
    signature = bytes.fromhex(answer.receipt_signature.removeprefix("0x"))
    result = digits.InferenceResult(label=answer.label, logits=tuple(answer.logits))
    if not verify(auth.domain, receipt, signature):
        raise InvalidReceipt("the receipt is not signed by the provider it names", collection_id=receipt.collection_id)
    if receipt.request_hash != "0x" + digits.request_hash(pixels).hex():
        raise InvalidReceipt("the receipt names another request", collection_id=receipt.collection_id)
    if receipt.response_hash != "0x" + result.response_hash.hex():
        raise InvalidReceipt(
            "the receipt names another answer than the one returned", collection_id=receipt.collection_id
        )
    return answer
