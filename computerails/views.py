"""Read-only views for dashboards: jobs, providers, balances, parameters, the oracle set.

Addresses passed in are checked by :func:`computerails.addresses.parse_address`: a mistyped
one (wrong EIP-55 checksum) raises :class:`~computerails.errors.InvalidAddress`."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from computerails.addresses import parse_address
from computerails.types import Job, JobStatus, ProviderStatus, TokenInfo, from_raw, utc

if TYPE_CHECKING:
    from computerails.rails import ComputeRails


class Views:
    """Reads only; works on a connection without an account."""

    def __init__(self, rails: "ComputeRails") -> None:
        self._r = rails

    # ── jobs ──
    def job(self, job_id: int, spec_hash: str | None = None) -> Job:
        """A job's current state. Raises ``KeyError`` for an id that was never created."""
        return self.job_from_view(self._r.read("JobEscrow", self._r.escrow.address, "job", job_id), spec_hash)

    def job_from_view(self, v: Any, spec_hash: str | None = None) -> Job:
        """A :class:`Job` from the escrow's ``job(id)`` struct (for callers that batch that read)."""
        (job_id, client, provider, token, unit_price, max_units, escrow, units, terms_id, fee_bps, collateral, deadline,
         accept_by, challenge_ends, dispute_ends, dispute_bond, status) = v
        status = JobStatus.from_int(status)
        if status is JobStatus.NONE:
            raise KeyError(f"job {job_id} does not exist")
        info = self._r.token(token)
        stake = self._r.staking_token
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

    def job_status(self, job_id: int) -> JobStatus:
        return JobStatus.from_int(self._r.read("JobEscrow", self._r.escrow.address, "jobStatus", job_id))

    def job_count(self) -> int:
        return int(self._r.read("JobEscrow", self._r.escrow.address, "jobCount"))

    def jobs(self, client: str | None = None, provider: str | None = None) -> list[Job]:
        """Jobs from JobCreated events since the deploy block, filtered by party, current state."""
        filters: dict[str, Any] = {}
        if client:
            filters["client"] = parse_address(client, "client")
        if provider:
            filters["provider"] = parse_address(provider, "provider")
        logs = self._r.escrow.events.JobCreated().get_logs(
            from_block=self._r.deployment.deploy_block, argument_filters=filters or None
        )
        return [self.job(log.args.jobId, spec_hash="0x" + bytes(log.args.specHash).hex()) for log in logs]

    # ── providers ──
    def provider(self, address: str) -> ProviderStatus:
        """Stake, locked collateral, unbonding, jail and what the provider can claim."""
        address = parse_address(address, "provider")
        staking = self._r.staking.address
        info, active = self._r.rpc.run([
            self._r.call("ProviderStaking", staking, "providerInfo", address),
            self._r.call("ProviderStaking", staking, "isActive", address),
        ])
        (registered, jailed, jailed_for_downtime, left, staked, locked, free, unbonding, unbonding_end, shortfall,
         sla_from, left_at, slashed, deposited, uri) = info
        d = self._r.staking_token.decimals
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
            claimable={k.symbol: v for k, v in self.claimable(address).items() if v},
        )

    # ── balances ──
    def claimable(self, account: str) -> dict[TokenInfo, Decimal]:
        """What `account` can withdraw: each payment token from the escrow, and the staking
        token from slash proceeds (escrow and staking claimables of the same token add up)."""
        account = parse_address(account, "account")
        out: dict[TokenInfo, Decimal] = {}
        for info, raw in self.claimable_raw(account).items():
            out[info] = out.get(info, Decimal(0)) + from_raw(sum(raw.values()), info.decimals)
        return out

    def claimable_raw(self, account: str) -> dict[TokenInfo, dict[str, int]]:
        """Raw claimable amounts: token -> {"escrow": n, "staking": n}."""
        account = parse_address(account, "account")
        escrow = self._r.escrow.address
        tokens = self.payment_tokens()
        stake = self._r.staking_token
        stake_is_payment = stake.address in {t.address for t in tokens}
        requests = [self._r.call("JobEscrow", escrow, "claimable", account, t.address) for t in tokens]
        requests.append(self._r.call("ProviderStaking", self._r.staking.address, "claimable", account))
        if not stake_is_payment:
            requests.append(self._r.call("JobEscrow", escrow, "claimable", account, stake.address))
        values = self._r.rpc.run(requests)
        out: dict[TokenInfo, dict[str, int]] = {}
        for token, raw in zip(tokens, values):
            out.setdefault(token, {})["escrow"] = raw
        out.setdefault(stake, {})["staking"] = values[len(tokens)]
        if not stake_is_payment:
            out[stake]["escrow"] = values[len(tokens) + 1]
        return out

    def wallet(self, account: str, token: str | None = None) -> Decimal:
        """Token balance of a wallet (default token: the first payment token)."""
        info = self._r.token(token)
        raw = self._r.read("ERC20Permit", info.address, "balanceOf", parse_address(account, "account"))
        return from_raw(raw, info.decimals)

    def balances(self, account: str) -> dict[str, dict[str, Decimal]]:
        """Wallet and claimable balances of every protocol token, by symbol."""
        claimable = self.claimable(account)
        tokens = self.payment_tokens() + [self._r.staking_token]
        return {t.symbol: {"wallet": self.wallet(account, t.address), "claimable": claimable.get(t, Decimal(0))} for t in tokens}

    # ── protocol ──
    def payment_tokens(self, fresh: bool = False) -> list[TokenInfo]:
        """Every payment token the escrow ever allowlisted (cached for the connection's
        ``cache_ttl``; ``fresh=True`` reads it now)."""
        escrow = self._r.escrow.address
        addresses = self._r.cached("paymentTokens", lambda: self._r.read("JobEscrow", escrow, "paymentTokens"), fresh=fresh)
        return [self._r.token(a) for a in addresses]

    def payment_token(self, token: str, fresh: bool = False) -> dict[str, Any]:
        """A token's allowlist entry (cached for the connection's ``cache_ttl``; ``fresh=True``
        reads it now)."""
        token = parse_address(token, "token")
        escrow = self._r.escrow.address
        tid, registered, allowed, rate = self._r.cached(
            ("paymentToken", token), lambda: self._r.read("JobEscrow", escrow, "paymentToken", token), fresh=fresh
        )
        return {"id": tid, "registered": registered, "allowed": allowed, "collateral_rate": rate}

    def params(self) -> dict[str, Any]:
        """Every governance parameter, raw, by contract."""
        e, s = self._r.escrow.functions, self._r.staking.functions
        u = self._r.slasher.functions.params().call()
        names = ("epoch_length", "statute_epochs", "sla_bps", "uptime_slash_bps", "uptime_slash_cap",
                 "relayer_reward_bps", "relayer_reward_cap")
        return {
            "escrow": {
                "fee_bps": e.feeBps().call(),
                "accept_window": e.acceptWindow().call(),
                "challenge_window": e.challengeWindow().call(),
                "dispute_timeout": e.disputeTimeout().call(),
                "max_job_duration": e.maxJobDuration().call(),
                "dispute_bond_bps": e.disputeBondBps().call(),
                "client_slash_share_bps": e.clientSlashShareBps().call(),
                "treasury": e.treasury().call(),
                "paused": e.paused().call(),
            },
            "staking": {
                "min_stake": s.minStake().call(),
                "unbonding_delay": s.unbondingDelay().call(),
                "treasury": s.treasury().call(),
            },
            "uptime": dict(zip(names, u)),
            "oracles": self.oracle_set(),
        }

    def oracle_set(self) -> dict[str, Any]:
        return {
            "oracles": list(self._r.hub.functions.oracles().call()),
            "threshold": int(self._r.hub.functions.threshold().call()),
            "config_version": int(self._r.hub.functions.configVersion().call()),
        }

    def current_epoch(self) -> int:
        return int(self._r.read("UptimeSlasher", self._r.slasher.address, "currentEpoch"))

    def is_reported(self, provider: str, epoch: int) -> bool:
        provider = parse_address(provider, "provider")
        return bool(self._r.read("UptimeSlasher", self._r.slasher.address, "isReported", provider, epoch))

    def totals(self) -> dict[str, Decimal]:
        """Protocol-wide stake figures, in staking-token units."""
        d = self._r.staking_token.decimals
        s = self._r.staking.functions
        return {
            "staked": from_raw(s.totalStaked().call(), d),
            "unbonding": from_raw(s.totalUnbonding().call(), d),
            "claimable": from_raw(s.totalClaimable().call(), d),
        }
