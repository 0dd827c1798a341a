"""Read-only views for dashboards: jobs, providers, balances, parameters, the oracle set."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

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
        v = self._r.escrow.functions.job(job_id).call()
        (_id, client, provider, token, unit_price, max_units, escrow, units, fee_bps, collateral, deadline,
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
            collateral=from_raw(collateral, stake.decimals),
            deadline=utc(deadline),
            accept_by=utc(accept_by) if accept_by else None,
            challenge_ends=utc(challenge_ends) if challenge_ends else None,
            dispute_ends=utc(dispute_ends) if dispute_ends else None,
            dispute_bond=from_raw(dispute_bond, info.decimals),
            spec_hash=spec_hash,
        )

    def job_status(self, job_id: int) -> JobStatus:
        return JobStatus.from_int(self._r.escrow.functions.jobStatus(job_id).call())

    def job_count(self) -> int:
        return int(self._r.escrow.functions.jobCount().call())

    def jobs(self, client: str | None = None, provider: str | None = None) -> list[Job]:
        """Jobs from JobCreated events since the deploy block, filtered by party, current state."""
        filters: dict[str, Any] = {}
        if client:
            filters["client"] = to_checksum_address(client)
        if provider:
            filters["provider"] = to_checksum_address(provider)
        logs = self._r.escrow.events.JobCreated().get_logs(
            from_block=self._r.deployment.deploy_block, argument_filters=filters or None
        )
        return [self.job(log.args.jobId, spec_hash="0x" + bytes(log.args.specHash).hex()) for log in logs]

    # ── providers ──
    def provider(self, address: str) -> ProviderStatus:
        """Stake, locked collateral, unbonding, jail and what the provider can claim."""
        address = to_checksum_address(address)
        (registered, jailed, staked, locked, free, unbonding, unbonding_end, slashed, deposited, uri) = (
            self._r.staking.functions.providerInfo(address).call()
        )
        active = self._r.staking.functions.isActive(address).call()
        d = self._r.staking_token.decimals
        return ProviderStatus(
            address=address,
            registered=registered,
            jailed=jailed,
            active=active,
            staked=from_raw(staked, d),
            locked=from_raw(locked, d),
            free=from_raw(free, d),
            unbonding=from_raw(unbonding, d),
            unbonding_end=utc(unbonding_end) if unbonding else None,
            total_slashed=from_raw(slashed, d),
            total_deposited=from_raw(deposited, d),
            metadata_uri=uri,
            claimable={k.symbol: v for k, v in self.claimable(address).items() if v},
        )

    # ── balances ──
    def claimable(self, account: str) -> dict[TokenInfo, Decimal]:
        """What `account` can withdraw: each payment token from the escrow, and the staking
        token from slash proceeds (escrow and staking claimables of the same token add up)."""
        account = to_checksum_address(account)
        out: dict[TokenInfo, Decimal] = {}
        for info, raw in self.claimable_raw(account).items():
            out[info] = out.get(info, Decimal(0)) + from_raw(sum(raw.values()), info.decimals)
        return out

    def claimable_raw(self, account: str) -> dict[TokenInfo, dict[str, int]]:
        """Raw claimable amounts: token -> {"escrow": n, "staking": n}."""
        account = to_checksum_address(account)
        out: dict[TokenInfo, dict[str, int]] = {}
        for token in self.payment_tokens():
            out.setdefault(token, {})["escrow"] = self._r.escrow.functions.claimable(account, token.address).call()
        stake = self._r.staking_token
        out.setdefault(stake, {})["staking"] = self._r.staking.functions.claimable(account).call()
        if stake.address not in {t.address for t in self.payment_tokens()}:
            out[stake]["escrow"] = self._r.escrow.functions.claimable(account, stake.address).call()
        return out

    def wallet(self, account: str, token: str | None = None) -> Decimal:
        """Token balance of a wallet (default token: the first payment token)."""
        info = self._r.token(token)
        raw = self._r.erc20(info.address).functions.balanceOf(to_checksum_address(account)).call()
        return from_raw(raw, info.decimals)

    def balances(self, account: str) -> dict[str, dict[str, Decimal]]:
        """Wallet and claimable balances of every protocol token, by symbol."""
        claimable = self.claimable(account)
        tokens = self.payment_tokens() + [self._r.staking_token]
        return {t.symbol: {"wallet": self.wallet(account, t.address), "claimable": claimable.get(t, Decimal(0))} for t in tokens}

    # ── protocol ──
    def payment_tokens(self) -> list[TokenInfo]:
        """Every payment token the escrow ever allowlisted."""
        return [self._r.token(a) for a in self._r.escrow.functions.paymentTokens().call()]

    def payment_token(self, token: str) -> dict[str, Any]:
        tid, registered, allowed, rate = self._r.escrow.functions.paymentToken(to_checksum_address(token)).call()
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
        }

    def current_epoch(self) -> int:
        return int(self._r.slasher.functions.currentEpoch().call())

    def is_reported(self, provider: str, epoch: int) -> bool:
        return bool(self._r.slasher.functions.isReported(to_checksum_address(provider), epoch).call())

    def totals(self) -> dict[str, Decimal]:
        """Protocol-wide stake figures, in staking-token units."""
        d = self._r.staking_token.decimals
        s = self._r.staking.functions
        return {
            "staked": from_raw(s.totalStaked().call(), d),
            "unbonding": from_raw(s.totalUnbonding().call(), d),
            "claimable": from_raw(s.totalClaimable().call(), d),
        }
