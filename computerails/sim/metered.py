"""The demo's metered phase (issue 12): inference paid per request, answers backed by receipts.

After the job phases, some of the marketplace's clients become payers of metered inference:

1. **Fund.** Each payer deposits into the MeteredEscrow, one account per provider (twice what it
   means to spend: the rest stays as its tab). Providers top up their stake where it is thin:
   each collection will soon lock ``collected × stakeToFeesRatio`` of the provider's free stake.
2. **Serve.** For every request (a held-out 8x8 digit) the payer's
   :class:`~computerails.vouchers.Meter` signs the next cumulative voucher, with the request's
   hash as its metadata; the provider's :class:`~computerails.vouchers.VoucherBook` checks it,
   the provider runs :func:`computerails.models.digits.infer` (the real, integer model) and
   countersigns a :class:`~computerails.receipts.ResponseReceipt`, which the payer checks against
   the answer it got. The dishonest provider returns a wrong answer on every third request.
3. **Collect.** Each provider collects its latest voucher per payer (``collectMany`` when it has
   several, one transaction): the escrow pays it and locks ``gross × stakeRatio`` of its free
   stake for the dispute window.
4. **Spot check.** An oracle samples a tenth of each collection's receipts, checks the provider's
   signature, recomputes the answer and compares response hashes. A mismatch is fraud, proven by
   the provider's own signature: :meth:`MeteredPhase.punish` has k oracles sign a
   FraudAttestation over each such receipt (in request order per collection) and relays it: the
   MeteredEscrow slashes the provider's locked and free stake, pays the payer its share and jails
   it. One replayed attestation shows a receipt is punished only once.
5. **Claim.** Providers claim their net (a jailed one too: it was paid for answers served), the
   treasury the fees, wronged payers their share of the slash.

Nothing here imports Ape or the marketplace: the marketplace hands over its actors.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict
from web3.contract import Contract
from web3.logs import DISCARD

from computerails import receipts
from computerails.deployments import load_artifact
from computerails.errors import PreconditionError
from computerails.models import digits
from computerails.models.digits import InferenceResult
from computerails.rails import ComputeRails
from computerails.receipts import ReceiptSigner, ResponseReceipt
from computerails.tx import SentTransaction
from computerails.types import from_raw, to_raw
from computerails.vouchers import Meter, VoucherBook, VoucherDomain, VoucherSigner, keccak256

STAKE_DECIMALS = 18
#: Free stake each metered provider keeps, in stake tokens per payment token it may collect
#: (at least :data:`FREE_STAKE_FLOOR`): far above any ``stakeToFeesRatio`` the lock may use.
STAKE_COVER = 100
FREE_STAKE_FLOOR = Decimal(1_000)
CHEAT_EVERY = 3  # the dishonest provider answers every third request of a collection wrongly
SAMPLE_SHARE = Decimal("0.1")  # the share of each collection's receipts the oracle recomputes
UNITS_PER_REQUEST = 1
SAFETY_MARGIN_BPS = 1_000  # providers serve only while the escrow covers 90% of what is owed


class Party(Protocol):
    """A marketplace actor: a name, a key and a connection (``marketplace.Actor``)."""

    name: str
    key: str
    rails: ComputeRails
    price: Decimal

    @property
    def address(self) -> str: ...


Progress = Callable[[str, int], ContextManager[Callable[[], None]]]


class FraudEvidence(BaseModel):
    """A provider's signed receipt whose response an oracle recomputed differently."""

    model_config = ConfigDict(frozen=True)

    receipt: ResponseReceipt
    signature: str  # the provider's 65-byte signature over the receipt, 0x hex
    recomputed_response_hash: str  # 0x hex: what the answer hashes to when computed honestly


@dataclass
class Served:
    """One request as the payer logged it: what it asked, what it got, the provider's receipt."""

    payer: Party
    provider: Party
    pixels: tuple[int, ...]
    answer: InferenceResult
    receipt: ResponseReceipt
    signature: bytes
    wrong: bool  # ground truth for the report; the oracle never reads it


@dataclass
class Collection:
    """One payer-provider collection."""

    payer: Party
    provider: Party
    meter: Meter
    deposit: int  # raw payment-token units in the escrow account
    served: list[Served] = field(default_factory=list)


