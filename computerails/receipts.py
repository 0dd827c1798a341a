"""Response receipts: the provider's signed statement of what it answered (issue 12).

For every metered request the provider countersigns a receipt naming the request and the
response by their hashes. The payer keeps it; when an oracle recomputes the request and gets
another response hash, the provider's own signature over the wrong hash is the evidence of
fraud: no merkle proof, no trust in the payer's word.

EIP-712, in the MeteredEscrow's domain (the same as the vouchers': name
``"ComputeRails MeteredEscrow"``, version ``"1"``, chain id, the escrow's address), with the type,
byte for byte as the contract verifies it::

    ResponseReceipt(address payer,address provider,address token,bytes32 collectionId,
                    uint64 requestIndex,bytes32 requestHash,bytes32 responseHash,uint64 units)

Signed by the provider's own key: 65 bytes ``r ‖ s ‖ v``, low s. Like the vouchers (and through
the same helpers of :mod:`computerails.vouchers`), the type hash is computed once, the struct is
packed by hand (every field is one static word) and hashed with pycryptodome's keccak, and the
curve work is libsecp256k1's through coincurve. ``tests/sdk/test_receipts.py`` checks digests and
signatures against eth-account's generic ``encode_typed_data`` path.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from computerails.addresses import parse_address
from computerails.eip712 import SIGNATURE_LENGTH
from computerails.errors import InvalidReceipt, InvalidReceiptSignature
from computerails.vouchers import (
    Address,
    StaticStruct,
    Uint64,
    Uint256,
    Voucher,
    VoucherDomain,
    Word,
    _bytes32,
    keccak256,
    load_private_key,
    recover_signer,
    sign_digest,
    static_layout,
    validation_problems,
)

RECEIPT_TYPE = (
    "ResponseReceipt(address payer,address provider,address token,bytes32 collectionId,uint64 requestIndex,"
    "bytes32 requestHash,bytes32 responseHash,uint64 units)"
)
RECEIPT_TYPEHASH = keccak256(RECEIPT_TYPE.encode())

#: EIP-712 field list, as eth-account's ``encode_typed_data`` and wallets expect it.
RECEIPT_FIELDS: list[dict[str, str]] = [
    {"name": "payer", "type": "address"},
    {"name": "provider", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "collectionId", "type": "bytes32"},
    {"name": "requestIndex", "type": "uint64"},
    {"name": "requestHash", "type": "bytes32"},
    {"name": "responseHash", "type": "bytes32"},
    {"name": "units", "type": "uint64"},
]


class ResponseReceipt(StaticStruct):
    """EIP-712 ``ResponseReceipt``: the provider's answer to one request of a collection.

    Construction checks every field and raises :class:`~computerails.errors.InvalidReceipt`.
    """

    TYPEHASH = RECEIPT_TYPEHASH
    FIELDS = RECEIPT_FIELDS
    LAYOUT = static_layout(RECEIPT_FIELDS)
    INVALID = InvalidReceipt
    WHAT = "response receipt"

    payer: Address
    provider: Address
    token: Address
    collection_id: Word  # the voucher collection the request was paid on
    request_index: Uint64  # the request's position in the collection (its voucher's request count)
    request_hash: Word  # keccak-256 of the request's canonical bytes
    response_hash: Word  # keccak-256 of the response's canonical bytes
    units: Uint64  # billable units of the request


def struct_hash(receipt: ResponseReceipt) -> bytes:
    """``hashStruct(ResponseReceipt)``: every field is one static word, so encoding is concatenation."""
    return receipt.struct_hash()


def digest(domain: VoucherDomain, receipt: ResponseReceipt) -> bytes:
    """``keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(receipt))``: what the provider signs."""
    return domain.typed_digest(struct_hash(receipt))


def typed_data(domain: VoucherDomain, receipt: ResponseReceipt) -> dict[str, Any]:
    """The full EIP-712 typed-data document, for wallets and eth-account's encoder."""
    return domain.typed_document("ResponseReceipt", RECEIPT_FIELDS, receipt.message())


