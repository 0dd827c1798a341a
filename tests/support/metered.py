"""MeteredEscrow test helpers: EIP-712 vouchers, signer consent proofs, response receipts and fraud
attestations, signed with eth-account's typed-data path (independent of the contract's own digest
code and of the SDK's fast path; the types, one definition each, come from computerails.vouchers
and computerails.receipts)."""

from __future__ import annotations

from dataclasses import astuple, dataclass, replace
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from computerails.receipts import FRAUD_ATTESTATION_FIELDS as FRAUD_FIELDS
from computerails.receipts import RECEIPT_FIELDS
from computerails.vouchers import VOUCHER_FIELDS

USD = 10**6
FEE_BPS = 250
COLLECTION_INTERVAL = 3_600
DISPUTE_WINDOW = 86_400
THAW_PERIOD = 3 * 86_400
SIGNER_THAW_PERIOD = 2 * 86_400
FRAUD_PENALTY_BPS = 1_000
FRAUD_PAYER_SHARE_BPS = 5_000
PARAMS = (
    FEE_BPS,
    COLLECTION_INTERVAL,
    DISPUTE_WINDOW,
    THAW_PERIOD,
    SIGNER_THAW_PERIOD,
    FRAUD_PENALTY_BPS,
    FRAUD_PAYER_SHARE_BPS,
)
#: Stake locked per USD collected: 5 stake tokens (18 decimals) per USD (6 decimals), WAD-scaled.
STAKE_RATIO = 5 * 10 ** (18 + 18 - 6)
STAKE = 10**18


def stake_for(gross: int) -> int:
    """The stake a collection of `gross` USD units locks (rounded up, as the contract does)."""
    return -(-gross * STAKE_RATIO // 10**18)


def deploy_metered(project: Any, governance: Any, treasury: Any, staking: Any, hub: Any, usd: Any = None) -> Any:
    """A MeteredEscrow on `staking` (holding its collateral-manager role) whose fraud attestations
    `hub`'s oracles sign, USD allowlisted."""
    contract = project.MeteredEscrow.deploy(governance, treasury, staking, hub, PARAMS, sender=governance)
    staking.grantRole(staking.COLLATERAL_MANAGER_ROLE(), contract, sender=governance)
    if usd is not None:
        contract.setPaymentToken(usd, True, STAKE_RATIO, sender=governance)
    return contract


CID = b"\x11" * 32
OTHER_CID = b"\x22" * 32
META = b"\x33" * 32

PROOF_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "deadline", "type": "uint256"},
]


def _addr(x: Any) -> str:
    return x if isinstance(x, str) else x.address


@dataclass(frozen=True)
class Voucher:
    payer: str
    provider: str
    token: str
    collectionId: bytes = CID
    valueAggregate: int = 10 * USD
    requestCount: int = 100
    timestamp: int = 1_700_000_000
    metadata: bytes = META

    def args(self) -> tuple[Any, ...]:
        return astuple(self)

    def but(self, **changes: Any) -> Voucher:
        return replace(self, **changes)

    def message(self) -> dict[str, Any]:
        return dict(zip([f["name"] for f in VOUCHER_FIELDS], self.args()))


def voucher(payer: Any, provider: Any, token: Any, **fields: Any) -> Voucher:
    return Voucher(_addr(payer), _addr(provider), _addr(token), **fields)


def domain(contract: Any, chain_id: int) -> dict[str, Any]:
    return {
        "name": "ComputeRails MeteredEscrow",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": _addr(contract),
    }


def voucher_digest(contract: Any, chain_id: int, v: Voucher) -> bytes:
    msg = encode_typed_data(domain(contract, chain_id), {"Voucher": VOUCHER_FIELDS}, v.message())
    return bytes(_hash_eip191_message(msg))


def sign_voucher(contract: Any, chain_id: int, v: Voucher, key: Any) -> bytes:
    signed = Account.sign_typed_data(key, domain(contract, chain_id), {"Voucher": VOUCHER_FIELDS}, v.message())
    return bytes(signed.signature)


def sign_proof(contract: Any, chain_id: int, payer: Any, signer_key: Any, deadline: int, signer: Any = None) -> bytes:
    """The signer's consent to sign for `payer` (signer defaults to the key's address)."""
    signer_addr = _addr(signer) if signer is not None else Account.from_key(signer_key).address
    message = {"payer": _addr(payer), "signer": signer_addr, "deadline": deadline}
    signed = Account.sign_typed_data(signer_key, domain(contract, chain_id), {"SignerProof": PROOF_FIELDS}, message)
    return bytes(signed.signature)


def thaw_end(metered: Any, receipt: Any) -> int:
    """The thawEnd of the EscrowThawStarted event a thaw emitted."""
    (log,) = receipt.events.filter(metered.EscrowThawStarted)
    return int(log.thawEnd)


REQUEST_HASH = b"\x44" * 32
RESPONSE_HASH = b"\x55" * 32
RIGHT_HASH = b"\x66" * 32


@dataclass(frozen=True)
class Receipt:
    payer: str
    provider: str
    token: str
    collectionId: bytes = CID
    requestIndex: int = 7
    requestHash: bytes = REQUEST_HASH
    responseHash: bytes = RESPONSE_HASH
    units: int = 1

    def args(self) -> tuple[Any, ...]:
        return astuple(self)

    def but(self, **changes: Any) -> Receipt:
        return replace(self, **changes)

    def message(self) -> dict[str, Any]:
        return dict(zip([f["name"] for f in RECEIPT_FIELDS], self.args()))


def receipt(payer: Any, provider: Any, token: Any, **fields: Any) -> Receipt:
    return Receipt(_addr(payer), _addr(provider), _addr(token), **fields)


def receipt_digest(contract: Any, chain_id: int, r: Receipt) -> bytes:
    msg = encode_typed_data(domain(contract, chain_id), {"ResponseReceipt": RECEIPT_FIELDS}, r.message())
    return bytes(_hash_eip191_message(msg))


def sign_receipt(contract: Any, chain_id: int, r: Receipt, key: Any) -> bytes:
    """The provider's countersignature over a response receipt (eth-account's typed-data path)."""
    signed = Account.sign_typed_data(key, domain(contract, chain_id), {"ResponseReceipt": RECEIPT_FIELDS}, r.message())
    return bytes(signed.signature)


def fraud_digest(
    contract: Any, chain_id: int, receipt_digest_: bytes, recomputed: bytes, deadline: int, version: int
) -> bytes:
    """The digest oracles sign for a fraud attestation, in the MeteredEscrow's domain."""
    message = {
        "receiptDigest": receipt_digest_,
        "recomputedResponseHash": recomputed,
        "deadline": deadline,
        "configVersion": version,
    }
    msg = encode_typed_data(domain(contract, chain_id), {"FraudAttestation": FRAUD_FIELDS}, message)
    return bytes(_hash_eip191_message(msg))