class MeteredPhase:
    """One run of the metered phase.

    Args:
        payers: who pays (the demo's first clients).
        providers: who serves (every provider of the demo).
        dishonest: the provider that returns wrong answers.
        oracle: who spot-checks receipts and relays fraud attestations.
        oracle_keys: the oracle set's keys (k of them sign each fraud attestation).
        treasury: the fee recipient (claims the fees).
        requests: requests per payer-provider collection.
        seed: makes collection ids, samples and images reproducible.
        mint: ``mint(actor, token, raw)``, the devnet faucet (recorded by the marketplace).
        progress: ``progress(label, total)`` -> context giving an ``advance()`` callable.
        log: prints a line (the fraud evidence).
        senders: actors sending at once.
    """

    def __init__(
        self,
        *,
        payers: Sequence[Party],
        providers: Sequence[Party],
        dishonest: Party,
        oracle: Party,
        oracle_keys: Sequence[str],
        treasury: Party,
        requests: int,
        seed: int,
        mint: Callable[[Any, str, int], None],
        progress: Progress,
        log: Callable[[str], None],
        senders: int,
    ) -> None:
        self.payers, self.providers, self.dishonest = list(payers), list(providers), dishonest
        self.oracle, self.oracle_keys, self.treasury = oracle, list(oracle_keys), treasury
        self.requests = requests
        self.rng = random.Random(f"metered/{seed}")
        self.seed = seed
        self.mint, self.progress, self.log, self.senders = mint, progress, log, senders
        rails = oracle.rails
        self.token = rails.deployment.payment_tokens[0]
        self.decimals = rails.token(self.token).decimals
        self.escrow: Contract = rails.w3.eth.contract(
            address=to_checksum_address(rails.deployment.address("MeteredEscrow")),
            abi=load_artifact("MeteredEscrow")["abi"],
        )
        self.domain = VoucherDomain(rails.chain_id, self.escrow.address)
        self.model = digits.load_model()
        self.images = digits.samples()
        self.sessions: list[Collection] = []
        self.books: dict[str, VoucherBook] = {}
        self.evidence: list[FraudEvidence] = []
        self.sampled = 0
        self.collected: list[dict[str, Any]] = []  # VoucherCollected events, as dicts
        self.collect_gas = 0
        self.collect_transactions = 0
        self.claimed: dict[str, int] = {}
        self.slashes: list[dict[str, Any]] = []  # one per fraud attestation that landed
        self.fraud_gas = 0
        self.replay_refused = ""  # the SDK's refusal of a replayed attestation
        self.slash_claimed: dict[str, int] = {}  # payers' shares claimed from ProviderStaking

    # ── the phase ──
    def run(self) -> dict[str, Any]:
        """Fund, serve, collect, spot-check and punish, claim; returns the report section."""
        self.fund()
        self.serve()
        self.collect()
        self.spot_check()
        self.punish()
        self.claim()
        return self.summary()

    def _each(self, parties: Sequence[Party], work: Callable[[Party], None]) -> None:
        """`work(party)` for every party, up to ``senders`` at once (each party's own
        transactions stay in order); the first error is raised once all have stopped."""
        with ThreadPoolExecutor(max_workers=max(1, self.senders), thread_name_prefix="metered") as pool:
            futures = [pool.submit(work, party) for party in parties]
        for future in futures:
            future.result()

    def _price(self, provider: Party) -> int:
        return to_raw(provider.price * UNITS_PER_REQUEST, self.decimals)

    def fund(self) -> None:
        """Payers deposit for every provider; providers make sure their free stake is ample."""
        chain_time = self.oracle.rails.now()
        for payer in self.payers:
            signer = VoucherSigner(self.domain, payer.key)  # the payer's own key signs for it
            for provider in self.providers:
                budget = self._price(provider) * self.requests
                collection = keccak256(f"metered/{self.seed}/{payer.address}/{provider.address}".encode())
                meter = Meter(
                    signer,
                    payer=payer.address,
                    provider=provider.address,
                    token=self.token,
                    budget=budget,
                    collection_id=collection,
                    clock=lambda: chain_time,
                )
                self.sessions.append(Collection(payer, provider, meter, deposit=2 * budget))
        for provider in self.providers:
            self.books[provider.address] = VoucherBook(
                self.domain,
                provider.address,
                {payer.address: [payer.address] for payer in self.payers},
                tokens=[self.token],
                safety_margin_bps=SAFETY_MARGIN_BPS,
            )

        with self.progress("Metered: payers deposit", len(self.sessions)) as advance:

            def deposit(payer: Party) -> None:
                mine = [s for s in self.sessions if s.payer is payer]
                total = sum(s.deposit for s in mine)
                self.mint(payer, self.token, total)
                rails = payer.rails
                rails.send(rails.erc20(self.token).functions.approve(self.escrow.address, total), "approve")
                for s in mine:
                    rails.send(
                        self.escrow.functions.deposit(s.provider.address, self.token, s.deposit), "metered.deposit"
                    )
                    advance()

            self._each(self.payers, deposit)
        with self.progress("Metered: providers' free stake", len(self.providers)) as advance:
            for provider in self.providers:
                self._ensure_free_stake(provider)
                advance()

    def _ensure_free_stake(self, provider: Party) -> None:
        """Top up so free stake covers :data:`STAKE_COVER` times what the provider may collect,
        and unjail a provider a job-phase slash left jailed."""
        rails = provider.rails
        may_collect = from_raw(sum(s.meter.budget for s in self.sessions if s.provider is provider), self.decimals)
        wanted = max(FREE_STAKE_FLOOR, may_collect * STAKE_COVER)
        status = rails.provider.status()
        top_up = max(Decimal(0), wanted - status.free, status.shortfall)
        if top_up > 0:
            top_up = top_up.quantize(Decimal(1)) + 1
            self.mint(provider, rails.deployment.staking_token, int(top_up) * 10**STAKE_DECIMALS)
            status = rails.provider.stake(top_up)
        if status.jailed:
            rails.provider.unjail()

    def serve(self) -> None:
        """Every collection's requests: voucher, check, inference, receipt, check."""
        with self.progress("Metered: requests served", len(self.sessions) * self.requests) as advance:
            for s in self.sessions:
                signer = ReceiptSigner(self.domain, s.provider.key)
                book = self.books[s.provider.address]
                for _ in range(self.requests):
                    s.served.append(self._one_request(s, signer, book))
                    advance()

    def _one_request(self, s: Collection, signer: ReceiptSigner, book: VoucherBook) -> Served:
        pixels, _label = self.images[self.rng.randrange(len(self.images))]
        request_hash = self.model.request_hash(pixels)
        # Payer: pay for one more request, the request's hash as the voucher's metadata.
        voucher, voucher_signature = s.meter.next(self._price(s.provider), metadata=request_hash)
        # Provider: serve only against a valid, covered voucher; answer; countersign.
        book.accept(voucher, voucher_signature, escrow_balance=s.deposit)
        answer = self.model.infer(pixels)
        wrong = s.provider is self.dishonest and voucher.request_count % CHEAT_EVERY == 0
        if wrong:
            answer = digits.dishonest_answer(answer)  # skipped the work, made an answer up
        receipt = ResponseReceipt(
            payer=voucher.payer,
            provider=voucher.provider,
            token=voucher.token,
            collection_id=voucher.collection_id,
            request_index=voucher.request_count,
            request_hash=request_hash,
            response_hash=answer.response_hash,
            units=UNITS_PER_REQUEST,
        )
        signature = signer.sign(receipt)
        # Payer: keep the receipt only if it is the provider's and names this request, paid by
        # this voucher, and the answer received (raises InvalidReceipt otherwise).
        receipts.check_for_payer(
            self.domain,
            receipt,
            signature,
            voucher=voucher,
            request_hash=request_hash,
            response_hash=answer.response_hash,
        )
        return Served(s.payer, s.provider, pixels, answer, receipt, signature, wrong)

    def spot_check(self) -> None:
        """The oracle recomputes a sample of every collection's receipts."""
        sample: list[Served] = []
        for s in self.sessions:
            k = max(1, int(len(s.served) * SAMPLE_SHARE))
            sample += self.rng.sample(s.served, k)
        self.sampled = len(sample)
        with self.progress("Metered: oracle spot check", len(sample)) as advance:
            for item in sample:
                advance()
                receipt = item.receipt
                if not receipts.verify(self.domain, receipt, item.signature):
                    continue  # not the provider's signature: no evidence against it
                if receipt.request_hash != "0x" + self.model.request_hash(item.pixels).hex():
                    continue  # the payer's log does not match the receipt: no evidence either
                recomputed = self.model.infer(item.pixels).response_hash
                if receipt.response_hash != "0x" + recomputed.hex():
                    self.submit_fraud_evidence(
                        FraudEvidence(
                            receipt=receipt,
                            signature="0x" + item.signature.hex(),
                            recomputed_response_hash="0x" + recomputed.hex(),
                        )
                    )

    def submit_fraud_evidence(self, evidence: FraudEvidence) -> None:
        """Keep a provider's signed receipt, its signature and the honestly recomputed response
        hash: proof of a wrong answer by the provider's own key (:meth:`punish` relays it)."""
        self.evidence.append(evidence)
        r = evidence.receipt
        self.log(
            f"fraud evidence: {self._name(r.provider)} signed response {r.response_hash[:18]}… for request "
            f"{r.request_index} of collection {r.collection_id[:18]}…; "
            f"recomputed {evidence.recomputed_response_hash[:18]}…"
        )

    def punish(self) -> None:
        """k oracles sign a FraudAttestation over every piece of evidence and the spot checker
        relays it: the provider is slashed (its collections' stake lock first) and jailed, the
        payer receives its share. Per collection in request order (the escrow punishes a
        collection's receipts only in that order); then one replay, refused before sending."""
        api = self.oracle.rails.oracle
        ordered = sorted(self.evidence, key=lambda e: (e.receipt.collection_id, e.receipt.request_index))
        if not ordered:
            return
        with self.progress("Metered: fraud attestations", len(ordered)) as advance:
            for evidence in ordered:
                attestation = api.fraud_attestation(
                    evidence.receipt, evidence.signature, evidence.recomputed_response_hash
                )
                sent = api.submit_fraud_attestation(attestation, api.collect_signatures(attestation, self.oracle_keys))
                outcome = api.fraud_outcome(sent)
                self.fraud_gas += sent.gas_used
                self.slashes.append(
                    {
                        "provider": self._name(outcome.provider),
                        "payer": self._payer_name(outcome.payer),
                        "request": outcome.request_index,
                        "slashed": outcome.slashed,
                        "from_locked": outcome.from_locked,
                        "payer_share": outcome.payer_amount,
                        "jailed": outcome.jailed,
                        "gas": sent.gas_used,
                    }
                )
                advance()
        first = ordered[0]
        replay = api.fraud_attestation(first.receipt, first.signature, first.recomputed_response_hash)
        try:
            api.submit_fraud_attestation(replay, api.collect_signatures(replay, self.oracle_keys))
        except PreconditionError as exc:
            self.replay_refused = str(exc)
            self.log(f"replayed fraud attestation refused: {exc}")
        else:
            raise RuntimeError("a replayed fraud attestation was accepted: a receipt must be punished once")

    def collect(self) -> None:
        """Each provider collects its latest voucher per payer in one transaction."""
        with self.progress("Metered: providers collect", len(self.providers)) as advance:

            def collect_one(provider: Party) -> None:
                latest = sorted(self.books[provider.address].collections().values(), key=lambda vs: vs[0].payer)
                escrow = self.escrow.functions
                if len(latest) == 1:
                    voucher, signature = latest[0]
                    sent = provider.rails.send(escrow.collect(voucher.as_tuple(), signature), "metered.collect")
                else:
                    vouchers, signatures = [v.as_tuple() for v, _ in latest], [sig for _, sig in latest]
                    sent = provider.rails.send(escrow.collectMany(vouchers, signatures), "metered.collectMany")
                self._record_collection(sent, provider)
                advance()

            self._each(self.providers, collect_one)

    def _record_collection(self, sent: SentTransaction, provider: Party) -> None:
        skipped = self.escrow.events.VoucherSkipped().process_receipt(sent.receipt, errors=DISCARD)
        if skipped:
            raise RuntimeError(f"{provider.name}'s collection skipped vouchers: {[dict(e.args) for e in skipped]}")
        events = self.escrow.events.VoucherCollected().process_receipt(sent.receipt, errors=DISCARD)
        self.collected += [dict(e.args) for e in events]
        self.collect_gas += sent.gas_used
        self.collect_transactions += 1

    def claim(self) -> None:
        """Providers claim their net, the treasury its fees, wronged payers their share of the
        fraud slashes (from ProviderStaking)."""
        claimants = [*self.providers, self.treasury]
        wronged = [p for p in self.payers if any(s["payer"] == p.name for s in self.slashes)]
        with self.progress("Metered: claims", len(claimants) + len(wronged)) as advance:

            def claim_share(payer: Party) -> None:
                payout = payer.rails.oracle.claim_reward()
                self.slash_claimed[payer.address] = to_raw(payout.amount, STAKE_DECIMALS)
                advance()

            self._each(wronged, claim_share)

            def claim_one(party: Party) -> None:
                owed = party.rails.read("MeteredEscrow", self.escrow.address, "claimable", party.address, self.token)
                if owed:
                    sent = party.rails.send(self.escrow.functions.claim(self.token), "metered.claim")
                    events = self.escrow.events.Claimed().process_receipt(sent.receipt, errors=DISCARD)
                    self.claimed[party.address] = sum(int(e.args.amount) for e in events)
                advance()

            self._each(claimants, claim_one)

    # ── books and report ──
    def payer_books(self) -> list[dict[str, Any]]:
        """Per payer, raw units: deposited, left in its accounts, spent (the difference), what
        its latest vouchers promised, and the provider net and fees the escrow paid for it."""
        rails = self.oracle.rails
        reads = [
            rails.call("MeteredEscrow", self.escrow.address, "account", s.payer.address, s.provider.address, self.token)
            for s in self.sessions
        ]
        balances = [int(view[0]) for view in rails.rpc.run(reads)]
        books = []
        for payer in self.payers:
            mine = [(s, b) for s, b in zip(self.sessions, balances) if s.payer is payer]
            paid = [e for e in self.collected if e["payer"] == payer.address]
            deposited = sum(s.deposit for s, _ in mine)
            left = sum(b for _, b in mine)
            books.append(
                {
                    "payer": payer,
                    "requests": sum(len(s.served) for s, _ in mine),
                    "deposited": deposited,
                    "left": left,
                    "spent": deposited - left,
                    "signed": sum(s.meter.value_aggregate for s, _ in mine),
                    "gross": sum(int(e["gross"]) for e in paid),
                    "provider_net": sum(int(e["providerNet"]) for e in paid),
                    "fees": sum(int(e["fee"]) for e in paid),
                }
            )
        return books

    def checks(self, books: list[dict[str, Any]]) -> dict[str, bool]:
        """The payers' side of the accounting (the contract's side is the marketplace's)."""
        return {
            "metered: each payer's spend == provider net + fees": all(
                b["spent"] == b["provider_net"] + b["fees"] == b["gross"] for b in books
            ),
            "metered: each payer's spend == its latest vouchers": all(b["spent"] == b["signed"] for b in books),
        }

    def _name(self, provider: str) -> str:
        return next((p.name for p in self.providers if p.address == provider), provider)

    def _payer_name(self, payer: str) -> str:
        return next((p.name for p in self.payers if p.address == payer), payer)

    def _amount(self, raw: int) -> Decimal:
        return from_raw(raw, self.decimals)

    def summary(self) -> dict[str, Any]:
        served = [item for s in self.sessions for item in s.served]
        books = self.payer_books()
        providers = []
        for p in self.providers:
            mine = [item for item in served if item.provider is p]
            paid = [e for e in self.collected if e["provider"] == p.address]
            providers.append(
                {
                    "name": p.name,
                    "role": "dishonest" if p is self.dishonest else "honest",
                    "requests": len(mine),
                    "wrong_answers": sum(item.wrong for item in mine),
                    "caught": sum(e.receipt.provider == p.address for e in self.evidence),
                    "slashed": sum((s["slashed"] for s in self.slashes if s["provider"] == p.name), Decimal(0)),
                    "jailed": p.rails.provider.status(p.address).jailed,
                    "collected": self._amount(sum(int(e["gross"]) for e in paid)),
                    "net": self._amount(sum(int(e["providerNet"]) for e in paid)),
                    "claimed": self._amount(self.claimed.get(p.address, 0)),
                }
            )
        requests = len(served)
        return {
            "requests": requests,
            "collections": len(self.sessions),
            "collect_transactions": self.collect_transactions,
            "collect_gas": self.collect_gas,
            "gas_per_request": round(self.collect_gas / requests, 1) if requests else 0,
            "wrong_answers": sum(item.wrong for item in served),
            "sampled": self.sampled,
            "providers": providers,
            "payers": [
                {
                    "name": b["payer"].name,
                    "requests": b["requests"],
                    "deposited": self._amount(b["deposited"]),
                    "spent": self._amount(b["spent"]),
                    "provider_net": self._amount(b["provider_net"]),
                    "fees": self._amount(b["fees"]),
                }
                for b in books
            ],
            "fees_claimed": self._amount(self.claimed.get(self.treasury.address, 0)),
            "slashes": self.slashes,
            "fraud_gas": self.fraud_gas,
            "replay_refused": self.replay_refused,
            "payers_compensated": {
                self._payer_name(a): from_raw(v, STAKE_DECIMALS) for a, v in sorted(self.slash_claimed.items())
            },
            "evidence": [
                {
                    "provider_name": self._name(e.receipt.provider),
                    "provider": e.receipt.provider,
                    "payer": e.receipt.payer,
                    "collection_id": e.receipt.collection_id,
                    "request_index": e.receipt.request_index,
                    "request_hash": e.receipt.request_hash,
                    "signed_response_hash": e.receipt.response_hash,
                    "recomputed_response_hash": e.recomputed_response_hash,
                    "signature": e.signature,
                }
                for e in self.evidence
            ],
            "checks": self.checks(books),
        }
