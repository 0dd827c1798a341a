"""The payer role of metered payments (issue 12): fund an escrow per provider, thaw and
withdraw it, authorize and revoke hot signer keys, meter requests and watch the runway.

A payer deposits into MeteredEscrow for one provider and token, authorizes a hot key (a
gateway's) with that key's consent proof, and signs one cumulative voucher per request with a
:class:`~computerails.vouchers.Meter` from :meth:`PayerAPI.meter`. :meth:`PayerAPI.runway`
compares the account's balance with what the meters signed and the provider has not collected.
See docs/METERED.md for the state machines this module checks before sending.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from eth_account.signers.local import LocalAccount

from computerails import shared
from computerails.addresses import parse_address
from computerails.errors import (
    InsufficientBalance,
    InvalidDeadline,
    InvalidKey,
    NotAllowed,
    PreconditionError,
    TooEarly,
)
from computerails.session import Session
from computerails.tx import Call, SentTransaction
from computerails.types import (
    Amount,
    EscrowAccount,
    Payout,
    Runway,
    SignerState,
    SignerStatus,
    TokenInfo,
    from_raw,
    to_raw,
    to_timestamp,
    utc,
)
from computerails.vouchers import Meter, VoucherDomain, VoucherSigner, keccak256

SIGNER_PROOF_TYPE = "SignerProof(address payer,address signer,uint256 deadline)"
SIGNER_PROOF_TYPEHASH = keccak256(SIGNER_PROOF_TYPE.encode())

#: What :meth:`PayerAPI.authorize_signer` and :meth:`PayerAPI.meter` take as a signer key.
SignerKey = LocalAccount | VoucherSigner | bytes | str


def signer_proof_digest(domain: VoucherDomain, payer: str, signer: str, deadline: int) -> bytes:
    """The EIP-712 digest of ``SignerProof(payer, signer, deadline)`` under the escrow's domain:
    what a signer key signs to consent to signing for `payer` (the contract's
    ``signerProofDigest``)."""
    struct = keccak256(
        SIGNER_PROOF_TYPEHASH
        + bytes(12)
        + bytes.fromhex(parse_address(payer, "payer")[2:])
        + bytes(12)
        + bytes.fromhex(parse_address(signer, "signer")[2:])
        + deadline.to_bytes(32, "big")
    )
    return keccak256(b"\x19\x01" + domain.separator + struct)


class PayerAPI:
    """What a payer's scripts or gateway do in the MeteredEscrow. Amounts are in the payment
    token's units (``Decimal("2.5")``) or ``Raw``; `token` defaults to the deployment's first
    payment token."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # ───────────────────────── the domain and meters ─────────────────────────

    @property
    def domain(self) -> VoucherDomain:
        """The escrow's EIP-712 domain on this chain (vouchers and signer proofs)."""
        return shared.voucher_domain(self._s)

    def meter(
        self,
        signer: SignerKey,
        provider: str,
        budget: Amount,
        *,
        token: str | None = None,
        collection_id: str | bytes | None = None,
        value_aggregate: int = 0,
        request_count: int = 0,
    ) -> Meter:
        """A :class:`~computerails.vouchers.Meter` for this payer and `provider`, bound to the
        deployment's chain and escrow, that refuses to sign past `budget`.

        Args:
            signer: the key that signs (this account's own, or a hot key authorized with
                :meth:`authorize_signer`).
            provider: who is paid.
            budget: the most the collection's value aggregate may reach (token units or Raw).
            token: the payment token.
            collection_id: resume a collection (default: a fresh random id).
            value_aggregate: resume from this value (raw units, as signed).
            request_count: resume from this count.

        Raises:
            InvalidKey: `signer` is not a private key.
            InvalidAmount: `budget` is negative or finer than the token's decimals.
        """
        info = self._s.token(token)
        return Meter(
            self._voucher_signer(signer),
            payer=self._s.address,
            provider=parse_address(provider, "provider"),
            token=info.address,
            budget=to_raw(budget, info.decimals),
            collection_id=collection_id,
            value_aggregate=value_aggregate,
            request_count=request_count,
        )

    # ───────────────────────── the escrow account ─────────────────────────

    def deposit(
        self, provider: str, amount: Amount, *, token: str | None = None, payment: str = "auto"
    ) -> EscrowAccount:
        """Add `amount` to this account's escrow for `provider` (timers unchanged).

        Args:
            provider: who may collect vouchers against the account.
            amount: token units or Raw; positive.
            token: an allowlisted payment token.
            payment: "auto" (permit if the token supports it, else approve the exact amount),
                "permit", "approve", or "none" (require an existing allowance).

        Raises:
            InsufficientBalance, InsufficientAllowance, PreconditionError: before anything is sent.
            ContractRevert: the escrow refused (``EnforcedPause`` ...).
        """
        provider = parse_address(provider, "provider")
        info, raw = self._checked_deposit(amount, token)
        metered = self._s.metered
        codec = self._s.abi["MeteredEscrow"]

        def build(permit: shared.Permit | None) -> Call:
            if permit is None:
                return Call(metered, codec["deposit"].encode(provider, info.address, raw), "deposit")
            data = codec["depositWithPermit"].encode(provider, info.address, raw, *permit)
            return Call(metered, data, "depositWithPermit")

        self._s.send(shared.fund(self._s, metered, info, raw, payment, build), "deposit")
        return self.account(provider, token=info.address)

    def deposit_for(self, payer: str, provider: str, amount: Amount, *, token: str | None = None) -> EscrowAccount:
        """Fund `payer`'s account for `provider` from this account's tokens (approving them):
        the payer owns the deposit; none of its timers change."""
        payer = parse_address(payer, "payer")
        provider = parse_address(provider, "provider")
        info, raw = self._checked_deposit(amount, token)
        metered = self._s.metered
        data = self._s.abi["MeteredEscrow"]["depositFor"].encode(payer, provider, info.address, raw)
        call = Call(metered, data, "depositFor")
        self._s.send(shared.fund(self._s, metered, info, raw, "approve", lambda _permit: call), "depositFor")
        return self.account(provider, token=info.address, payer=payer)

    def thaw(self, provider: str, amount: Amount, *, token: str | None = None) -> EscrowAccount:
        """Start thawing `amount` for withdrawal after the thaw period, replacing any thaw in
        progress (its clock restarts). Collections keep drawing on the whole balance meanwhile.

        Raises:
            InsufficientBalance: `amount` exceeds the account's balance.
            PreconditionError: `amount` is zero (use :meth:`cancel_thaw`).
        """
        provider = parse_address(provider, "provider")
        account = self.account(provider, token=token)
        info = account.token
        raw = to_raw(amount, info.decimals)
        if raw == 0:
            raise PreconditionError("thaw amount must be positive", sdk="cancel a thaw with payer.cancel_thaw()")
        if raw > to_raw(account.balance, info.decimals):
            raise InsufficientBalance(
                f"cannot thaw {from_raw(raw, info.decimals)} {info.symbol}: the escrow for {provider} holds "
                f"{account.balance} {info.symbol}"
            )
        self._send("thaw", provider, info.address, raw)
        return self.account(provider, token=info.address)

    def cancel_thaw(self, provider: str, *, token: str | None = None) -> EscrowAccount:
        """Stop the running thaw: the whole balance stays in the escrow.

        Raises:
            PreconditionError: no thaw is running.
        """
        provider = parse_address(provider, "provider")
        account = self.account(provider, token=token)
        if account.thaw_end is None:
            raise PreconditionError(f"no thaw is running on the escrow for {provider}")
        self._send("thaw", provider, account.token.address, 0)
        return self.account(provider, token=account.token.address)

    def withdraw(self, provider: str, *, token: str | None = None) -> Payout:
        """Withdraw what has thawed (as collections left it) once the thaw period ended.

        Returns:
            What was paid, read from the EscrowWithdrawn event.

        Raises:
            PreconditionError: nothing is thawing.
            TooEarly: the thaw ends later.
        """
        provider = parse_address(provider, "provider")
        account = self.account(provider, token=token)
        if account.thawing == 0:
            raise PreconditionError(
                f"nothing is thawing on the escrow for {provider}",
                sdk="start with payer.thaw(provider, amount)",
                cli=f"start with `computerails meter thaw --provider {provider} AMOUNT`",
            )
        assert account.thaw_end is not None
        if self._s.now() < int(account.thaw_end.timestamp()):
            raise TooEarly(f"the thaw ends at {account.thaw_end.isoformat()}; withdraw after that")
        sent = self._send("withdraw", provider, account.token.address)
        (event,) = self._s.abi["MeteredEscrow"].events["EscrowWithdrawn"].logs(sent.receipt, self._s.metered)
        info = account.token
        return Payout(
            token=info, amount=from_raw(event["amount"], info.decimals), tx_hash=sent.tx_hash, source="metered"
        )

    def account(self, provider: str, *, token: str | None = None, payer: str | None = None) -> EscrowAccount:
        """This payer's (or `payer`'s) escrow account for `provider` in `token`."""
        info = self._s.token(token)
        payer = parse_address(payer, "payer") if payer else self._s.address
        provider = parse_address(provider, "provider")
        view = self._s.read("MeteredEscrow", self._s.metered, "account", payer, provider, info.address)
        return EscrowAccount.from_view(payer, provider, info, view)

    def runway(
        self, provider: str, meters: Iterable[Meter] = (), *, token: str | None = None, payer: str | None = None
    ) -> Runway:
        """The account's balance against what `meters` signed and the escrow has not paid yet
        (their value aggregates less each collection's ``collected``), in one round trip.

        Raises:
            PreconditionError: a meter is for another payer, provider or token.
        """
        s = self._s
        info = s.token(token)
        payer = parse_address(payer, "payer") if payer else s.address
        provider = parse_address(provider, "provider")
        meters = list(meters)
        for m in meters:
            latest = m.latest
            if (latest.payer, latest.provider, latest.token) != (payer, provider, info.address):
                raise PreconditionError(
                    f"meter of collection {m.collection_id} is for payer {latest.payer}, provider {latest.provider} "
                    f"in {latest.token}, not this account"
                )
        view, *collections = s.rpc.run(
            [s.call("MeteredEscrow", s.metered, "account", payer, provider, info.address)]
            + [
                s.call(
                    "MeteredEscrow",
                    s.metered,
                    "collection",
                    payer,
                    provider,
                    info.address,
                    bytes.fromhex(m.collection_id[2:]),
                )
                for m in meters
            ]
        )
        account = EscrowAccount.from_view(payer, provider, info, view)
        owed = {m.collection_id: max(m.value_aggregate - c[0], 0) for m, c in zip(meters, collections)}
        outstanding = from_raw(sum(owed.values()), info.decimals)
        return Runway(
            account=account,
            outstanding=outstanding,
            available=account.balance - outstanding,
            collections={cid: from_raw(v, info.decimals) for cid, v in owed.items()},
        )

    # ───────────────────────── signers ─────────────────────────

    def signer_proof(self, signer: SignerKey, deadline: int) -> bytes:
        """The signer key's consent to sign for this payer until `deadline` (unix seconds):
        its 65-byte signature of ``SignerProof(payer, signer, deadline)``."""
        key = self._voucher_signer(signer)
        return key.sign_digest(signer_proof_digest(self.domain, self._s.address, key.address, deadline))

    def authorize_signer(
        self, signer: SignerKey, *, deadline: datetime | timedelta | int = timedelta(hours=1)
    ) -> SignerStatus:
        """Let `signer` (the hot key itself: it signs its consent proof) sign vouchers for this
        payer, for life: a key once authorized can never serve another payer.

        Args:
            signer: the hot key.
            deadline: how long the consent proof stays valid: a timedelta from the chain's
                now, an aware datetime or unix seconds.

        Raises:
            NotAllowed: the key is already authorized (for this payer or another).
            InvalidDeadline: the deadline is not in the future.
        """
        key = self._voucher_signer(signer)
        status, now = self.signer(key.address), self._s.now()
        if status.payer is not None:
            raise NotAllowed(f"signer {key.address} already signs for payer {status.payer} ({status.state.value})")
        ts = now + int(deadline.total_seconds()) if isinstance(deadline, timedelta) else to_timestamp(deadline)
        if ts < now:
            raise InvalidDeadline(f"the proof's deadline {utc(ts).isoformat()} has passed")
        proof = key.sign_digest(signer_proof_digest(self.domain, self._s.address, key.address, ts))
        self._send("authorizeSigner", key.address, ts, proof)
        return self.signer(key.address)

    def thaw_signer(self, signer: str) -> SignerStatus:
        """Start the signer's thawing period (restarts it if running): its vouchers keep paying
        until :meth:`revoke_signer`, which becomes possible at the returned ``thaw_end``."""
        status = self._own_signer(signer)
        self._send("thawSigner", status.signer)
        return self.signer(status.signer)

    def cancel_signer_thaw(self, signer: str) -> SignerStatus:
        """Stop a signer's thaw: it stays authorized."""
        status = self._own_signer(signer)
        if status.state is not SignerState.THAWING:
            raise PreconditionError(f"signer {status.signer} is not thawing")
        self._send("cancelSignerThaw", status.signer)
        return self.signer(status.signer)

    def revoke_signer(self, signer: str) -> SignerStatus:
        """Revoke a thawed signer for good: from now on its vouchers pay nothing.

        Raises:
            PreconditionError: the signer is not thawing.
            TooEarly: its thaw ends later.
        """
        status = self._own_signer(signer)
        if status.state is not SignerState.THAWING or status.thaw_end is None:
            raise PreconditionError(
                f"signer {status.signer} must thaw before it can be revoked",
                sdk=f"payer.thaw_signer('{status.signer}') first",
                cli=f"run `computerails meter signer thaw {status.signer}` first",
            )
        if self._s.now() < int(status.thaw_end.timestamp()):
            raise TooEarly(f"signer {status.signer} thaws until {status.thaw_end.isoformat()}; revoke after that")
        self._send("revokeSigner", status.signer)
        return self.signer(status.signer)

    def signer(self, signer: str) -> SignerStatus:
        """Who a signer key signs for and where it stands."""
        address = parse_address(signer, "signer")
        payer, thaw_end, revoked = self._s.read("MeteredEscrow", self._s.metered, "signerInfo", address)
        return SignerStatus.from_view(address, payer, thaw_end, revoked)

    # ───────────────────────── helpers ─────────────────────────

    def _voucher_signer(self, signer: SignerKey) -> VoucherSigner:
        if isinstance(signer, VoucherSigner):
            if signer.domain.separator != self.domain.separator:
                raise InvalidKey(f"the signer is bound to {signer.domain!r}, not this deployment's escrow")
            return signer
        if isinstance(signer, LocalAccount):
            return VoucherSigner(self.domain, bytes(signer.key))
        return VoucherSigner(self.domain, signer)

    def _own_signer(self, signer: str) -> SignerStatus:
        status = self.signer(signer)
        me = self._s.address
        if status.payer != me:
            who = f"payer {status.payer}" if status.payer else "no payer"
            raise NotAllowed(f"signer {status.signer} signs for {who}, not {me}")
        if status.state is SignerState.REVOKED:
            raise PreconditionError(f"signer {status.signer} is already revoked")
        return status

    def _checked_deposit(self, amount: Amount, token: str | None) -> tuple[TokenInfo, int]:
        info = self._s.token(token)
        raw = to_raw(amount, info.decimals)
        if raw == 0:
            raise PreconditionError("deposit amount must be positive")
        allowed = self._s.read("MeteredEscrow", self._s.metered, "paymentTokenAllowed", info.address)
        if not allowed:
            raise PreconditionError(f"token {info.address} is not an allowed payment token of the MeteredEscrow")
        return info, raw

    def _send(self, fn: str, *args: object) -> SentTransaction:
        data = self._s.abi["MeteredEscrow"][fn].encode(*args)
        return self._s.tx.send(Call(self._s.metered, data, fn), label=fn)