def _recover_bytes(domain: VoucherDomain, receipt: ResponseReceipt, signature: bytes) -> bytes:
    collection = receipt.collection_id
    return recover_signer(
        digest(domain, receipt),
        signature,
        "receipt",
        lambda message: InvalidReceiptSignature(message, collection_id=collection),
    )


def recover(domain: VoucherDomain, receipt: ResponseReceipt, signature: bytes) -> str:
    """The checksummed address that signed `receipt` with `signature` (65 bytes ``r ‖ s ‖ v``).

    Raises:
        InvalidReceiptSignature: wrong length, v not 27 or 28, high s, or no key recovers.
    """
    return to_checksum_address(_recover_bytes(domain, receipt, signature))


def verify(domain: VoucherDomain, receipt: ResponseReceipt, signature: bytes) -> bool:
    """Whether `signature` is a well-formed low-s signature of `receipt` by the receipt's own
    provider (the only key whose receipts are evidence). Malformed signatures verify as False."""
    try:
        recovered = _recover_bytes(domain, receipt, signature)
    except InvalidReceiptSignature:
        return False
    return recovered == bytes.fromhex(parse_address(receipt.provider, "provider")[2:])


def check_for_payer(
    domain: VoucherDomain,
    receipt: ResponseReceipt,
    signature: bytes,
    *,
    voucher: Voucher,
    request_hash: bytes | str,
    response_hash: bytes | str,
) -> None:
    """What a payer checks before it keeps a receipt as evidence: the receipt names the request it
    sent and paid for (this voucher's payer, provider, token and collection, request index = the
    voucher's request count, the request's hash), the answer it got, and it is signed by the
    provider's own key. A receipt with another request index could be used to dodge punishment
    (receipts of a collection are punished in request order), so a payer refuses it at once.

    Raises:
        InvalidReceipt: a field differs from what the payer sent, paid and received (the message
            names it).
        InvalidReceiptSignature: the signature is malformed or by another key than the provider.
    """
    expected = {
        "payer": voucher.payer,
        "provider": voucher.provider,
        "token": voucher.token,
        "collection_id": voucher.collection_id,
        "request_index": voucher.request_count,
        "request_hash": _expected_word(request_hash, "request_hash", receipt),
        "response_hash": _expected_word(response_hash, "response_hash", receipt),
    }
    for field_name, value in expected.items():
        got = getattr(receipt, field_name)
        if got != value:
            raise InvalidReceipt(
                f"the receipt's {field_name} is {got}, but the request paid by this voucher has {value}",
                collection_id=receipt.collection_id,
            )
    if not verify(domain, receipt, signature):
        signer = recover(domain, receipt, signature)
        raise InvalidReceiptSignature(
            f"the receipt is signed by {signer}, not by its provider {receipt.provider}",
            collection_id=receipt.collection_id,
        )


def _expected_word(value: bytes | str, what: str, receipt: ResponseReceipt) -> str:
    """A hash the payer expects, in the receipt's 0x form (the same check a receipt's fields get)."""
    try:
        return _bytes32(value, what)
    except ValueError as e:
        raise InvalidReceipt(f"the expected {what}: {e}", collection_id=receipt.collection_id) from None


class ReceiptSigner:
    """The provider's key bound to the escrow's domain: countersigns its responses.

    Args:
        domain: the escrow's domain (:class:`~computerails.vouchers.VoucherDomain`).
        private_key: the provider's key: 32 bytes, or their hex (with or without ``0x``).

    Raises:
        InvalidKey: `private_key` is not a valid secp256k1 key.
    """

    def __init__(self, domain: VoucherDomain, private_key: bytes | str) -> None:
        self._key, self.address = load_private_key(private_key, "receipt signer")
        self.domain = domain

    def __repr__(self) -> str:  # never show the key
        return f"ReceiptSigner(address={self.address}, domain={self.domain!r})"

    def sign(self, receipt: ResponseReceipt) -> bytes:
        """65 bytes ``r ‖ s ‖ v`` (low s).

        Raises:
            InvalidReceipt: the receipt names another provider than this key's address.
        """
        if receipt.provider != self.address:
            raise InvalidReceipt(
                f"receipt names provider {receipt.provider}, but this key is {self.address}: a provider signs only "
                "its own receipts",
                collection_id=receipt.collection_id,
            )
        return sign_digest(self._key, digest(self.domain, receipt))


