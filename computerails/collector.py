"""The provider's side of metered payments (issue 12): verify incoming vouchers against the
escrow, keep them in a book on disk, decide when collecting is due, collect, and claim.

- :meth:`CollectorAPI.open_book` opens the provider's :class:`~computerails.vouchers.VoucherBook`
  bound to the deployment's escrow, kept in SQLite when given a path.
- :meth:`CollectorAPI.accept` verifies a voucher before the request is served: signature, the
  signer authorized for the payer on chain, monotone, and covered by the escrow balance (less the
  book's safety margin) beyond what the collection already collected: one round trip of reads.
- :class:`CollectionPolicy` decides which collections to collect now: when the value is worth
  the gas, before the payer's escrow thaw or the voucher signer's thaw ends (read from chain),
  and everything on demand.
- :meth:`CollectorAPI.collect` and :meth:`CollectorAPI.collect_many` send them; ``collectMany``
  skips bad vouchers with ``VoucherSkipped`` events, whose revert data is decoded here into the
  SDK's typed errors, voucher by voucher.
- :meth:`CollectorAPI.claim` withdraws the provider's claimable balance in a token.

The collection policy is a plain function of observed state (:class:`CollectionState`), so a
daemon can record each decision before acting on it, and tests can check decisions off chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from computerails import shared
from computerails.addresses import parse_address
from computerails.errors import (
    ContractRevert,
    EscrowBelowMinimum,
    NotAllowed,
    NothingClaimable,
    PreconditionError,
    decode_revert,
)
from computerails.session import Session
from computerails.tx import Call, SentTransaction
from computerails.types import Payout, TokenInfo, VoucherPayment, from_raw
from computerails.vouchers import Voucher, VoucherBook, VoucherDomain

#: Gas per voucher of ``collectMany`` at 50 vouchers from 5 payers, new collections, stake lock
#: included (measured by tests/contracts/metered/test_metered_gas.py, docs/METERED.md "Gas"): the
#: policy's default cost of collecting.
COLLECT_MANY_GAS_PER_VOUCHER = 44_046
WAD = 10**18
BPS = 10_000
WEI_PER_NATIVE = 10**18

#: A voucher and its 65-byte signature.
Signed = tuple[Voucher, bytes]


class Trigger(str, Enum):
    """Why a collection is due now."""

    ON_DEMAND = "on demand"
    WORTH_GAS = "worth the gas"
    ESCROW_THAW = "payer's escrow thaw ends soon"
    SIGNER_THAW = "signer's thaw ends soon"


@dataclass(frozen=True)
class CollectionState:
    """What the chain says about one kept voucher's collection (raw token units, unix seconds;
    stake in raw staking-token units)."""

    voucher: Voucher
    signature: bytes
    signer: str  # the key that signed the voucher
    collected: int  # what the escrow already paid on the collection
    fee_bps: int  # the fee the collection pays (its snapshot once started, else the current fee)
    balance: int  # the payer's escrow balance for this provider and token
    escrow_thaw_end: int | None  # the payer's running thaw, if any
    signer_thaw_end: int | None  # the signer's running thaw, if any (never for the payer's own key)
    stake_ratio: int = 0  # staking units locked per token unit collected, scaled by 1e18
    lockable: int | None = None  # the provider's stake a collection could lock now (None: unknown)

    @property
    def outstanding(self) -> int:
        """What the voucher promises beyond what was collected."""
        return max(self.voucher.value_aggregate - self.collected, 0)

    @property
    def payable(self) -> int:
        """What a collection would pay now (gross): the outstanding value the balance covers."""
        return min(self.outstanding, self.balance)

    @property
    def stake_needed(self) -> int:
        """The provider stake collecting now would lock for the dispute window."""
        return -(-self.payable * self.stake_ratio // WAD)  # rounded up, as the escrow does

    @property
    def net(self) -> int:
        """What the provider would receive now, after the collection's fee."""
        return self.payable - self.payable * self.fee_bps // BPS


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on one collection: ``trigger`` is None when it waits, and
    ``blocked`` says why a due collection cannot pay (e.g. an empty escrow)."""

    state: CollectionState
    trigger: Trigger | None
    gas_cost: int | None  # the collection's gas in raw token units, None without a price
    blocked: str | None = None

    @property
    def collect(self) -> bool:
        return self.trigger is not None and self.blocked is None


@dataclass(frozen=True)
class CoverView:
    """The escrow's side of admitting one voucher: its signer's record (payer, thaw end,
    revoked), the payer's escrow balance and the end of its thaw (0: none), and what the
    collection was paid."""

    signer: str
    signer_info: tuple[Any, ...]
    balance: int
    collected: int
    thaw_end: int = 0

    @property
    def steady(self) -> bool:
        """Neither the payer's escrow nor the signer is thawing: until one starts a thaw and
        waits out its period, the balance cannot fall and the signer cannot be revoked, so the
        view stays safe to admit against for any time shorter than those periods."""
        return self.thaw_end == 0 and int(self.signer_info[1]) == 0 and not self.signer_info[2]


@dataclass(frozen=True)
class CollectionPolicy:
    """When to collect a collection:

    - it pays nothing: never (blocked: nothing outstanding, or an empty escrow);
    - on demand: everything that pays;
    - the payer's escrow thaw or the signer's thaw ends within ``thaw_lead`` seconds: now,
      whatever the gas (after a withdrawal or a revocation the voucher may pay nothing);
    - its net value is at least ``min_value_per_gas`` times what the gas costs at the given gas
      price, converted with ``token_per_native`` (raw token units one native coin, 10**18 wei,
      is worth). A token without a price is collected only for the reasons above.

    Args:
        thaw_lead: seconds before a thaw's end from which collecting is due; at least the time
            between two runs of the collector (:meth:`CollectorAPI.policy` uses the escrow's
            ``collectionInterval``).
        token_per_native: token address -> raw units of it one native coin is worth.
        min_value_per_gas: how many times the gas cost the net value must reach.
        gas_per_voucher: gas one voucher costs in a ``collectMany``.
    """

    thaw_lead: int
    token_per_native: Mapping[str, int]
    min_value_per_gas: Decimal = Decimal(1)
    gas_per_voucher: int = COLLECT_MANY_GAS_PER_VOUCHER

    def decide(
        self, states: Sequence[CollectionState], *, now: int, gas_price: int, on_demand: bool = False
    ) -> list[Decision]:
        """One decision per state, in order.

        Args:
            states: the collections observed.
            now: the chain's clock (unix seconds).
            gas_price: wei per gas a collection would pay.
            on_demand: collect everything that pays.
        """
        return [self._decide(state, now, gas_price, on_demand) for state in states]

    def _decide(self, state: CollectionState, now: int, gas_price: int, on_demand: bool) -> Decision:
        price = self.token_per_native.get(state.voucher.token)
        cost = None if price is None else self.gas_per_voucher * gas_price * price // WEI_PER_NATIVE
        blocked = None
        if state.outstanding == 0:
            blocked = "nothing outstanding"
        elif state.balance == 0:
            blocked = "the payer's escrow is empty: ask for a top-up"
        elif state.lockable is not None and state.stake_needed > state.lockable:
            blocked = (
                f"collecting locks {state.stake_needed} stake units but only {state.lockable} are free: add stake "
                "(or wait for earlier locks to be released)"
            )
        trigger = None
        if on_demand:
            trigger = Trigger.ON_DEMAND
        elif state.escrow_thaw_end is not None and state.escrow_thaw_end <= now + self.thaw_lead:
            trigger = Trigger.ESCROW_THAW
        elif state.signer_thaw_end is not None and state.signer_thaw_end <= now + self.thaw_lead:
            trigger = Trigger.SIGNER_THAW
        elif cost is not None and state.net > 0 and state.net >= self.min_value_per_gas * cost:
            trigger = Trigger.WORTH_GAS
        return Decision(state=state, trigger=trigger, gas_cost=cost, blocked=blocked)


@dataclass(frozen=True)
class CollectOutcome:
    """One voucher of a ``collect_many``: what it paid, or the typed error it was skipped with."""

    index: int
    voucher: Voucher
    payment: VoucherPayment | None
    error: ContractRevert | None


class CollectorAPI:
    """What a provider's serving agent does with vouchers (MeteredEscrow)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def domain(self) -> VoucherDomain:
        """The escrow's EIP-712 domain on this chain."""
        return shared.voucher_domain(self._s)

    def open_book(self, path: str | Path | None = None, *, safety_margin_bps: int = 0) -> VoucherBook:
        """This provider's voucher book, kept in the SQLite file `path` (None: in memory only).

        Args:
            path: the book's database file (created if missing).
            safety_margin_bps: the share of a payer's escrow balance not counted as cover.
        """
        store = None
        if path is not None:
            from computerails.voucher_store import SqliteVoucherStore  # SQLAlchemy: loaded when a book is kept

            store = SqliteVoucherStore(path)
        return VoucherBook(self.domain, self._s.address, safety_margin_bps=safety_margin_bps, store=store)

    # ───────────────────────── verification ─────────────────────────

    def accept(
        self,
        book: VoucherBook,
        voucher: Voucher,
        signature: bytes,
        *,
        reserved: int = 0,
        min_balance: int = 0,
        chain: CoverView | None = None,
        also: Callable[[Any], object] | None = None,
    ) -> Voucher:
        """Verify `voucher` against the escrow and keep it (durably, with a stored book) as its
        collection's latest: serve the request only once this returns.

        One round trip reads the signer's record, the payer's account and the collection's
        ``collected`` (:meth:`cover_view`), unless `chain` gives them; the book then checks
        signature, signer, order and cover.

        Args:
            reserved: what the payer's other collections leave uncollected (raw units), taken
                off the cover (:meth:`VoucherBook.accept`).
            min_balance: the least escrow balance this provider serves against (raw units).
            chain: a :meth:`cover_view` read earlier. A view a few seconds old never admits an
                uncovered voucher: the balance falls only by a withdrawal, and a withdrawal or a
                signer's revocation waits out a thawing period far longer than that.
            also: more writes committed with the voucher (:meth:`VoucherBook.accept`).

        Raises:
            InvalidVoucherSignature: malformed, or the signer is neither the payer nor a signer
                the escrow has authorized for it (and not revoked).
            EscrowBelowMinimum: the payer's balance is below `min_balance`.
            InvalidVoucher, StaleVoucher, VoucherNotCovered: as :meth:`VoucherBook.accept`.
        """
        view = self._admit_view(book, voucher, signature, min_balance, chain)
        return book.accept(
            voucher, signature, escrow_balance=view.balance, collected=view.collected, reserved=reserved, also=also
        )

    def check(
        self,
        book: VoucherBook,
        voucher: Voucher,
        signature: bytes,
        *,
        reserved: int = 0,
        min_balance: int = 0,
        chain: CoverView | None = None,
    ) -> None:
        """:meth:`accept`'s checks alone (:meth:`VoucherBook.check`): raises what :meth:`accept`
        would and keeps nothing; the caller writes the voucher, then calls
        :meth:`VoucherBook.keep`."""
        view = self._admit_view(book, voucher, signature, min_balance, chain)
        book.check(voucher, signature, escrow_balance=view.balance, collected=view.collected, reserved=reserved)

    def _admit_view(
        self, book: VoucherBook, voucher: Voucher, signature: bytes, min_balance: int, chain: CoverView | None
    ) -> CoverView:
        """The escrow's view for `voucher` (read unless `chain` gives it): its signer authorized
        or revoked in `book` as the escrow says, and the balance at least `min_balance`."""
        view = chain if chain is not None else self.cover_view(voucher, book.domain.recover(voucher, signature))
        payer, _thaw_end, revoked = view.signer_info
        if view.signer == voucher.payer or (payer == voucher.payer and not revoked):
            book.authorize(voucher.payer, view.signer)
        else:
            book.revoke(voucher.payer, view.signer)
        if view.balance < min_balance:
            raise EscrowBelowMinimum(voucher.collection_id, view.balance, min_balance)
        return view

    def cover_view(self, voucher: Voucher, signer: str) -> CoverView:
        """What admitting `voucher` signed by `signer` reads from the escrow, in one round trip."""
        s = self._s
        info, account, collection = s.rpc.run(
            [
                s.call("MeteredEscrow", s.metered, "signerInfo", signer),
                self._account_request(voucher),
                self._collection_request(voucher),
            ]
        )
        return CoverView(
            signer=signer,
            signer_info=tuple(info),
            balance=int(account[0]),
            collected=int(collection[0]),
            thaw_end=int(account[2]),
        )

    # ───────────────────────── the policy ─────────────────────────

    def policy(
        self, token_per_native: Mapping[str, int], *, min_value_per_gas: Decimal = Decimal(1)
    ) -> CollectionPolicy:
        """A :class:`CollectionPolicy` whose thaw lead is the escrow's ``collectionInterval``."""
        s = self._s
        interval = s.cached("collectionInterval", lambda: s.read("MeteredEscrow", s.metered, "collectionInterval"))
        prices = {parse_address(token, "token"): int(units) for token, units in token_per_native.items()}
        return CollectionPolicy(thaw_lead=int(interval), token_per_native=prices, min_value_per_gas=min_value_per_gas)

    def states(self, vouchers: Sequence[Signed]) -> tuple[int, list[CollectionState]]:
        """The chain's clock and each voucher's collection state, in one round trip."""
        s = self._s
        if not vouchers:
            return s.now(), []
        domain = self.domain
        signers = [domain.recover(v, sig) for v, sig in vouchers]
        tokens = sorted({v.token for v, _ in vouchers})
        requests = [
            s.latest_time(),
            s.call("MeteredEscrow", s.metered, "feeBps"),
            s.call("MeteredEscrow", s.metered, "stakeLock", s.address),
            s.call("ProviderStaking", s.staking.address, "providerInfo", s.address),
            *(s.call("MeteredEscrow", s.metered, "stakeRatio", t) for t in tokens),
        ]
        for (voucher, _), signer in zip(vouchers, signers):
            requests += [
                self._collection_request(voucher),
                self._account_request(voucher),
                s.call("MeteredEscrow", s.metered, "signerInfo", signer),
            ]
        now, fee, lock, info, *rest = s.rpc.run(requests)
        ratios = dict(zip(tokens, rest[: len(tokens)]))
        rest = rest[len(tokens) :]
        lockable = _lockable(lock, info)
        states = []
        for i, ((voucher, signature), signer) in enumerate(zip(vouchers, signers)):
            (collected, fee_bps, started, *_), (balance, _thawing, thaw_end), (_payer, signer_thaw, _) = rest[
                3 * i : 3 * i + 3
            ]
            states.append(
                CollectionState(
                    voucher=voucher,
                    signature=signature,
                    signer=signer,
                    collected=collected,
                    fee_bps=fee_bps if started else fee,
                    balance=balance,
                    escrow_thaw_end=thaw_end or None,
                    signer_thaw_end=signer_thaw or None,
                    stake_ratio=int(ratios[voucher.token]),
                    lockable=lockable,
                )
            )
        return now, states

    def plan(
        self,
        book: VoucherBook,
        policy: CollectionPolicy,
        *,
        gas_price: int | None = None,
        on_demand: bool = False,
    ) -> list[Decision]:
        """The policy's decision on every collection in `book`, from the chain's state now.

        Args:
            gas_price: wei per gas (default: the node's gas price).
            on_demand: collect everything that pays.
        """
        now, states = self.states(list(book.collections().values()))
        price = gas_price if gas_price is not None else int(self._s.w3.eth.gas_price)
        return policy.decide(states, now=now, gas_price=price, on_demand=on_demand)

    def collect_due(
        self,
        book: VoucherBook,
        policy: CollectionPolicy,
        *,
        gas_price: int | None = None,
        on_demand: bool = False,
    ) -> list[CollectOutcome]:
        """Collect what :meth:`plan` says is due, in ``collectMany`` transactions of at most half
        a block's gas each (by ``policy.gas_per_voucher``); nothing due: no transaction.
        Outcome indices count across the transactions, in plan order."""
        due = [d.state for d in self.plan(book, policy, gas_price=gas_price, on_demand=on_demand) if d.collect]
        if not due:
            return []
        block_gas = int(self._s.w3.eth.get_block("latest")["gasLimit"])
        size = max(1, block_gas // (2 * policy.gas_per_voucher))
        outcomes: list[CollectOutcome] = []
        for start in range(0, len(due), size):
            batch = [(state.voucher, state.signature) for state in due[start : start + size]]
            outcomes += [replace(o, index=start + o.index) for o in self.collect_many(batch)]
        return outcomes

    # ───────────────────────── collecting ─────────────────────────

    def collect(self, voucher: Voucher, signature: bytes) -> VoucherPayment:
        """Collect one voucher: the escrow pays ``valueAggregate − collected`` (up to the
        account's balance), net of the collection's fee, to this provider's claimable.

        Raises:
            NotAllowed: the voucher is for another provider (nothing sent).
            ContractRevert: the escrow refused it: ``StaleVoucherRevert``, ``EmptyEscrowAccount``,
                ``SignerNotAuthorized``, ``SignerRevokedForPayer`` ... (simulated, nothing sent).
        """
        self._check_provider(voucher)
        data = self._s.abi["MeteredEscrow"]["collect"].encode(voucher.as_tuple(), signature)
        sent = self._s.tx.send(Call(self._s.metered, data, "collect"), label="collect")
        (payment,) = self._payments(sent)
        return payment

    def collect_many(self, vouchers: Sequence[Signed]) -> list[CollectOutcome]:
        """Collect many vouchers (of any payers and tokens) in one transaction. Vouchers the
        escrow refuses are skipped, each with the typed error ``collect`` would have raised.

        Raises:
            PreconditionError: no vouchers.
            NotAllowed: a voucher is for another provider (nothing sent).
        """
        if not vouchers:
            raise PreconditionError("collect_many needs at least one voucher")
        for voucher, _ in vouchers:
            self._check_provider(voucher)
        s = self._s
        data = s.abi["MeteredEscrow"]["collectMany"].encode(
            [v.as_tuple() for v, _ in vouchers], [bytes(sig) for _, sig in vouchers]
        )
        sent = s.tx.send(Call(s.metered, data, "collectMany"), label="collectMany")
        skipped = {
            int(e["index"]): decode_revert(bytes(e["reason"]))
            for e in s.abi["MeteredEscrow"].events["VoucherSkipped"].logs(sent.receipt, s.metered)
        }
        payments = iter(self._payments(sent))  # one VoucherCollected per voucher not skipped, in order
        return [
            CollectOutcome(
                index=i,
                voucher=voucher,
                payment=None if i in skipped else next(payments),
                error=skipped.get(i),
            )
            for i, (voucher, _) in enumerate(vouchers)
        ]

    # ───────────────────────── claiming ─────────────────────────

    def claimable(self, token: str | None = None) -> Decimal:
        """What this provider can claim from the MeteredEscrow in `token` (token units)."""
        info = self._s.token(token)
        raw = self._s.read("MeteredEscrow", self._s.metered, "claimable", self._s.address, info.address)
        return from_raw(raw, info.decimals)

    def claim(self, token: str | None = None) -> Payout:
        """Withdraw this provider's collected payments in `token`, in one transfer.

        Raises:
            NothingClaimable: nothing is claimable in `token` (nothing sent).
        """
        s = self._s
        info = s.token(token)
        if self.claimable(info.address) == 0:
            raise NothingClaimable(f"{s.address} has nothing claimable in {info.symbol} from the MeteredEscrow")
        data = s.abi["MeteredEscrow"]["claim"].encode(info.address)
        sent = s.tx.send(Call(s.metered, data, "claim"), label="claim")
        (event,) = s.abi["MeteredEscrow"].events["Claimed"].logs(sent.receipt, s.metered)
        return Payout(
            token=info, amount=from_raw(event["amount"], info.decimals), tx_hash=sent.tx_hash, source="metered"
        )

    # ───────────────────────── helpers ─────────────────────────

    def _check_provider(self, voucher: Voucher) -> None:
        if voucher.provider != self._s.address:
            raise NotAllowed(
                f"voucher of collection {voucher.collection_id} pays provider {voucher.provider}, not {self._s.address}"
            )

    def _account_request(self, voucher: Voucher) -> Any:
        return self._s.call("MeteredEscrow", self._s.metered, "account", voucher.payer, voucher.provider, voucher.token)

    def _collection_request(self, voucher: Voucher) -> Any:
        return self._s.call(
            "MeteredEscrow",
            self._s.metered,
            "collection",
            voucher.payer,
            voucher.provider,
            voucher.token,
            bytes.fromhex(voucher.collection_id[2:]),
        )

    def _payments(self, sent: SentTransaction) -> list[VoucherPayment]:
        s = self._s
        out = []
        for e in s.abi["MeteredEscrow"].events["VoucherCollected"].logs(sent.receipt, s.metered):
            info: TokenInfo = s.token(e["token"])

            def units(raw: int, decimals: int = info.decimals) -> Decimal:
                return from_raw(raw, decimals)

            out.append(
                VoucherPayment(
                    payer=e["payer"],
                    provider=e["provider"],
                    collection_id="0x" + bytes(e["collectionId"]).hex(),
                    token=info,
                    signer=e["signer"],
                    gross=units(e["gross"]),
                    provider_net=units(e["providerNet"]),
                    fee=units(e["fee"]),
                    collected=units(e["collected"]),
                    outstanding=units(e["outstanding"]),
                    request_count=e["requestCount"],
                    tx_hash=sent.tx_hash,
                )
            )
        return out


def _lockable(lock: Any, info: Any) -> int:
    """What ProviderStaking would let a collection lock now (its ``lockable``): free stake plus
    the metered locks a collection releases first, less any shortfall those pay. `lock` is
    ``stakeLock``'s and `info` ``providerInfo``'s tuple."""
    *_, releasable = lock
    _registered, _jailed, jailed_for_downtime, _left, _staked, _locked, free, _unbonding, _end, shortfall, *_ = info
    lockable = int(free) + int(releasable)
    return max(lockable - int(shortfall), 0) if jailed_for_downtime else lockable
