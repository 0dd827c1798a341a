"""What more than one role does (internal): read a job or a provider's status, list what an
account can claim, look up the payment-token allowlist, withdraw everything claimable, and let
an escrow pull tokens (approve, or sign an EIP-2612 permit).

Functions of a :class:`~computerails.session.Session`, so that the client, provider, oracle
and views modules share them without importing each other or the facade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedMessage

from computerails import eip712
from computerails._rpc import Rpc
from computerails.addresses import parse_address
from computerails.errors import InsufficientAllowance, InsufficientBalance
from computerails.session import ERC20, Session
from computerails.tx import Call, Sendable
from computerails.types import CLAIM_SOURCES, Job, JobStatus, Payout, ProviderStatus, TokenInfo, from_raw, utc
from computerails.vouchers import VoucherDomain

#: An EIP-2612 permit as the escrows take it: (deadline, v, r, s).
Permit = tuple[int, int, bytes, bytes]
#: Builds the call to send once the escrow can pull the tokens, given the permit if one was signed.
Build = Callable[[Permit | None], Sendable]

# ───────────────────────── jobs ─────────────────────────


def job(s: Session, job_id: int, spec_hash: str | None = None) -> Job:
    """A job's current state.

    Raises:
        KeyError: no job has this id.
    """
    return job_from_view(s, s.read("JobEscrow", s.escrow.address, "job", job_id), spec_hash)


def job_from_view(s: Session, v: Any, spec_hash: str | None = None) -> Job:
    """A :class:`Job` from the escrow's ``job(id)`` struct (for callers that batch that read).

    Raises:
        KeyError: the struct is that of a job that does not exist.
    """
    (
        job_id,
        client,
        provider,
        token,
        unit_price,
        max_units,
        escrow,
        units,
        terms_id,
        fee_bps,
        collateral,
        deadline,
        accept_by,
        challenge_ends,
        dispute_ends,
        dispute_bond,
        status,
    ) = v
    status = JobStatus.from_int(status)
    if status is JobStatus.NONE:
        raise KeyError(f"job {job_id} does not exist")
    info = s.token(token)
    stake = s.staking_token
    return Job(
        id=job_id,
        status=status,
        client=client,
        provider=provider,
        token=info,
        unit_price=from_raw(unit_price, info.decimals),
        max_units=max_units,
        escrow=from_raw(escrow, info.decimals),
        units=units,
        fee_bps=fee_bps,
        terms_id=terms_id,
        collateral=from_raw(collateral, stake.decimals),
        deadline=utc(deadline),
        accept_by=utc(accept_by) if accept_by else None,
        challenge_ends=utc(challenge_ends) if challenge_ends else None,
        dispute_ends=utc(dispute_ends) if dispute_ends else None,
        dispute_bond=from_raw(dispute_bond, info.decimals),
        spec_hash=spec_hash,
    )


def jobs(
    s: Session,
    client: str | None = None,
    provider: str | None = None,
    status: JobStatus | Iterable[JobStatus] | None = None,
) -> list[Job]:
    """Jobs from JobCreated events since the deploy block, filtered by party (indexed topics)
    and by current status, in their current state. The jobs' states are read in one batch.

    Raises:
        InvalidAddress: `client` or `provider` is mistyped or not an address.
    """
    filters: dict[str, Any] = {}
    if client:
        filters["client"] = parse_address(client, "client")
    if provider:
        filters["provider"] = parse_address(provider, "provider")
    logs = s.escrow.events.JobCreated().get_logs(from_block=s.deployment.deploy_block, argument_filters=filters or None)
    return jobs_by_id(s, {log.args.jobId: "0x" + bytes(log.args.specHash).hex() for log in logs}, status)


def jobs_by_id(
    s: Session, specs: dict[int, str | None], status: JobStatus | Iterable[JobStatus] | None = None
) -> list[Job]:
    """The jobs whose ids are the keys of `specs` (values: their spec hashes, if known), read in
    one batch, kept if their current status is in `status` (default: any).

    Raises:
        KeyError: an id that was never created.
    """
    wanted = None if status is None else ({status} if isinstance(status, JobStatus) else set(status))
    escrow = s.escrow.address
    ids = list(specs)
    views = s.rpc.run([s.call("JobEscrow", escrow, "job", i) for i in ids])  # batched by Rpc.run
    found = [job_from_view(s, v, specs[i]) for i, v in zip(ids, views)]
    return [j for j in found if wanted is None or j.status in wanted]


def spec_hash(s: Session, job_id: int) -> str | None:
    """The spec hash a job was created with, from its JobCreated event (None if not found)."""
    logs = s.escrow.events.JobCreated().get_logs(
        from_block=s.deployment.deploy_block, argument_filters={"jobId": job_id}
    )
    return "0x" + bytes(logs[0].args.specHash).hex() if logs else None


# ───────────────────────── providers ─────────────────────────


def provider_status(s: Session, address: str) -> ProviderStatus:
    """Stake, locked collateral, unbonding, jail and what the provider can claim.

    Raises:
        InvalidAddress: `address` is mistyped or not an address.
    """
    address = parse_address(address, "provider")
    staking = s.staking.address
    info, active = s.rpc.run(
        [
            s.call("ProviderStaking", staking, "providerInfo", address),
            s.call("ProviderStaking", staking, "isActive", address),
        ]
    )
    (
        registered,
        jailed,
        jailed_for_downtime,
        left,
        staked,
        locked,
        free,
        unbonding,
        unbonding_end,
        shortfall,
        sla_from,
        left_at,
        slashed,
        deposited,
        uri,
    ) = info
    d = s.staking_token.decimals
    return ProviderStatus(
        address=address,
        registered=registered,
        jailed=jailed,
        jailed_for_downtime=jailed_for_downtime,
        left=left,
        active=active,
        staked=from_raw(staked, d),
        locked=from_raw(locked, d),
        free=from_raw(free, d),
        unbonding=from_raw(unbonding, d),
        unbonding_end=utc(unbonding_end) if unbonding else None,
        shortfall=from_raw(shortfall, d),
        sla_from=utc(sla_from) if sla_from else None,
        left_at=utc(left_at) if left_at else None,
        total_slashed=from_raw(slashed, d),
        total_deposited=from_raw(deposited, d),
        metadata_uri=uri,
        claimable={k.symbol: v for k, v in claimable(s, address).items() if v},
    )


# ───────────────────────── balances ─────────────────────────


def claimable(s: Session, account: str) -> dict[TokenInfo, Decimal]:
    """What `account` can withdraw: each payment token from the job escrow and the MeteredEscrow,
    and the staking token from slash proceeds (balances of the same token add up)."""
    account = parse_address(account, "account")
    out: dict[TokenInfo, Decimal] = {}
    for info, raw in claimable_raw(s, account).items():
        out[info] = out.get(info, Decimal(0)) + from_raw(sum(raw.values()), info.decimals)
    return out


def claimable_raw(s: Session, account: str) -> dict[TokenInfo, dict[str, int]]:
    """Raw claimable amounts: token -> {"escrow": n, "staking": n, "metered": n} (a source that
    holds no such token is absent; so is "metered" on a deployment without a MeteredEscrow). One
    batched round trip."""
    account = parse_address(account, "account")
    escrow = s.escrow.address
    tokens = payment_tokens(s)
    stake = s.staking_token
    metered = s.deployment.contracts.get("MeteredEscrow")
    # Each read is the token it counts and the source it counts it under.
    reads = [(t, "escrow", s.call("JobEscrow", escrow, "claimable", account, t.address)) for t in tokens]
    reads.append((stake, "staking", s.call("ProviderStaking", s.staking.address, "claimable", account)))
    if stake.address not in {t.address for t in tokens}:
        reads.append((stake, "escrow", s.call("JobEscrow", escrow, "claimable", account, stake.address)))
    if metered:
        reads += [(t, "metered", s.call("MeteredEscrow", metered, "claimable", account, t.address)) for t in tokens]
    values = s.rpc.run([request for _, _, request in reads])
    out: dict[TokenInfo, dict[str, int]] = {}
    for (token, source, _), raw in zip(reads, values, strict=True):
        out.setdefault(token, {})[source] = raw
    return out


def claim_everything(s: Session) -> list[Payout]:
    """Withdraw every claimable balance of the session's account (any role): one transaction
    per escrow balance, one for the staking contract's slash proceeds, one per MeteredEscrow
    balance."""
    payouts = []
    for info, parts in claimable_raw(s, s.address).items():
        for source in CLAIM_SOURCES:
            if parts.get(source):
                payouts.append(claim_one(s, info, source, parts[source]))
    return payouts


def claim_one(s: Session, info: TokenInfo, source: str, raw: int) -> Payout:
    """Withdraw the session account's `raw` claimable units of `info` from `source` (one of
    :data:`CLAIM_SOURCES`): the job escrow's balance of that token, the staking contract's slash
    proceeds, or the MeteredEscrow's balance of that token."""
    if source == "escrow":
        sent = s.send(s.escrow.functions.withdraw(info.address), "withdraw")
    elif source == "staking":
        sent = s.send(s.staking.functions.claim(), "claim")
    elif source == "metered":
        sent = s.tx.send(Call(s.metered, s.abi["MeteredEscrow"]["claim"].encode(info.address), "claim"), label="claim")
    else:
        raise ValueError(f"source must be one of {', '.join(CLAIM_SOURCES)}, not {source!r}")
    return Payout(token=info, amount=from_raw(raw, info.decimals), tx_hash=sent.tx_hash, source=source)


