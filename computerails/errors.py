"""Exceptions: one root, a class per contract custom error, and precondition errors.

Every custom error in the shipped ABIs (the protocol's own, OpenZeppelin's, the ERC-20 and
EIP-2612 errors of the generic token ABI, and those of the devnet test tokens) becomes a subclass
of :class:`ContractRevert` with the same name, created from the ABIs at import time, so the
mapping can never drift from the contracts::

    try:
        rails.client.cancel(7)
    except errors.NotJobClient as e:
        print(e.args_dict["expected"], e.args_dict["caller"])

The contracts pass the expected value or bound before the actual one, and every parameter out of
range reverts ``<Name>OutOfRange(min, max, value)`` (bounds inclusive): those classes share the
base :class:`ParameterOutOfRange`, so one ``except`` reads any of them as ``e.min``, ``e.max``,
``e.value``.

Precondition errors (:class:`PreconditionError`) are raised before anything is sent, and
say what to do about it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from computerails.status import JobStatus


class ComputeRailsError(Exception):
    """Root of every exception the SDK raises."""


# ───────────────────────────── set-up and transport ─────────────────────────────


class DeploymentError(ComputeRailsError):
    """A deployment file is missing, unreadable or does not fit the connected chain."""


class ChainMismatch(DeploymentError):
    """The node's chain id differs from the deployment's: the SDK refuses to sign."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"the node is on chain {actual} but the deployment is for chain {expected}: "
            "connect to the right RPC or pass the deployment for this chain"
        )
        self.expected = expected
        self.actual = actual


class DeploymentNotFound(DeploymentError):
    """A contract the deployment names has no code on the connected chain: the deployment was
    made on another chain with the same id (a devnet that was restarted, a fork), or the file
    is for another network. Checked once per connection, before anything is read or sent.

    Attributes:
        chain_id: the connected chain's id.
        contract: which of the deployment's contracts (``"JobEscrow"``, ``"payment token"`` ...).
        address: the address without code.
    """

    def __init__(self, chain_id: int, contract: str, address: str, source: str = "") -> None:
        where = f" ({source})" if source else ""
        super().__init__(
            f"no contract code at {contract} {address} on chain {chain_id}: the deployment{where} is not on this "
            "node (a restarted devnet?); deploy again (`make deploy RPC=URL` or `computerails devnet deploy`) "
            "or pass the deployment made on this node"
        )
        self.chain_id = chain_id
        self.contract = contract
        self.address = address


class NoAccount(ComputeRailsError):
    """A transaction was requested from a read-only connection."""


class TransactionError(ComputeRailsError):
    """A transaction could not be sent or confirmed."""


class TransactionTimeout(TransactionError):
    """No receipt within the timeout. The transaction may still be mined: `tx_hash` says which."""

    def __init__(self, tx_hash: str, timeout: float) -> None:
        super().__init__(
            f"transaction {tx_hash} was sent but not mined within {timeout:.0f}s; it may still be mined: "
            f"check it with `wait_for_receipt('{tx_hash}')` before sending anything again"
        )
        self.tx_hash = tx_hash
        self.timeout = timeout


class TransactionReverted(TransactionError):
    """A transaction was mined but reverted (the simulation before sending had passed)."""

    def __init__(self, tx_hash: str, cause: ComputeRailsError | None = None) -> None:
        reason = f": {cause}" if cause else ""
        super().__init__(f"transaction {tx_hash} reverted on-chain{reason}")
        self.tx_hash = tx_hash
        self.cause = cause


class RPCUnavailable(TransactionError):
    """The node could not be reached after retries."""


class TransactionDropped(TransactionError):
    """A transaction this SDK sent left the node's pool unmined and could not be put back:
    its nonce was used by another transaction (then it can never be mined), or the node
    refused it when it was sent again (then its nonce goes to the account's next transaction,
    which voids it). Nothing of it was paid.

    Attributes:
        tx_hash: the hash sent last (a fee-bumped replacement's, if there was one).
        nonce: the transaction's nonce.
    """

    def __init__(self, tx_hash: str, nonce: int, reason: str) -> None:
        super().__init__(f"transaction {tx_hash} (nonce {nonce}) {reason}")
        self.tx_hash = tx_hash
        self.nonce = nonce


