"""The provider-operator role: register, stake, unbond, accept jobs, unjail and claim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from computerails.errors import (
    InsufficientBalance,
    InsufficientStake,
    NotAllowed,
    PreconditionError,
    ProviderJailed,
    TooEarly,
    WrongJobState,
)
from computerails.tx import Call
from computerails.types import Amount, Job, JobStatus, Payout, ProviderStatus, from_raw, to_raw

if TYPE_CHECKING:
    from computerails.rails import ComputeRails


class ProviderAPI:
    """What a provider operator's scripts do. Amounts are in staking-token units."""

    def __init__(self, rails: "ComputeRails") -> None:
        self._r = rails

    def register(self, metadata_uri: str, stake: Amount) -> ProviderStatus:
        """Register with a metadata URI and a first stake of at least the minimum."""
        me = self._r.address
        info = self._r.staking_token
        raw = to_raw(stake, info.decimals)
        if self._r.read("ProviderStaking", self._r.staking.address, "isRegistered", me):
            raise PreconditionError(f"{me} is already registered; use stake() to add more")
        minimum = self._min_stake()
        if raw < max(minimum, 1):
            minimum = self._min_stake(fresh=True)  # never refuse on a cached minimum
        if raw < max(minimum, 1):
            raise InsufficientStake(
                f"the first stake must be at least {from_raw(max(minimum, 1), info.decimals)} {info.symbol}"
            )
        self._approve_stake(raw)
        self._r.send(self._r.staking.functions.register(metadata_uri, raw), "register")
        return self.status()

    def stake(self, amount: Amount) -> ProviderStatus:
        """Add stake (also while jailed)."""
        raw = to_raw(amount, self._r.staking_token.decimals)
        self._require_registered()
        if raw == 0:
            raise PreconditionError("stake amount must be positive")
        self._approve_stake(raw)
        self._r.send(self._r.staking.functions.addStake(raw), "addStake")
        return self.status()

    def request_unbond(self, amount: Amount) -> ProviderStatus:
        """Move free stake into unbonding; it stays slashable until withdrawn after the delay.

        A new request adds to any pending unbond and restarts the delay for the whole amount.
        """
        info = self._r.staking_token
        raw = to_raw(amount, info.decimals)
        status = self.status()
        if not status.registered:
            raise NotAllowed(f"{status.address} is not a registered provider")
        if status.shortfall:
            raise InsufficientStake(f"{status.address} owes an uptime slash of {status.shortfall} {info.symbol}: "
                                    "stake() that much first; nothing can unbond until it is paid")
        free = to_raw(status.free, info.decimals)
        if raw == 0 or raw > free:
            raise InsufficientStake(f"can unbond up to {status.free} {info.symbol} of free stake, asked {from_raw(raw, info.decimals)}")
        self._r.send(self._r.staking.functions.requestUnbond(raw), "requestUnbond")
        return self.status()

    def withdraw_unbonded(self) -> Payout:
        """Withdraw unbonded stake once the delay has passed."""
        status = self.status()
        if status.unbonding == 0:
            raise PreconditionError("nothing is unbonding")
        assert status.unbonding_end is not None
        if self._r.now() < int(status.unbonding_end.timestamp()):
            raise TooEarly(f"unbonding ends at {status.unbonding_end.isoformat()}; withdraw after that")
        sent = self._r.send(self._r.staking.functions.withdrawUnbonded(), "withdrawUnbonded")
        return Payout(token=self._r.staking_token, amount=status.unbonding, tx_hash=sent.tx_hash, source="staking")

    def accept(self, job_id: int) -> Job:
        """Accept a job addressed to this provider, locking its collateral."""
        r = self._r
        me = r.address
        escrow, staking = r.escrow.address, r.staking.address
        view, now, info = r.rpc.run([
            r.call("JobEscrow", escrow, "job", job_id), r.latest_time(), r.call("ProviderStaking", staking, "providerInfo", me),
        ])
        job = r.views.job_from_view(view)
        if job.provider != me:
            raise NotAllowed(f"job {job_id} is for provider {job.provider}, not {me}")
        if job.status is not JobStatus.OPEN:
            raise WrongJobState(f"job {job_id} is {job.status.value}; only open jobs can be accepted")
        if job.accept_by and now > int(job.accept_by.timestamp()):
            raise WrongJobState(f"job {job_id}'s accept window closed at {job.accept_by.isoformat()}")
        jailed, left, free = info[1], info[3], info[6]
        if jailed:
            raise ProviderJailed(f"{me} is jailed: top up to the minimum stake and call unjail() first")
        if left:
            raise NotAllowed(f"{me} has left the network and takes no new jobs")
        stake = r.staking_token
        call = Call(escrow, r.abi["JobEscrow"]["accept"].encode(job_id), "accept")
        simulation = r.tx.simulation(call.address, call.data)
        collateral, simulated = r.rpc.run([
            r.call("JobEscrow", escrow, "collateralFor", job.token.address, view[6]), simulation.request,
        ])
        if collateral > free:
            raise InsufficientStake(
                f"job {job_id} needs {from_raw(collateral, stake.decimals)} {stake.symbol} of collateral, "
                f"{from_raw(free, stake.decimals)} is free: add stake or wait for running jobs to end"
            )
        r.tx.send(call, label="accept", gas=simulation.gas_limit(simulated))
        return r.views.job(job_id)

    def unjail(self) -> ProviderStatus:
        """Leave jail once active stake is back to the minimum."""
        status = self.status()
        if not status.jailed:
            raise PreconditionError(f"{status.address} is not jailed")
        info = self._r.staking_token
        if status.shortfall:
            raise InsufficientStake(f"{status.address} owes an uptime slash of {status.shortfall} {info.symbol}: "
                                    "stake() that much first, then unjail")
        minimum = self._min_stake()
        if to_raw(status.staked, info.decimals) < minimum:
            minimum = self._min_stake(fresh=True)  # never refuse on a cached minimum
        if to_raw(status.staked, info.decimals) < minimum:
            raise InsufficientStake(
                f"stake is {status.staked} {info.symbol}; top up to {from_raw(minimum, info.decimals)} before unjailing"
            )
        self._r.send(self._r.staking.functions.unjail(), "unjail")
        return self.status()

    def leave(self) -> ProviderStatus:
        """Stop taking new jobs for good. The uptime SLA ends with the current epoch (misses
        before stay slashable within the reporting window); live jobs run to their end and stake
        unbonds as usual with :meth:`request_unbond`."""
        status = self.status()
        if not status.registered:
            raise NotAllowed(f"{status.address} is not a registered provider")
        if status.left:
            raise PreconditionError(f"{status.address} has already left")
        self._r.send(self._r.staking.functions.leave(), "leave")
        return self.status()

    def claim_rewards(self) -> list[Payout]:
        """Withdraw everything claimable, one transaction per token that has a balance.

        Escrow balances (payments, refunds, bonds) are withdrawn per payment token; slash
        proceeds in the staking token are claimed from the staking contract. Returns what was
        paid; an empty list means there was nothing to claim.
        """
        return claim_everything(self._r)

    def status(self, address: str | None = None) -> ProviderStatus:
        """Stake, locked, unbonding, jailed and claimable of this provider (or another)."""
        return self._r.views.provider(address or self._r.address)

    # ── helpers ──
    def _min_stake(self, fresh: bool = False) -> int:
        staking = self._r.staking.address
        return int(self._r.cached("minStake", lambda: self._r.read("ProviderStaking", staking, "minStake"), fresh=fresh))

    def _require_registered(self) -> None:
        me = self._r.address
        if not self._r.read("ProviderStaking", self._r.staking.address, "isRegistered", me):
            raise NotAllowed(f"{me} is not a registered provider: register() first")

    def _approve_stake(self, raw: int) -> None:
        me = self._r.address
        info = self._r.staking_token
        staking = self._r.staking.address
        balance, allowance = self._r.rpc.run([
            self._r.call("ERC20Permit", info.address, "balanceOf", me),
            self._r.call("ERC20Permit", info.address, "allowance", me, staking),
        ])
        if balance < raw:
            raise InsufficientBalance(f"{me} holds {from_raw(balance, info.decimals)} {info.symbol}, needs {from_raw(raw, info.decimals)}")
        if allowance < raw:
            self._r.send(self._r.erc20(info.address).functions.approve(staking, raw), "approve")


def claim_everything(rails: "ComputeRails") -> list[Payout]:
    """Withdraw every claimable balance of the connection's account (any role)."""
    me = rails.address
    payouts = []
    for info, parts in rails.views.claimable_raw(me).items():
        if parts.get("escrow"):
            sent = rails.send(rails.escrow.functions.withdraw(info.address), "withdraw")
            payouts.append(Payout(token=info, amount=from_raw(parts["escrow"], info.decimals), tx_hash=sent.tx_hash, source="escrow"))
        if parts.get("staking"):
            sent = rails.send(rails.staking.functions.claim(), "claim")
            payouts.append(Payout(token=info, amount=from_raw(parts["staking"], info.decimals), tx_hash=sent.tx_hash, source="staking"))
    return payouts
