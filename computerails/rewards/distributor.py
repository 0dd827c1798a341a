"""The RewardsDistributor (issue 16) from the SDK: its state, claims against a rewards file, a
file checked against a root, the account's recipient and funding the reserve.

A rewards file (:class:`~computerails.rewards.treefile.RewardsFile`, what ``computerails rewards
compute`` writes) is given as the loaded file, a path, or an ``http(s)://`` URL it is fetched
from. Claims use the distributor's active root only: a file whose root is pending, vetoed,
superseded or unknown is refused before anything is sent, with the root that is active::

    rails = computerails.connect(rpc, account=key)
    rails.rewards.status(rails.address).active_root
    rails.rewards.claim("rewards/42.json")          # pays cumulative amount − claimed
    rails.rewards.verify(root, "https://oracle.example/rewards/42.json").ok

Amounts are in reward-token units (:class:`~decimal.Decimal`), fee figures in the fee token's
(the calculator's ``feeToken``), times UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from computerails.addresses import parse_address, parse_bytes32
from computerails.errors import (
    ContractRevert,
    InsufficientBalance,
    NothingClaimable,
    PreconditionError,
    RewardsFileMismatch,
    RewardsRootNotActive,
    decode_revert,
)
from computerails.rewards.merkle import verify as verify_proof
from computerails.rewards.schedule import Schedule
from computerails.rewards.treefile import RewardsFile, RewardsFileError
from computerails.session import ERC20, Session
from computerails.tx import Call, SentTransaction
from computerails.types import ZERO_ADDRESS, Amount, TokenInfo, from_raw, to_raw, utc

#: What a rewards file can be given as: the loaded file, a path, or an http(s) URL.
RewardsSource = RewardsFile | str | Path

ZERO_ROOT = bytes(32)
#: Seconds to wait for a rewards file fetched over HTTP.
FETCH_TIMEOUT = 30.0
_CONTRACT = "RewardsDistributor"


def load_rewards(source: RewardsSource, *, timeout: float = FETCH_TIMEOUT) -> RewardsFile:
    """A rewards file from `source`: a :class:`RewardsFile` as it is, an ``http://`` or
    ``https://`` URL fetched with one GET, or a path read from disk. Either way the tree is
    rebuilt from its values and checked against the root, total and proofs it carries.

    Raises:
        RewardsFileError: unreadable, unreachable, not JSON, another format, or inconsistent.
    """
    if isinstance(source, RewardsFile):
        return source
    text = str(source)
    if text.startswith(("http://", "https://")):
        import httpx  # loaded when a file is fetched: `import computerails` stays lighter

        from computerails import _http

        try:
            response = _http.get(text, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
            doc = response.json()
        except httpx.HTTPStatusError as e:
            raise RewardsFileError(f"cannot fetch rewards file {text}: HTTP {e.response.status_code}") from None
        except (httpx.HTTPError, ValueError) as e:
            raise RewardsFileError(f"cannot fetch rewards file {text}: {e}") from None
        return RewardsFile.from_document(doc, text)
    return RewardsFile.load(text)


def _latest_state(latest: Any, now: int) -> RootState:
    """The state of the latest posted root (a ``latestRoot()`` tuple) at time `now`."""
    _, _, _, activates_at, vetoed, _, _ = latest
    if vetoed:
        return RootState.VETOED
    return RootState.PENDING if now < activates_at else RootState.ACTIVE


def _hex(root: bytes) -> str:
    return "0x" + bytes(root).hex()


def _root_bytes(root: str | bytes) -> bytes:
    """A 32-byte root from hex (``0x`` optional) or bytes.

    Raises:
        PreconditionError: not 32 bytes of hex.
    """
    return parse_bytes32(root, "root", PreconditionError)


# ───────────────────────── what the SDK returns ─────────────────────────


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RootState(str, Enum):
    """Where a root stands on the distributor."""

    PENDING = "pending"  # posted, in its activation delay: vetoable, not claimable yet
    ACTIVE = "active"  # the root claims use now
    VETOED = "vetoed"  # vetoed in its delay: never activates
    SUPERSEDED = "superseded"  # was posted and activated, a later root is active now
    UNKNOWN = "unknown"  # never posted to this distributor


class RootInfo(_Model):
    """A posted root: cumulative amounts over epochs 0 .. ``through`` − 1 summing to ``total``."""

    root: str
    total: Decimal
    through: int
    state: RootState
    activates_at: datetime | None = None  # the latest root's activation time (None: not known)
    released: Decimal | None = None  # the schedule's release through `through` (latest root only)
    fee_average: Decimal | None = None  # the fee average after epoch through − 1 (latest root only)


class ScheduleParams(_Model):
    """The emission schedule, E(t) = e0 · 2^(−t/H) · max(0, 1 − avg(t) / F*)."""

    e0: Decimal  # reward-token units released in epoch 0 with no fees
    halving_epochs: int  # H
    fee_target: Decimal  # F*, fee-token units per epoch
    fee_window: int  # W, epochs the fee average spans
    activation_delay: timedelta  # a posted root waits this long, vetoable


class CalculatorParams(_Model):
    """How the calculator splits each epoch's emission (read by every oracle node)."""

    fee_token: str  # the payment token whose fees count (zero address: not set yet)
    availability_bps: int  # share for availability; the rest pays usage
    wash_cap_bps: int  # a provider's usage reward ≤ this share of its traffic's fees
    settle_delay: timedelta  # after an epoch ends, before its facts are final
    reward_per_fee: int  # reward-token raw units per fee-token raw unit, scaled by 1e18