# ───────────────────────────── contract reverts ─────────────────────────────


class ContractRevert(ComputeRailsError):
    """A contract reverted with a custom error. Subclasses carry the error's name.

    Attributes:
        args_dict: the decoded arguments by name (addresses checksummed, job statuses as
            :class:`~computerails.types.JobStatus`).
        data: the raw revert data.
    """

    error_name: str = ""
    abi_inputs: tuple[dict[str, Any], ...] = ()
    hint: str = ""

    def __init__(self, args_dict: dict[str, Any] | None = None, data: str = "") -> None:
        self.args_dict = dict(args_dict or {})
        self.data = data
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args_dict.items())
        message = f"{self.error_name or type(self).__name__}({shown})"
        if self.hint:
            message += f": {self.hint}"
        super().__init__(message)

    def __getattr__(self, name: str) -> Any:
        args = self.__dict__.get("args_dict", {})
        if name in args:
            return args[name]
        raise AttributeError(name)


class UnknownRevert(ContractRevert):
    """A revert the SDK could not decode (string reason, panic or unknown selector)."""


class ParameterOutOfRange(ContractRevert):
    """Base of every ``<Name>OutOfRange(uint256 min, uint256 max, uint256 value)`` error
    (``FeeOutOfRange``, ``DeadlineOutOfRange``, ``EpochLengthOutOfRange`` ...): ``value`` lies
    outside ``[min, max]``.

    Attributes:
        min: the least value accepted.
        max: the most value accepted.
        value: the value given.
    """


#: The arguments of an out-of-range error, in order (contracts/libraries/Errors.sol).
OUT_OF_RANGE_INPUTS = (("min", "uint256"), ("max", "uint256"), ("value", "uint256"))


def _show(value: Any) -> str:
    if isinstance(value, JobStatus):
        return value.value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


#: Readable advice for the errors users meet most.
_HINTS = {
    "UnexpectedJobStatus": "the job is not in the state this call needs; read it with job(id)",
    "NotJobClient": "only the job's client may do this",
    "NotJobProvider": "only the job's provider may do this",
    "AcceptWindowClosed": "the provider accepted too late; the client can cancel for a refund",
    "JobDeadlinePassed": "the job's deadline has passed",
    "JobDeadlineNotPassed": "wait until the job's deadline has passed",
    "ChallengeWindowOpen": "wait until the challenge window closes before settling",
    "ChallengeWindowClosed": "the challenge window is over; the job can only be settled now",
    "InsufficientFreeStake": "add stake or wait for running jobs to release their collateral",
    "StakeBelowMinimum": "stake at least the minimum (a protocol parameter)",
    "ProviderIsJailed": "the provider was slashed: top up to the minimum stake, then unjail",
    "UnbondingNotElapsed": "wait until the unbonding delay has passed",
    "NothingToWithdraw": "nothing is claimable in this token",
    "NothingToClaim": "nothing is claimable",
    "TokenNotAllowed": "this payment token is not on the allowlist",
    "EnforcedPause": "the escrow is paused: new jobs and acceptances are stopped",
    "InsufficientSignatures": "collect more oracle signatures",
    "SignerNotOracle": "a signature is not from a current oracle (or signs different data)",
    "AttestationExpired": "the attestation's deadline has passed; sign a new one",
    "StaleOracleConfig": "the oracle set or threshold changed since signing; sign again under the current version",
    "ReportWindowClosed": "reports on this epoch are no longer accepted (its deadline passed)",
    "SlaNotInForce": "the provider was not under the SLA in that epoch (registered or unjailed later, left, or "
    "jailed for downtime)",
    "ShortfallOutstanding": "the provider owes an uptime slash: add stake to pay it first",
    "ProviderHasLeft": "the provider has left and takes no new jobs",
    "UnbondingDelayOutOfRange": "the unbonding delay must exceed the uptime report window and stay within its cap",
    "ReportWindowOutOfRange": "(statuteEpochs + 1) x epochLength must stay below the unbonding delay",
    "ThawPeriodOutOfRange": "the thaw period must exceed collectionInterval + disputeWindow and stay within 90 days",
    "SignerThawPeriodOutOfRange": "the signer thaw period must exceed collectionInterval + disputeWindow and stay "
    "within 90 days",
    "TransferAmountMismatch": "the token delivered a different amount than requested (fee-on-transfer?)",
    "ERC20InsufficientAllowance": "approve the escrow or staking contract first",
    "ERC20InsufficientBalance": "the account's token balance is too low",
}