# ───────────────────────── the payment-token allowlist ─────────────────────────


def payment_tokens(s: Session, fresh: bool = False) -> list[TokenInfo]:
    """Every payment token the escrow ever allowlisted (cached for the session's ``cache_ttl``;
    ``fresh=True`` reads it now)."""
    escrow = s.escrow.address
    addresses = s.cached("paymentTokens", lambda: s.read("JobEscrow", escrow, "paymentTokens"), fresh=fresh)
    return [s.token(a) for a in addresses]


def payment_token(s: Session, token: str, fresh: bool = False) -> dict[str, Any]:
    """A token's allowlist entry: id, registered, allowed, collateral rate (cached for the
    session's ``cache_ttl``; ``fresh=True`` reads it now)."""
    token = parse_address(token, "token")
    escrow = s.escrow.address
    tid, registered, allowed, rate = s.cached(
        ("paymentToken", token), lambda: s.read("JobEscrow", escrow, "paymentToken", token), fresh=fresh
    )
    return {"id": tid, "registered": registered, "allowed": allowed, "collateral_rate": rate}


# ───────────────────────── letting an escrow pull tokens ─────────────────────────


def check_balance(s: Session, info: TokenInfo, amount: int, balance: int) -> None:
    """Raise InsufficientBalance when the account's `balance` (raw) is below `amount` (raw)."""
    if balance < amount:
        raise InsufficientBalance(
            f"{s.address} holds {from_raw(balance, info.decimals)} {info.symbol}, "
            f"needs {from_raw(amount, info.decimals)}"
        )