class AccountRewards(_Model):
    """One account at the distributor."""

    address: str
    claimed: Decimal  # its cumulative payout so far
    recipient: str  # where its rewards go (itself unless it set another)


class RewardsStatus(_Model):
    """The distributor's state (``rewards status``)."""

    distributor: str
    token: TokenInfo  # the reward token
    fee_token: TokenInfo  # the token fee figures count in
    funded: Decimal  # the reserve funded so far, claims paid included
    claimed: Decimal  # paid by claims so far
    balance: Decimal  # reward tokens the distributor holds
    active_root: RootInfo | None  # None until a first root activates
    latest_root: RootInfo | None  # None until a first root is posted
    current_epoch: int
    emission: Decimal  # E(current epoch) at the latest root's fee average
    schedule: ScheduleParams
    calculator: CalculatorParams
    account: AccountRewards | None = None


class RewardsClaim(_Model):
    """One claim paid (from its ``Claimed`` event)."""

    account: str
    recipient: str
    token: TokenInfo
    amount: Decimal  # paid now: cumulative − what was claimed before
    cumulative: Decimal  # the account's cumulative payout after it
    tx_hash: str


@dataclass(frozen=True)
class ClaimOutcome:
    """One account of a ``claim_many``: what it was paid, or the typed error it was skipped with."""

    index: int
    account: str
    claim: RewardsClaim | None
    error: ContractRevert | None


class VerifyReport(_Model):
    """A rewards file checked against a root (``rewards verify``): ``ok`` when no problem."""

    root: str  # the root it was checked against
    file_root: str
    token: TokenInfo  # the reward token (of `total` and `released`)
    total: Decimal
    through: int
    accounts: int
    proofs_checked: int  # proofs that place their account's amount under `root`
    released: Decimal  # what the schedule released through the file's epochs
    state: RootState  # `root`'s state on chain
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


# ───────────────────────── the wrapper ─────────────────────────