#: ABIs whose errors are registered, in this order (a name keeps its first declaration's class):
#: the protocol's, the generic ERC-20 / EIP-2612 token ABI every token is spoken to with, then the
#: devnet test tokens' (only InvalidAccountNonce is theirs alone; it decodes on devnets).
_ABI_FILES = (
    "ProviderStaking",
    "JobEscrow",
    "AttestationHub",
    "UptimeSlasher",
    "MeteredEscrow",
    "RewardsDistributor",
    "ProtocolTimelock",
    "ERC20Permit",
    "MockUSD",
    "MockStakeToken",
)

#: selector (bytes4) -> exception class
ERRORS_BY_SELECTOR: dict[bytes, type[ContractRevert]] = {}

#: On-chain errors whose names the SDK's own off-chain checks already use (MeteredEscrow's, issue
#: 12; the SDK classes below are :class:`PreconditionError` subclasses: nothing was sent). Their
#: revert classes take the suffix ``Revert``: ``StaleVoucherRevert`` with ``error_name``
#: ``"StaleVoucher"``.
REVERT_SUFFIXED = frozenset({"StaleVoucher", "InvalidVoucherSignature", "InvalidReceiptSignature"})


def revert_class_name(error_name: str) -> str:
    """The name of the :class:`ContractRevert` subclass of the on-chain error `error_name`."""
    return f"{error_name}Revert" if error_name in REVERT_SUFFIXED else error_name


