"""The provider-operator role: register, stake, unbond, accept jobs, unjail and claim."""

from __future__ import annotations

from collections.abc import Callable

from computerails import shared
from computerails.addresses import parse_address
from computerails.errors import (
    InsufficientBalance,
    InsufficientStake,
    NotAllowed,
    NothingClaimable,
    PreconditionError,
    ProviderJailed,
    TooEarly,
    WrongJobState,
)
from computerails.rewards.distributor import RewardsDistributor, RewardsSource
from computerails.session import ERC20, Session
from computerails.tx import Call
from computerails.types import Amount, Job, JobStatus, Payout, ProviderStatus, from_raw, to_raw


class ProviderAPI:
    """What a provider operator's scripts do. Amounts are in staking-token units."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def register(self, metadata_uri: str, stake: Amount) -> ProviderStatus:
        """Register with a metadata URI and a first stake of at least the minimum."""
        me = self._s.address
        info = self._s.staking_token
        raw = to_raw(stake, info.decimals)
        if self._s.read("ProviderStaking", self._s.staking.address, "isRegistered", me):
            raise PreconditionError(
                f"{me} is already registered",
                sdk="add stake with provider.stake()",
                cli="add stake with `computerails provider stake AMOUNT`",
            )
        minimum = self._min_stake()
        if raw < max(minimum, 1):
            minimum = self._min_stake(fresh=True)  # never refuse on a cached minimum
        if raw < max(minimum, 1):
            raise InsufficientStake(
                f"the first stake must be at least {from_raw(max(minimum, 1), info.decimals)} {info.symbol}"
            )
        self._approve_stake(raw)
        self._s.send(self._s.staking.functions.register(metadata_uri, raw), "register")
        return self.status()

    def stake(self, amount: Amount) -> ProviderStatus:
        """Add stake (also while jailed)."""
        raw = to_raw(amount, self._s.staking_token.decimals)
        self._require_registered()
        if raw == 0:
            raise PreconditionError("stake amount must be positive")
        self._approve_stake(raw)
        self._s.send(self._s.staking.functions.addStake(raw), "addStake")
        return self.status()

    def request_unbond(self, amount: Amount) -> ProviderStatus:
        """Move free stake into unbonding; it stays slashable until withdrawn after the delay.

        A new request adds to any pending unbond and restarts the delay for the whole amount.

        Raises:
            NotAllowed: the account is not a registered provider.
            InsufficientStake: more than the free stake, nothing, or an uptime slash is owed.
        """
        raw = self.check_unbond(amount)
        self._s.send(self._s.staking.functions.requestUnbond(raw), "requestUnbond")
        return self.status()

    def check_unbond(self, amount: Amount) -> int:
        """The checks of :meth:`request_unbond` alone (nothing is sent): returns the amount in
        raw units, or raises what :meth:`request_unbond` would."""
        info = self._s.staking_token
        raw = to_raw(amount, info.decimals)
        status = self.status()
        if not status.registered:
            raise NotAllowed(f"{status.address} is not a registered provider")
        if status.shortfall:
            raise InsufficientStake(
                f"{status.address} owes an uptime slash of {status.shortfall} {info.symbol}; "
                "nothing can unbond until it is paid",
                sdk="add that much with provider.stake() first",
                cli="add that much with `computerails provider stake AMOUNT` first",
            )
        free = to_raw(status.free, info.decimals)
        if raw == 0 or raw > free:
            raise InsufficientStake(
                f"can unbond up to {status.free} {info.symbol} of free stake, asked "
                f"{from_raw(raw, info.decimals)} {info.symbol}"
            )
        return raw

    def withdraw_unbonded(self) -> Payout:
        """Withdraw unbonded stake once the delay has passed."""
        status = self.status()
        if status.unbonding == 0:
            raise PreconditionError("nothing is unbonding")
        assert status.unbonding_end is not None
        if self._s.now() < int(status.unbonding_end.timestamp()):
            raise TooEarly(f"unbonding ends at {status.unbonding_end.isoformat()}; withdraw after that")
        sent = self._s.send(self._s.staking.functions.withdrawUnbonded(), "withdrawUnbonded")
        return Payout(token=self._s.staking_token, amount=status.unbonding, tx_hash=sent.tx_hash, source="staking")

    def accept(self, job_id: int, *, on_signed: Callable[[str, int], None] | None = None) -> Job:
        """Accept a job addressed to this provider, locking its collateral.

        Args:
            job_id: the job.
            on_signed: called with the accept transaction's hash and nonce after signing and
                before broadcasting (see :meth:`~computerails.tx.TxManager.send`): the provider
                agent journals them there, so a restart knows whether an accept may be in flight.
        """
        s = self._s
        me = s.address
        escrow, staking = s.escrow.address, s.staking.address
        view, now, info = s.rpc.run(
            [
                s.call("JobEscrow", escrow, "job", job_id),
                s.latest_time(),
                s.call("ProviderStaking", staking, "providerInfo", me),
            ]
        )
        job = shared.job_from_view(s, view)
        if job.provider != me:
            raise NotAllowed(f"job {job_id} is for provider {job.provider}, not {me}")
        if job.status is not JobStatus.OPEN:
            raise WrongJobState(f"job {job_id} is {job.status.value}; only open jobs can be accepted")
        if job.accept_by and now > int(job.accept_by.timestamp()):
            raise WrongJobState(f"job {job_id}'s accept window closed at {job.accept_by.isoformat()}")
        jailed, left, free = info[1], info[3], info[6]
        if jailed:
            raise ProviderJailed(
                f"{me} is jailed",
                sdk="top up to the minimum stake with provider.stake(), then provider.unjail()",
                cli="top up with `computerails provider stake AMOUNT`, then run `computerails provider unjail`",
            )
        if left:
            raise NotAllowed(f"{me} has left the network and takes no new jobs")
        stake = s.staking_token
        call = Call(escrow, s.abi["JobEscrow"]["accept"].encode(job_id), "accept")
        simulation = s.tx.simulation(call.address, call.data)
        collateral, simulated = s.rpc.run(
            [
                s.call("JobEscrow", escrow, "collateralFor", job.token.address, view[6]),
                simulation.request,
            ]
        )
        if collateral > free:
            raise InsufficientStake(
                f"job {job_id} needs {from_raw(collateral, stake.decimals)} {stake.symbol} of collateral, "
                f"{from_raw(free, stake.decimals)} {stake.symbol} is free: add stake or wait for running jobs to end"
            )
        s.tx.send(call, label="accept", gas=simulation.gas_limit(simulated), on_signed=on_signed)
        return shared.job(s, job_id)

    def unjail(self) -> ProviderStatus:
        """Leave jail once active stake is back to the minimum."""
        status = self.status()
        if not status.jailed:
            raise PreconditionError(f"{status.address} is not jailed")
        info = self._s.staking_token
        if status.shortfall:
            raise InsufficientStake(
                f"{status.address} owes an uptime slash of {status.shortfall} {info.symbol}",
                sdk="add that much with provider.stake(), then unjail",
                cli="add that much with `computerails provider stake AMOUNT`, then run `computerails provider unjail`",
            )
        minimum = self._min_stake()
        if to_raw(status.staked, info.decimals) < minimum:
            minimum = self._min_stake(fresh=True)  # never refuse on a cached minimum
        if to_raw(status.staked, info.decimals) < minimum:
            raise InsufficientStake(
                f"stake is {status.staked} {info.symbol}; top up to {from_raw(minimum, info.decimals)} {info.symbol} "
                "before unjailing",
                sdk="add stake with provider.stake()",
                cli="add stake with `computerails provider stake AMOUNT`",
            )
        self._s.send(self._s.staking.functions.unjail(), "unjail")
        return self.status()

    def leave(self) -> ProviderStatus:
        """Stop taking new jobs for good. The uptime SLA ends with the current epoch (misses
        before stay slashable within the reporting window); live jobs run to their end and stake
        unbonds as usual with :meth:`request_unbond`."""
        self.check_leave()
        self._s.send(self._s.staking.functions.leave(), "leave")
        return self.status()

    def check_leave(self) -> ProviderStatus:
        """The checks of :meth:`leave` alone (nothing is sent)."""
        status = self.status()
        if not status.registered:
            raise NotAllowed(f"{status.address} is not a registered provider")
        if status.left:
            raise PreconditionError(f"{status.address} has already left")
        return status

    def claim_rewards(self, rewards: RewardsSource | None = None) -> list[Payout]:
        """Withdraw everything claimable, one transaction per balance.

        Job escrow balances (payments, refunds, bonds) are withdrawn per payment token; slash
        proceeds in the staking token are claimed from the staking contract; collected vouchers
        are claimed from the MeteredEscrow per payment token. With `rewards`, the provider's
        incentive emissions are claimed too (a payout with source ``"rewards"``, paid to its
        recipient), or skipped when the file owes it nothing more. Returns what was paid; an
        empty list means there was nothing to claim.

        Args:
            rewards: the rewards file of the distributor's active root (loaded, a path or an
                http(s) URL), or None to leave emissions alone.

        Raises:
            RewardsFileError: the rewards file cannot be read or is inconsistent.
            RewardsFileMismatch: it is for another chain or distributor.
            RewardsRootNotActive: its root is not the active root (checked before anything is sent).
            NoRewardsDistributor: the deployment has no RewardsDistributor.
        """
        owed = None
        if rewards is not None:
            distributor = RewardsDistributor(self._s)
            try:
                owed = distributor.check_claim(rewards, self._s.address)[0]
            except NothingClaimable:
                owed = None
        payouts = shared.claim_everything(self._s)
        if owed is not None:
            paid = distributor.claim(owed, self._s.address)
            payouts.append(Payout(token=paid.token, amount=paid.amount, tx_hash=paid.tx_hash, source="rewards"))
        return payouts

    def claim(self, token: str | None = None, *, source: str = "escrow") -> Payout:
        """Withdraw one claimable balance: the job escrow's balance of `token` (payments of
        settled jobs, refunds, bonds), with ``source="staking"`` the staking contract's slash
        proceeds, with ``source="metered"`` the MeteredEscrow's balance of `token` (collected
        vouchers).

        Raises:
            NothingClaimable: that balance is zero.
        """
        info = self._s.staking_token if source == "staking" else self._s.token(token)
        raw = shared.claimable_raw(self._s, self._s.address).get(info, {}).get(source, 0)
        if raw == 0:
            raise NothingClaimable(f"{self._s.address} has nothing claimable in {info.symbol} from the {source}")
        return shared.claim_one(self._s, info, source, raw)

    def jail_reasons(self, address: str | None = None) -> frozenset[str]:
        """Why the provider is jailed now: ``"downtime"`` (an uptime slash) and/or ``"work"`` (a
        failed job or a fraud attestation), from its ``ProviderJailed`` events since its last
        ``ProviderUnjailed``; empty when it is not jailed."""
        me = parse_address(address or self._s.address, "provider")
        if not self.status(me).jailed:
            return frozenset()
        events = self._s.staking.events
        start = self._s.deployment.deploy_block
        jailed = events.ProviderJailed().get_logs(from_block=start, argument_filters={"provider": me})
        unjailed = events.ProviderUnjailed().get_logs(from_block=start, argument_filters={"provider": me})
        since = max(((e["blockNumber"], e["logIndex"]) for e in unjailed), default=(-1, -1))
        return frozenset(
            "downtime" if e["args"]["forDowntime"] else "work"
            for e in jailed
            if (e["blockNumber"], e["logIndex"]) > since
        )

    def status(self, address: str | None = None) -> ProviderStatus:
        """Stake, locked, unbonding, jailed and claimable of this provider (or another)."""
        return shared.provider_status(self._s, address or self._s.address)

    # ── helpers ──
    def _min_stake(self, fresh: bool = False) -> int:
        staking = self._s.staking.address
        return int(
            self._s.cached("minStake", lambda: self._s.read("ProviderStaking", staking, "minStake"), fresh=fresh)
        )

    def _require_registered(self) -> None:
        me = self._s.address
        if not self._s.read("ProviderStaking", self._s.staking.address, "isRegistered", me):
            raise NotAllowed(
                f"{me} is not a registered provider",
                sdk="provider.register() first",
                cli="run `computerails provider register` first",
            )

    def _approve_stake(self, raw: int) -> None:
        me = self._s.address
        info = self._s.staking_token
        staking = self._s.staking.address
        balance, allowance = self._s.rpc.run(
            [
                self._s.call(ERC20, info.address, "balanceOf", me),
                self._s.call(ERC20, info.address, "allowance", me, staking),
            ]
        )
        if balance < raw:
            raise InsufficientBalance(
                f"{me} holds {from_raw(balance, info.decimals)} {info.symbol}, needs {from_raw(raw, info.decimals)}"
            )
        if allowance < raw:
            self._s.approve(info.address, staking, raw)