def fund(s: Session, spender: str, info: TokenInfo, amount: int, payment: str, build: Build) -> Sendable:
    """Make sure `spender` can pull `amount` (raw) from the account; return the call to send
    (with a permit if one was signed).

    Raises:
        InsufficientBalance: the account holds less than `amount`.
        InsufficientAllowance: the allowance is short and `payment` is "none".
    """
    me = s.address
    balance, allowance = s.rpc.run(
        [s.call(ERC20, info.address, "balanceOf", me), s.call(ERC20, info.address, "allowance", me, spender)]
    )
    check_balance(s, info, amount, balance)
    if amount == 0 or allowance >= amount:
        return build(None)
    return fund_short(s, spender, info, amount, allowance, payment, build)


def fund_short(
    s: Session, spender: str, info: TokenInfo, amount: int, allowance: int, payment: str, build: Build
) -> Sendable:
    """The allowance of `spender` is short: permit, approve or refuse, as `payment` says
    ("auto": permit if the token supports it, else approve the exact amount; "permit";
    "approve"; "none")."""
    if payment in ("auto", "permit") and supports_permit(s, info.address):
        return build(permit(s, info, spender, amount))
    if payment in ("auto", "approve"):
        s.approve(info.address, spender, amount)
        return build(None)
    raise InsufficientAllowance(
        f"{spender} may pull {from_raw(allowance, info.decimals)} "
        f"{info.symbol} from {s.address} but needs {from_raw(amount, info.decimals)}: approve it or use payment='auto'"
    )


def supports_permit(s: Session, token: str) -> bool:
    """Whether the token has EIP-2612 permits: fixed by its code, so asked once per token."""

    def probe() -> bool:
        erc20 = s.abi[ERC20]
        try:
            s.rpc.run([Rpc.call(token, erc20["DOMAIN_SEPARATOR"]), Rpc.call(token, erc20["nonces"], "0x" + "00" * 20)])
            return True
        except Exception:  # no EIP-2612 on this token
            return False

    return bool(s.forever(("permit", token), probe))


def permit(s: Session, info: TokenInfo, spender: str, amount: int) -> Permit:
    """Sign an EIP-2612 permit letting `spender` pull `amount` (raw): returns (deadline, v, r, s)."""
    me = s.address
    erc20 = s.abi[ERC20]
    name, version, chain_id, verifying = s.forever(
        ("eip712Domain", info.address), lambda: s.read(ERC20, info.address, "eip712Domain")[1:5]
    )
    now, nonce = s.rpc.run([s.latest_time(), Rpc.call(info.address, erc20["nonces"], me)])
    deadline = now + 3_600
    typed = {
        "types": {
            "EIP712Domain": eip712.DOMAIN_FIELDS,
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying},
        "message": {"owner": me, "spender": spender, "value": amount, "nonce": nonce, "deadline": deadline},
    }
    signed: SignedMessage = Account.sign_typed_data(s.require_account().key, full_message=typed)
    return deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


# ───────────────────────── metered payments ─────────────────────────


def voucher_domain(s: Session) -> VoucherDomain:
    """The MeteredEscrow's EIP-712 domain on the session's chain (vouchers, signer proofs), built
    once per session.

    Raises:
        DeploymentError: the deployment records no MeteredEscrow.
    """
    return s.forever(("voucherDomain", s.metered), lambda: VoucherDomain(s.chain_id, s.metered))