def abi_type(component: dict[str, Any]) -> str:
    """The canonical ABI type of an input or output (tuples spelled out)."""
    if component["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in component["components"])
        return f"({inner}){component['type'][5:]}"
    plain: str = component["type"]
    return plain


def _register_errors() -> None:
    namespace = globals()
    for name in _ABI_FILES:
        abi = json.loads(resources.files("computerails.abi").joinpath(f"{name}.json").read_text())["abi"]
        for item in abi:
            if item["type"] != "error":
                continue
            error_name = item["name"]
            class_name = revert_class_name(error_name)
            signature = f"{error_name}({','.join(abi_type(i) for i in item['inputs'])})"
            selector = function_signature_to_4byte_selector(signature)
            if selector in ERRORS_BY_SELECTOR:
                continue
            existing = namespace.get(class_name)
            if isinstance(existing, type) and issubclass(existing, ContractRevert):
                # Same name, different arguments in another contract: keep one class per name.
                ERRORS_BY_SELECTOR[selector] = existing
                continue
            shape = tuple((i["name"], i["type"]) for i in item["inputs"])
            out_of_range = error_name.endswith("OutOfRange") and shape == OUT_OF_RANGE_INPUTS
            base = ParameterOutOfRange if out_of_range else ContractRevert
            cls = type(
                class_name,
                (base,),
                {
                    "error_name": error_name,
                    "abi_inputs": tuple(item["inputs"]),
                    "hint": _HINTS.get(error_name, ""),
                    "__doc__": f"The contract reverted with `{signature}`.",
                    "__module__": __name__,
                },
            )
            namespace[class_name] = cls
            ERRORS_BY_SELECTOR[selector] = cls


_register_errors()


def __getattr__(name: str) -> type[ContractRevert]:
    """Only for type checkers: ``errors.NotJobClient`` and the other classes made from the ABIs
    above are :class:`ContractRevert` subclasses. At run time they are module attributes, so
    this is reached only for a name that is none of them."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def decode_revert(data: str | bytes | None) -> ContractRevert:
    """Turn revert data into the matching :class:`ContractRevert` subclass instance."""
    if isinstance(data, str):
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    else:
        raw = bytes(data or b"")
    cls = ERRORS_BY_SELECTOR.get(raw[:4])
    if cls is None:
        return UnknownRevert({"data": "0x" + raw.hex()}, data="0x" + raw.hex())
    types = [abi_type(i) for i in cls.abi_inputs]
    # Decode with the argument list of this selector's own declaration.
    try:
        values = decode(types, raw[4:]) if types else ()
    except Exception:  # malformed data for this selector
        return UnknownRevert({"data": "0x" + raw.hex()}, data="0x" + raw.hex())
    args: dict[str, Any] = {}
    for spec, value in zip(cls.abi_inputs, values):
        if spec["type"] == "address":
            value = to_checksum_address(value)
        elif spec.get("internalType", "").endswith("JobStatus"):
            value = JobStatus.from_int(value)
        args[spec["name"] or f"arg{len(args)}"] = value
    return cls(args, data="0x" + raw.hex())


# ───────────────────────────── preconditions ─────────────────────────────


class PreconditionError(ComputeRailsError, ValueError):
    """Checked before sending: nothing was sent and no gas was spent.

    Args:
        message: what is wrong.
        sdk: what to do about it, naming SDK calls (appended to the message).
        cli: the same advice naming ``computerails`` commands: the command line prints
            :meth:`for_cli` instead of the message.

    Attributes:
        reason: `message` alone, without the advice.
    """

    def __init__(self, message: str = "", *, sdk: str = "", cli: str = "") -> None:
        super().__init__(f"{message}: {sdk}" if sdk else message)
        self.reason = message
        self.sdk_fix = sdk
        self.cli_fix = cli

    def for_cli(self) -> str:
        """The message with the advice that names ``computerails`` commands (if there is one)."""
        return f"{self.reason}: {self.cli_fix}" if self.cli_fix else str(self)


class InsufficientBalance(PreconditionError):
    """The account holds fewer tokens than the call needs."""


class InsufficientAllowance(PreconditionError):
    """The contract may not pull enough tokens (and auto-approval was turned off)."""


class InsufficientStake(PreconditionError):
    """Not enough (free) stake for what was asked."""


class InvalidDeadline(PreconditionError):
    """A deadline is in the past or too far in the future."""


class WrongJobState(PreconditionError):
    """The job is not in a state that allows this call (yet, or any more)."""


class NotAllowed(PreconditionError):
    """The account is not the party that may make this call."""


class ProviderJailed(PreconditionError):
    """The provider is jailed: top up to the minimum stake and unjail first."""


class NothingClaimable(PreconditionError):
    """There is nothing to withdraw."""


class StaleSignatures(PreconditionError):
    """The signatures were made under an earlier oracle configuration: sign again."""


class InvalidSignatures(PreconditionError):
    """Oracle signatures are missing, duplicated or from non-oracles."""


class InvalidSpec(PreconditionError):
    """A 32-byte value (a job's spec hash, a result hash) is not 32 bytes of hex."""


class InvalidAmount(PreconditionError):
    """A token amount is not a number, is negative, or is finer than the token's decimals."""


class InvalidKey(PreconditionError):
    """A private key given to :func:`computerails.connect` is not one."""


class InvalidToken(PreconditionError):
    """A token address holds no ERC-20 token (no code, or ``symbol()``/``decimals()`` fail).

    Attributes:
        address: the address given.
    """

    def __init__(self, address: str, chain_id: int, problem: str) -> None:
        super().__init__(f"{address} is not an ERC-20 token on chain {chain_id}: {problem}")
        self.address = address


class TooEarly(PreconditionError):
    """A window or delay has not passed yet: wait and call again."""


class InvalidAddress(PreconditionError):
    """An address given by a user is not one: not 20 bytes of 0x-prefixed hex, or mixed case
    with a wrong EIP-55 checksum (a typo). Nothing was sent.

    Attributes:
        address: the value as given.
        what: what it was given for (``"provider"``, ``"token"`` ...), or "".
    """

    def __init__(self, address: object, what: str, problem: str) -> None:
        shown = address if isinstance(address, str) else repr(address)
        super().__init__(f"{what + ' ' if what else ''}address {shown} {problem}")
        self.address = address
        self.what = what


# ───────────────────────────── incentive emissions (issue 16) ─────────────────────────────


def _iso(timestamp: int | None) -> str:
    return "?" if timestamp is None else datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


class NoRewardsDistributor(DeploymentError):
    """The deployment records no RewardsDistributor: its file was written before issue 16.

    Attributes:
        source: the deployment file (or chain id) that lacks it.
    """

    def __init__(self, source: str) -> None:
        super().__init__(
            f"deployment {source} has no RewardsDistributor (written before issue 16): "
            "deploy the protocol again to pay incentive emissions"
        )
        self.source = source


class RewardsFileMismatch(PreconditionError):
    """A rewards file computed for another chain or distributor than the connection's.

    Attributes:
        field: ``"chain_id"`` or ``"distributor"``.
        expected: the connection's value.
        actual: the file's value.
    """

    def __init__(self, field: str, expected: object, actual: object) -> None:
        super().__init__(
            f"the rewards file is for {field} {actual}, this connection's is {expected}: "
            "use the file computed for this deployment"
        )
        self.field = field
        self.expected = expected
        self.actual = actual


class RewardsRootNotActive(PreconditionError):
    """A rewards file's root is not the root claims use now (the distributor's active root):
    still pending its activation delay, vetoed, superseded by a later root, or never posted.

    Attributes:
        root: the file's root (``0x`` and 64 hex digits).
        active: the active root, or None before the first root activates.
        state: the file root's state on chain: ``"pending"``, ``"vetoed"``, ``"superseded"`` or
            ``"unknown"`` (a :class:`~computerails.rewards.distributor.RootState` value).
        activates_at: when a pending root activates (unix seconds), else None.
    """

    def __init__(self, root: str, active: str | None, state: str, activates_at: int | None = None) -> None:
        why = {
            "pending": f"it is pending until {_iso(activates_at)}: claim once it activates",
            "vetoed": "it was vetoed and never activates: get the file of the next root",
            "superseded": "a later root replaced it: get the file of the active root",
        }.get(state, "it was never posted to this distributor: get the file of the active root")
        now = f"the active root is {active}" if active else "no root is active yet"
        super().__init__(f"the rewards file's root {root} is not the active root ({now}); {why}")
        self.root = root
        self.active = active
        self.state = state
        self.activates_at = activates_at


# ───────────────────────────── vouchers (issue 12) ─────────────────────────────


class InvalidVoucher(PreconditionError):
    """A voucher that must not be signed or accepted: a field out of range or malformed, or a
    voucher for another provider, token or payer than expected. Subclasses say which check
    failed; every one of them means the same to a provider: do not serve the request.

    Attributes:
        collection_id: the voucher's collection id (``0x`` and 64 hex digits), or "" if unknown.
    """

    def __init__(self, message: str = "", *, collection_id: str = "", sdk: str = "", cli: str = "") -> None:
        super().__init__(message, sdk=sdk, cli=cli)
        self.collection_id = collection_id


class InvalidVoucherSignature(InvalidVoucher, InvalidSignatures):
    """A voucher's signature is malformed (length, v, a malleable high-s twin) or is not from a
    signer authorized for the voucher's payer.

    Attributes:
        recovered: the address the signature recovers to, or "" if it is malformed.
    """

    def __init__(self, message: str, *, recovered: str = "", collection_id: str = "") -> None:
        super().__init__(message, collection_id=collection_id)
        self.recovered = recovered


class StaleVoucher(InvalidVoucher):
    """A voucher that does not advance its collection: older, reordered or replayed. A later
    voucher must carry a strictly greater request count and no smaller value aggregate.

    Attributes:
        field: ``"request_count"`` or ``"value_aggregate"``.
        latest: that field in the latest voucher kept for the collection.
        value: that field in the voucher refused.
    """

    def __init__(self, collection_id: str, field: str, latest: int, value: int) -> None:
        relation = "above" if field == "request_count" else "at least"
        super().__init__(
            f"voucher for collection {collection_id} is stale: {field} {value} must be {relation} the latest "
            f"accepted {latest} (an older, reordered or replayed voucher)",
            collection_id=collection_id,
        )
        self.field = field
        self.latest = latest
        self.value = value


class VoucherNotCovered(InvalidVoucher):
    """The value a voucher leaves uncollected exceeds the payer's escrow balance less the safety
    margin: serving more requests on it risks working for free.

    Attributes:
        outstanding: value aggregate minus what was collected (smallest token units).
        cover: escrow balance less the safety margin (smallest token units).
    """

    def __init__(self, collection_id: str, outstanding: int, cover: int) -> None:
        super().__init__(
            f"voucher for collection {collection_id} leaves {outstanding} uncollected but the escrow covers only "
            f"{cover} (balance less the safety margin): collect, or ask the payer to top up",
            collection_id=collection_id,
        )
        self.outstanding = outstanding
        self.cover = cover


class BudgetExceeded(PreconditionError):
    """A :class:`~computerails.vouchers.Meter` refused to sign past its budget cap.

    Attributes:
        budget: the cap on the value aggregate (smallest token units).
        value_aggregate: the value signed so far.
        value: the request's value that would have crossed the cap.
    """

    def __init__(self, budget: int, value_aggregate: int, value: int) -> None:
        super().__init__(
            f"signing {value} more would take the value aggregate from {value_aggregate} past the budget of {budget}",
            sdk="raise it with Meter.raise_budget(...) if the spend is intended",
        )
        self.budget = budget
        self.value_aggregate = value_aggregate
        self.value = value


# ───────────────────────────── response receipts (issue 12) ─────────────────────────────


class FraudNotProven(PreconditionError):
    """The recomputed answer equals the one the provider signed: there is nothing to attest."""


class InvalidReceipt(PreconditionError):
    """A response receipt that must not be signed or trusted: a field out of range or malformed.

    Attributes:
        collection_id: the receipt's collection id (``0x`` and 64 hex digits), or "" if unknown.
    """

    def __init__(self, message: str = "", *, collection_id: str = "") -> None:
        super().__init__(message)
        self.collection_id = collection_id


class InvalidReceiptSignature(InvalidReceipt, InvalidSignatures):
    """A receipt's signature is malformed: wrong length, v not 27 or 28, a malleable high-s twin,
    or it recovers no key. (A well-formed signature by another key recovers to another address:
    compare with :func:`computerails.receipts.verify`.)"""


# ───────────────────────────── inference workloads (issue 12) ─────────────────────────────


class ModelError(ComputeRailsError):
    """Base of the errors of the recomputable inference workloads (:mod:`computerails.models`)."""


class InvalidModelInput(ModelError, ValueError):
    """A request the model refuses before computing anything: for the digits classifier, not
    exactly 64 integers within 0..16 (an 8x8 image, 17 grey levels).

    Attributes:
        problem: what is wrong with the input.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid model input: {problem}")
        self.problem = problem


class ModelWeightsMismatch(ModelError):
    """The weights file's sha256 differs from the one recorded in the code: the file was edited,
    truncated or replaced, so answers would no longer be recomputable by anyone else.

    Attributes:
        path: the file read.
        expected: the sha256 recorded in the code (hex).
        actual: the file's sha256 (hex).
    """

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"model weights {path} have sha256 {actual}, expected {expected}: reinstall the package, or retrain "
            "with `python -m computerails.models` and record the new hash"
        )
        self.path = path
        self.expected = expected
        self.actual = actual


# ───────────────────────────── the provider agent and its paying client (issue 13) ─────────────────────────────


class AgentConfigError(ComputeRailsError, ValueError):
    """The provider agent's settings (TOML file plus ``COMPUTERAILS_AGENT_*`` environment) are
    missing a value, malformed, or name a keystore it cannot unlock. Raised at start-up, before
    anything is served; the message names each field and what is wrong with it."""


class EscrowBelowMinimum(InvalidVoucher):
    """The payer's escrow balance for this provider is below the minimum the provider serves
    against (its payment terms' ``min_escrow``).

    Attributes:
        balance: the escrow balance (smallest token units).
        minimum: the provider's minimum (smallest token units).
    """

    def __init__(self, collection_id: str, balance: int, minimum: int) -> None:
        super().__init__(
            f"the payer's escrow holds {balance} but this provider serves only against at least {minimum}: "
            "top the escrow up (computerails meter deposit)",
            collection_id=collection_id,
        )
        self.balance = balance
        self.minimum = minimum


class PaymentRefused(PreconditionError):
    """The paying client refused to pay a provider's 402 terms: the provider is not allowed,
    the price is above the client's maximum, or the terms name another chain, escrow or token
    than the client's deployment. Nothing was signed."""


class PaymentRejected(ComputeRailsError):
    """A provider answered 402 to a paid request: it refused the voucher (stale, not covered,
    a revoked signer ...).

    Attributes:
        reason: the provider's ``error`` text.
        body: the provider's whole JSON answer (with the runway when the escrow falls short).
    """

    def __init__(self, reason: str, body: dict[str, Any]) -> None:
        super().__init__(f"the provider refused the payment: {reason}")
        self.reason = reason
        self.body = body


# ───────────────────────────── content and per-job work (issue 13) ─────────────────────────────


class ContentError(ComputeRailsError):
    """Base of the errors of content addressing (:mod:`computerails.content`) and of the
    provider agent's result store (:mod:`computerails.agent.results`)."""


class InvalidCid(ContentError, ValueError):
    """A string that is not a CID this project uses: not a CID at all, or not CIDv1 with the
    ``raw`` codec and a sha2-256 multihash.

    Attributes:
        cid: the value as given.
        problem: what is wrong with it.
    """

    def __init__(self, cid: object, problem: str) -> None:
        super().__init__(f"invalid CID {cid!r}: {problem}")
        self.cid = cid
        self.problem = problem


class ContentNotFound(ContentError, LookupError):
    """No bytes are stored (or published) under this CID.

    Attributes:
        cid: the CID asked for.
        where: the store or directory looked in.
    """

    def __init__(self, cid: str, where: str) -> None:
        super().__init__(f"no content {cid} in {where}")
        self.cid = cid
        self.where = where


class ContentMismatch(ContentError):
    """Bytes read under a CID hash to another CID: the file was edited, truncated or replaced
    after it was written. They are never returned.

    Attributes:
        expected: the CID asked for.
        actual: the CID of the bytes found.
        path: the file read.
    """

    def __init__(self, expected: str, actual: str, path: str) -> None:
        super().__init__(f"{path} should hold {expected} but its bytes are {actual}: the file was changed on disk")
        self.expected = expected
        self.actual = actual
        self.path = path


class NoResult(ContentError, LookupError):
    """The provider agent has no published result for this job: it never saw the job, or has
    not computed and published its result yet.

    Attributes:
        job_id: the job asked about.
        stage: the job's stage in the agent (``"accepted"`` ...), or None when it never saw it.
    """

    def __init__(self, job_id: int, stage: str | None) -> None:
        where = "unknown to this agent" if stage is None else f"at stage {stage}"
        super().__init__(f"job {job_id} has no published result ({where})")
        self.job_id = job_id
        self.stage = stage


class InvalidJobSpec(ComputeRailsError, ValueError):
    """A per-job spec (:mod:`computerails.workloads`) that cannot be run: not canonical JSON, an
    unknown job type, a missing or out-of-range field.

    Attributes:
        problem: what is wrong with the spec.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid job spec: {problem}")
        self.problem = problem


class UnknownJobType(InvalidJobSpec):
    """A spec whose ``kind`` names no registered job type.

    Attributes:
        kind: the kind the spec names.
        known: the registered kinds.
    """

    def __init__(self, kind: object, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown job type {kind!r}; known: {', '.join(known)}")
        self.kind = kind
        self.known = known


class AgentStateMismatch(ComputeRailsError):
    """The provider agent's state file was written for another provider, chain or escrow than
    the one it is started with: using it would skip blocks or act on another party's jobs.

    Attributes:
        path: the state file.
        field: which identity differs (``"provider"``, ``"chain_id"``, ``"escrow"``).
        expected: the value recorded in the file.
        actual: the value of this run.
    """

    def __init__(self, path: str, field: str, expected: object, actual: object) -> None:
        super().__init__(
            f"state file {path} was written for {field} {expected}, this agent runs with {actual}: "
            "give each provider, chain and deployment its own state file"
        )
        self.path = path
        self.field = field
        self.expected = expected
        self.actual = actual


class GossipRefused(ComputeRailsError):
    """An oracle node refused a gossip message: the HTTP status it answers with and why.

    Attributes:
        status: 400 (stale, malformed or for another network), 403 (not signed by a current
            oracle other than the receiver), 409 (seen before: a replay).
        reason: a short machine-readable reason (``not_member``, ``bad_signature``, ``stale``,
            ``replay``, ``other_network``, ``malformed``).
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