# ───────────────────────── fraud attestations ─────────────────────────

FRAUD_ATTESTATION_TYPE = (
    "FraudAttestation(bytes32 receiptDigest,bytes32 recomputedResponseHash,uint256 deadline,uint256 configVersion)"
)
FRAUD_ATTESTATION_TYPEHASH = keccak256(FRAUD_ATTESTATION_TYPE.encode())
FRAUD_ATTESTATION_FIELDS: list[dict[str, str]] = [
    {"name": "receiptDigest", "type": "bytes32"},
    {"name": "recomputedResponseHash", "type": "bytes32"},
    {"name": "deadline", "type": "uint256"},
    {"name": "configVersion", "type": "uint256"},
]


class FraudAttestation(BaseModel):
    """What oracles sign when they recompute a paid request and get another answer than the one
    the provider signed: EIP-712 ``FraudAttestation`` in the MeteredEscrow's domain, over the
    receipt's digest. ``MeteredEscrow.submitFraudAttestation`` takes it with a quorum of the
    AttestationHub's oracles and slashes the provider.

    Construction checks every field and raises :class:`~computerails.errors.InvalidReceipt`.
    """

    model_config = ConfigDict(frozen=True)

    receipt: ResponseReceipt
    provider_signature: str  # 0x-prefixed 65 bytes: the provider's signature over the receipt
    recomputed_response_hash: Word  # what the request's answer hashes to, recomputed
    deadline: Uint256  # unix seconds; the oracles' signatures are void afterwards
    #: The hub's oracle configuration the signatures are made under. None: the current one,
    #: filled in by ``rails.oracle`` when signing and relaying.
    config_version: Uint256 | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            collection = getattr(data.get("receipt"), "collection_id", "")
            raise InvalidReceipt(
                f"invalid fraud attestation: {validation_problems(exc)}", collection_id=collection
            ) from None

    @field_validator("provider_signature", mode="before")
    @classmethod
    def _signature(cls, v: Any) -> str:
        raw = bytes(v) if isinstance(v, (bytes, bytearray)) else bytes.fromhex(str(v).removeprefix("0x"))
        if len(raw) != SIGNATURE_LENGTH:
            raise ValueError(f"provider_signature must be {SIGNATURE_LENGTH} bytes, got {len(raw)}")
        return "0x" + raw.hex()

    def _version(self) -> int:
        if self.config_version is None:
            raise ValueError("config_version is not set: sign and relay through rails.oracle, which fills it in")
        return self.config_version

    def struct_hash(self, domain: VoucherDomain) -> bytes:
        """``hashStruct(FraudAttestation)``: the receipt enters by its digest in `domain`."""
        return keccak256(
            FRAUD_ATTESTATION_TYPEHASH
            + digest(domain, self.receipt)
            + bytes.fromhex(self.recomputed_response_hash[2:])
            + self.deadline.to_bytes(32, "big")
            + self._version().to_bytes(32, "big")
        )

    def digest(self, domain: VoucherDomain) -> bytes:
        """What each oracle signs (the MeteredEscrow's ``fraudAttestationDigest``)."""
        return domain.typed_digest(self.struct_hash(domain))

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as ``submitFraudAttestation`` takes it.

        Raises:
            ValueError: ``config_version`` is not set.
        """
        return (
            self.receipt.as_tuple(),
            bytes.fromhex(self.provider_signature[2:]),
            bytes.fromhex(self.recomputed_response_hash[2:]),
            self.deadline,
            self._version(),
        )