class RewardsDistributor:
    """Incentive emissions: status, claims, verification, recipient and funding.

    Every method raises :class:`~computerails.errors.NoRewardsDistributor` on a deployment whose
    file predates the distributor.
    """

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def address(self) -> str:
        """The distributor's address.

        Raises:
            NoRewardsDistributor: the deployment has none.
        """
        return self._s.rewards

    @property
    def token(self) -> TokenInfo:
        """The reward token (fixed at deployment)."""
        address = self._s.forever(("rewardToken", self.address), lambda: self._read("rewardToken"))
        return self._s.token(address)

    # ───────────────────────── reads ─────────────────────────

    def status(self, account: str | None = None) -> RewardsStatus:
        """The distributor's reserve, roots, schedule and parameters, and with `account` what
        it was paid and where its rewards go. One batched round trip (plus token metadata once).

        Raises:
            InvalidAddress: `account` is mistyped.
        """
        s, at = self._s, self.address
        who = parse_address(account, "account") if account else None
        token = self.token
        reads = [
            self._call("funded"),
            self._call("totalClaimed"),
            s.call(ERC20, token.address, "balanceOf", at),
            self._call("activeRoot"),
            self._call("latestRoot"),
            self._call("currentEpoch"),
            self._call("params"),
            self._call("calculatorParams"),
            s.latest_time(),
        ]
        if who:
            reads += [self._call("claimed", who), self._call("recipientOf", who)]
        funded, claimed, balance, active, latest, epoch, params, calc, now, *mine = s.rpc.run(reads)
        schedule = Schedule(*params)
        fee_token = self._fee_token(calc[0])
        latest_info = self._latest(latest, now, token, fee_token)
        # A vetoed latest root's base (the root before it) has no readable fee average: E(t)
        # is shown without fees then.
        vetoed = latest_info is not None and latest_info.state is RootState.VETOED
        fee_average = 0 if latest_info is None or vetoed else int(latest[6])
        units = token.decimals
        return RewardsStatus(
            distributor=at,
            token=token,
            fee_token=fee_token,
            funded=from_raw(funded, units),
            claimed=from_raw(claimed, units),
            balance=from_raw(balance, units),
            active_root=self._active(active, latest_info, token),
            latest_root=latest_info,
            current_epoch=epoch,
            emission=from_raw(schedule.emission(epoch, fee_average), units),
            schedule=ScheduleParams(
                e0=from_raw(schedule.e0, units),
                halving_epochs=schedule.halving_epochs,
                fee_target=from_raw(schedule.fee_target, fee_token.decimals),
                fee_window=schedule.fee_window,
                activation_delay=timedelta(seconds=schedule.activation_delay),
            ),
            calculator=CalculatorParams(
                fee_token=calc[0],
                availability_bps=calc[1],
                wash_cap_bps=calc[2],
                settle_delay=timedelta(seconds=calc[3]),
                reward_per_fee=calc[4],
            ),
            account=AccountRewards(address=who, claimed=from_raw(mine[0], units), recipient=mine[1]) if who else None,
        )

    def root_state(self, root: str | bytes) -> RootState:
        """Where `root` stands on the distributor now: active, pending, vetoed, superseded (an
        earlier root, from its ``RootPosted`` event) or unknown."""
        raw = _root_bytes(root)
        active, latest, now = self._s.rpc.run(
            [self._call("activeRoot"), self._call("latestRoot"), self._s.latest_time()]
        )
        return self._state_of(raw, active, latest, now)

    # ───────────────────────── claims ─────────────────────────

    def check_claim(self, rewards: RewardsSource, account: str | None = None) -> tuple[RewardsFile, str, int]:
        """The checks of :meth:`claim` alone (nothing is sent): returns the loaded file, the
        account and what a claim would pay it now (raw units, > 0).

        Raises:
            RewardsFileError: the file cannot be read or is inconsistent.
            RewardsFileMismatch: the file is for another chain or distributor.
            RewardsRootNotActive: the file's root is not the active root.
            NothingClaimable: the account is not in the file, or was paid its amount already.
        """
        loaded = self._load(rewards)
        who = parse_address(account or self._s.address, "account")
        active, latest, now, claimed = self._s.rpc.run(
            [self._call("activeRoot"), self._call("latestRoot"), self._s.latest_time(), self._call("claimed", who)]
        )
        self._require_active(loaded, active, latest, now)
        cumulative = loaded.amount(who)
        symbol = self.token.symbol
        if cumulative == 0:
            raise NothingClaimable(f"{who} has no rewards in the file of root {_hex(loaded.root)}")
        if cumulative <= claimed:
            d = self.token.decimals
            raise NothingClaimable(
                f"{who} was paid {from_raw(claimed, d)} {symbol} already, its whole cumulative amount "
                f"{from_raw(cumulative, d)} {symbol} in root {_hex(loaded.root)}: nothing more until the next root"
            )
        return loaded, who, cumulative - claimed

    def claim(self, rewards: RewardsSource, account: str | None = None) -> RewardsClaim:
        """Claim `account`'s rewards (default: the signing account's) from a rewards file: the
        distributor pays its cumulative amount minus what it was paid, to the account or the
        recipient it set. Anyone may claim for any account.

        Args:
            rewards: the rewards file of the active root: loaded, a path or an http(s) URL.
            account: whose rewards (default: the signing account).

        Returns:
            What was paid, to whom, from the ``Claimed`` event.

        Raises:
            RewardsFileError: the file cannot be read or is inconsistent.
            RewardsFileMismatch: the file is for another chain or distributor.
            RewardsRootNotActive: the file's root is pending, vetoed, superseded or unknown.
            NothingClaimable: the account is not in the file, or was paid its amount already.
        """
        loaded, who, _ = self.check_claim(rewards, account)
        data = self._s.abi[_CONTRACT]["claim"].encode(who, loaded.amount(who), loaded.tree.proof(who))
        sent = self._s.tx.send(Call(self.address, data, "claim"), label="claim")
        (paid,) = self._claims(sent)
        return paid

    def claim_many(self, rewards: RewardsSource, accounts: Sequence[str]) -> list[ClaimOutcome]:
        """Claim for many accounts in one transaction (``claimMany``). An item the distributor
        refuses (paid already, a proof that fails, past the root's total) is skipped with the
        typed error ``claim`` would revert with; the others are paid.

        Raises:
            PreconditionError: no accounts, or an account twice.
            RewardsFileError: the file cannot be read or is inconsistent.
            RewardsFileMismatch: the file is for another chain or distributor.
            RewardsRootNotActive: the file's root is not the active root.
            NothingClaimable: an account is not in the file.
        """
        if not accounts:
            raise PreconditionError("claim_many needs at least one account")
        loaded = self._load(rewards)
        who = [parse_address(a, "account") for a in accounts]
        if len({a.lower() for a in who}) != len(who):
            raise PreconditionError("an account appears twice: give each account once")
        missing = [a for a in who if loaded.amount(a) == 0]
        if missing:
            raise NothingClaimable(f"not in the file of root {_hex(loaded.root)}: {', '.join(missing)}")
        active, latest, now = self._s.rpc.run(
            [self._call("activeRoot"), self._call("latestRoot"), self._s.latest_time()]
        )
        self._require_active(loaded, active, latest, now)
        items = [(a, loaded.amount(a), loaded.tree.proof(a)) for a in who]
        data = self._s.abi[_CONTRACT]["claimMany"].encode(items)
        sent = self._s.tx.send(Call(self.address, data, "claimMany"), label="claimMany")
        skipped = {
            int(e["index"]): decode_revert(bytes(e["reason"]))
            for e in self._s.abi[_CONTRACT].events["ClaimSkipped"].logs(sent.receipt, self.address)
        }
        paid = iter(self._claims(sent))  # one Claimed per item not skipped, in order
        return [
            ClaimOutcome(index=i, account=a, claim=None if i in skipped else next(paid), error=skipped.get(i))
            for i, a in enumerate(who)
        ]

    # ───────────────────────── verification ─────────────────────────

    def verify(self, root: str | bytes, rewards: RewardsSource) -> VerifyReport:
        """Check a rewards file against `root` (e.g. a root posted on chain, before it
        activates): the file's root is `root`, every proof places its account's amount under
        `root`, the file is for this chain and distributor, and its total is within what the
        schedule released through its epochs (the latest root's release when it covers the same
        epochs, else the schedule run over the file's fees from the latest root not vetoed, or
        from epoch 0). Reports the problems found instead of raising on them.

        Raises:
            RewardsFileError: the file cannot be read or is inconsistent in itself.
            PreconditionError: `root` is not 32 bytes of hex.
        """
        expected = _root_bytes(root)
        loaded = self._load(rewards, check=False)
        active, latest, now, params = self._s.rpc.run(
            [self._call("activeRoot"), self._call("latestRoot"), self._s.latest_time(), self._call("params")]
        )
        token = self.token
        problems = self._mismatches(loaded)
        if loaded.root != expected:
            problems.append(f"the file's root {_hex(loaded.root)} is not {_hex(expected)}")
        bad = [a for a, v in loaded.tree.values if not verify_proof(expected, a, v, loaded.tree.proof(a))]
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            problems.append(f"{len(bad)} of {len(loaded.tree.values)} proofs do not check against the root: {shown}")
        released = self._released(loaded, latest, Schedule(*params))
        if loaded.total > released:
            problems.append(
                f"its total {from_raw(loaded.total, token.decimals)} {token.symbol} is above the "
                f"{from_raw(released, token.decimals)} {token.symbol} the schedule released through epoch "
                f"{loaded.through - 1}"
            )
        state = self._state_of(expected, active, latest, now)
        return VerifyReport(
            root=_hex(expected),
            file_root=_hex(loaded.root),
            token=token,
            total=from_raw(loaded.total, token.decimals),
            through=loaded.through,
            accounts=len(loaded.tree.values),
            proofs_checked=len(loaded.tree.values) - len(bad),
            released=from_raw(released, token.decimals),
            state=state,
            problems=problems,
        )

    # ───────────────────────── the account and the reserve ─────────────────────────

    def set_recipient(self, recipient: str | None) -> AccountRewards:
        """Send the signing account's future rewards to `recipient` (None or the account
        itself: back to the account). Claims by anyone then pay there.

        Raises:
            InvalidAddress: `recipient` is mistyped.
        """
        me = self._s.address
        to = parse_address(recipient, "recipient") if recipient else me
        target = ZERO_ADDRESS if to == me else to
        data = self._s.abi[_CONTRACT]["setRecipient"].encode(target)
        self._s.tx.send(Call(self.address, data, "setRecipient"), label="setRecipient")
        return self.account(me)

    def account(self, account: str | None = None) -> AccountRewards:
        """What `account` (default: the signing account) was paid and where its rewards go."""
        who = parse_address(account or self._s.address, "account")
        claimed, recipient = self._s.rpc.run([self._call("claimed", who), self._call("recipientOf", who)])
        return AccountRewards(address=who, claimed=from_raw(claimed, self.token.decimals), recipient=recipient)

    def fund(self, amount: Amount) -> RewardsStatus:
        """Add `amount` reward tokens (token units) from the signing account to the reserve,
        approving the distributor first if its allowance is short. Funding cannot be undone:
        the reserve only leaves by claims.

        Raises:
            PreconditionError: a zero amount.
            InsufficientBalance: the account holds less.
        """
        s, token, at = self._s, self.token, self.address
        raw = to_raw(amount, token.decimals)
        if raw == 0:
            raise PreconditionError("fund amount must be positive")
        me = s.address
        balance, allowance = s.rpc.run(
            [s.call(ERC20, token.address, "balanceOf", me), s.call(ERC20, token.address, "allowance", me, at)]
        )
        if balance < raw:
            raise InsufficientBalance(
                f"{me} holds {from_raw(balance, token.decimals)} {token.symbol}, "
                f"needs {from_raw(raw, token.decimals)} to fund the reserve"
            )
        if allowance < raw:
            s.approve(token.address, at, raw)
        s.tx.send(Call(at, s.abi[_CONTRACT]["fund"].encode(raw), "fund"), label="fund")
        return self.status()

    # ───────────────────────── helpers ─────────────────────────

    def _call(self, fn: str, *args: Any) -> Any:
        return self._s.call(_CONTRACT, self.address, fn, *args)

    def _read(self, fn: str, *args: Any) -> Any:
        return self._s.rpc.run([self._call(fn, *args)])[0]

    def _fee_token(self, address: str) -> TokenInfo:
        if int(address, 16) == 0:  # calculator parameters not set: the deployment's first payment token
            return self._s.token()
        return self._s.token(address)

    def _load(self, rewards: RewardsSource, *, check: bool = True) -> RewardsFile:
        loaded = load_rewards(rewards)
        differences = self._differences(loaded) if check else []
        if differences:
            raise RewardsFileMismatch(*differences[0])
        return loaded

    def _differences(self, loaded: RewardsFile) -> list[tuple[str, Any, Any]]:
        """(what, this deployment's, the file's) for the chain id and the distributor, where they differ."""
        out: list[tuple[str, Any, Any]] = []
        if loaded.chain_id != self._s.chain_id:
            out.append(("chain_id", self._s.chain_id, loaded.chain_id))
        if loaded.distributor.lower() != self.address.lower():
            out.append(("distributor", self.address, loaded.distributor))
        return out

    def _mismatches(self, loaded: RewardsFile) -> list[str]:
        names = {"chain_id": "chain", "distributor": "distributor"}
        return [
            f"the file is for {names[what]} {theirs}, not {ours}" for what, ours, theirs in self._differences(loaded)
        ]

    def _latest(self, latest: Any, now: int, token: TokenInfo, fee_token: TokenInfo) -> RootInfo | None:
        root, total, through, activates_at, vetoed, released, fee_average = latest
        if through == 0:
            return None
        state = _latest_state(latest, now)
        return RootInfo(
            root=_hex(root),
            total=from_raw(total, token.decimals),
            through=through,
            state=state,
            activates_at=utc(activates_at),
            released=from_raw(released, token.decimals),
            fee_average=from_raw(fee_average, fee_token.decimals),
        )

    def _active(self, active: Any, latest: RootInfo | None, token: TokenInfo) -> RootInfo | None:
        root, total, through = active
        if through == 0:
            return None
        if latest is not None and latest.root == _hex(root) and latest.state is RootState.ACTIVE:
            return latest
        return RootInfo(root=_hex(root), total=from_raw(total, token.decimals), through=through, state=RootState.ACTIVE)

    def _state_of(self, root: bytes, active: Any, latest: Any, now: int) -> RootState:
        if active[2] and bytes(active[0]) == root:
            return RootState.ACTIVE
        if latest[2] and bytes(latest[0]) == root:
            return _latest_state(latest, now)
        return self._history(root)

    def _history(self, root: bytes) -> RootState:
        """A root that is neither the active nor the latest one: vetoed or superseded if its
        events say so (two log queries filtered by the root's topic), else unknown."""
        events = self._s.contract(_CONTRACT, self.address).events
        start = self._s.deployment.deploy_block
        if events.RootVetoed().get_logs(from_block=start, argument_filters={"root": root}):
            return RootState.VETOED
        if events.RootPosted().get_logs(from_block=start, argument_filters={"root": root}):
            return RootState.SUPERSEDED
        return RootState.UNKNOWN

    def _require_active(self, loaded: RewardsFile, active: Any, latest: Any, now: int) -> None:
        root, _, through = active
        if through and bytes(root) == loaded.root:
            return
        state = self._state_of(loaded.root, active, latest, now)
        pending = state is RootState.PENDING
        raise RewardsRootNotActive(
            _hex(loaded.root), _hex(root) if through else None, state.value, int(latest[3]) if pending else None
        )

    def _released(self, loaded: RewardsFile, latest: Any, schedule: Schedule) -> int:
        _, _, through, _, vetoed, released, fee_average = latest
        if through and not vetoed and through == loaded.through:
            return int(released)
        if through and not vetoed and through < loaded.through:
            return schedule.release(through, loaded.fees[through:], released, fee_average)[0]
        return schedule.release(0, loaded.fees)[0]

    def _claims(self, sent: SentTransaction) -> list[RewardsClaim]:
        token = self.token
        return [
            RewardsClaim(
                account=e["account"],
                recipient=e["recipient"],
                token=token,
                amount=from_raw(e["amount"], token.decimals),
                cumulative=from_raw(e["cumulative"], token.decimals),
                tx_hash=sent.tx_hash,
            )
            for e in self._s.abi[_CONTRACT].events["Claimed"].logs(sent.receipt, self.address)
        ]
