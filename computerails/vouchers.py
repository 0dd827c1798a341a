"""Signed cumulative vouchers for the MeteredEscrow (issue 12): pay per request, settle the total.

A payer's :class:`Meter` signs, for every request, the next voucher of a collection: the same
payer, provider, token and collection id, with the value and the number of requests so far
(cumulative, so the latest voucher alone is worth collecting). The provider's
:class:`VoucherBook` checks each incoming voucher before serving the request (signature,
authorized signer, monotone, covered by the escrow) and keeps the latest per collection.

The EIP-712 encoding matches the contract's byte for byte:

* domain ``EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)``
  with name ``"ComputeRails MeteredEscrow"`` and version ``"1"``;
* ``Voucher(address payer,address provider,address token,bytes32 collectionId,
  uint128 valueAggregate,uint64 requestCount,uint64 timestamp,bytes32 metadata)``.

Signing and verification are on the hot path of every paid request, so the domain separator and
type hash are computed once per :class:`VoucherDomain`, the struct is packed by hand (every field
is one static 32-byte word) and hashed with pycryptodome's keccak, and the curve work is
libsecp256k1's through coincurve: no cryptography is written here. ``tests/sdk/test_vouchers.py``
checks digests and signatures against eth-account's generic ``encode_typed_data`` path;
``bench/vouchers.py`` measures both.

Amounts are raw integers in the token's smallest unit, as signed. The book lives in memory and,
given a :class:`VoucherStore` (``computerails.voucher_store.SqliteVoucherStore``), writes every
voucher it accepts to it before acknowledging it, so a restarted provider still holds every
voucher it served requests on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Protocol

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as _keccak
from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from computerails.addresses import parse_address, parse_bytes32
from computerails.eip712 import DOMAIN_FIELDS, DOMAIN_TYPE, SECP256K1_HALF_N, SIGNATURE_LENGTH
from computerails.errors import (
    BudgetExceeded,
    ComputeRailsError,
    InvalidKey,
    InvalidVoucher,
    InvalidVoucherSignature,
    StaleVoucher,
    VoucherNotCovered,
)

DOMAIN_NAME = "ComputeRails MeteredEscrow"
DOMAIN_VERSION = "1"
VOUCHER_TYPE = (
    "Voucher(address payer,address provider,address token,bytes32 collectionId,uint128 valueAggregate,"
    "uint64 requestCount,uint64 timestamp,bytes32 metadata)"
)

#: EIP-712 field list, as eth-account's ``encode_typed_data`` and wallets expect it.
VOUCHER_FIELDS: list[dict[str, str]] = [
    {"name": "payer", "type": "address"},
    {"name": "provider", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "collectionId", "type": "bytes32"},
    {"name": "valueAggregate", "type": "uint128"},
    {"name": "requestCount", "type": "uint64"},
    {"name": "timestamp", "type": "uint64"},
    {"name": "metadata", "type": "bytes32"},
]

#: Voucher digests a domain remembers (a cache: cleared when full).
_DIGEST_MEMORY = 4_096

UINT128_MAX = 2**128 - 1
UINT64_MAX = 2**64 - 1
ZERO32 = "0x" + "00" * 32
_PAD12 = bytes(12)


def _keccak256_pycryptodome(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


try:  # pysha3's C type: one call, and the GIL held throughout (short inputs)
    from sha3 import keccak_256 as _keccak_256
except ImportError:  # pragma: no cover - safe-pysha3 is a dependency; a platform without it still hashes
    _keccak_256 = None


def keccak256(data: bytes) -> bytes:
    """keccak-256 of `data`: safe-pysha3's C type, else pycryptodome's C implementation (both
    without eth_utils' dispatch). pycryptodome goes through ctypes, whose every call lets go of
    the GIL: on the agent's paid path, several times per hash, each time waiting to get it back
    from the event loop; pysha3 keeps it."""
    if _keccak_256 is None:
        return _keccak256_pycryptodome(data)
    digest: bytes = _keccak_256(data).digest()
    return digest


VOUCHER_TYPEHASH = keccak256(VOUCHER_TYPE.encode())
DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE.encode())


def _bytes32(value: Any, what: str) -> str:
    return "0x" + parse_bytes32(value, what).hex()


def new_collection_id() -> str:
    """A fresh random collection id (32 bytes, hex): one per payer-provider session."""
    return "0x" + os.urandom(32).hex()


def _checksummed(v: str, info: ValidationInfo) -> str:
    return parse_address(v, str(info.field_name))


@lru_cache(maxsize=4_096)
def _checksum(raw: bytes) -> str:
    """The EIP-55 form of 20 address bytes (remembered: the same signers recover again and again)."""
    return to_checksum_address(raw)


@lru_cache(maxsize=4_096)
def _payer_and_signer(payer: str, signer: str) -> tuple[str, bytes]:
    """The checksummed payer and the signer's 20 bytes (remembered: the agent's admission
    authorizes the same pair on every request)."""
    return parse_address(payer, "payer"), bytes.fromhex(parse_address(signer, "signer")[2:])


def _word(v: Any, info: ValidationInfo) -> str:
    return _bytes32(v, str(info.field_name))


def _uint(bits: int) -> Callable[[int], int]:
    def check(v: int) -> int:
        if not 0 <= v < 1 << bits:
            raise ValueError(f"must be within 0..2**{bits}-1 (uint{bits})")
        return v

    return check


#: Field types of the EIP-712 structs signed under the escrow's domain (vouchers, receipts).
Address = Annotated[str, AfterValidator(_checksummed)]  # checksummed on construction
Word = Annotated[str, BeforeValidator(_word)]  # 0x-prefixed 32 bytes, from bytes or hex
Uint128 = Annotated[int, AfterValidator(_uint(128))]
Uint64 = Annotated[int, AfterValidator(_uint(64))]
Uint256 = Annotated[int, AfterValidator(_uint(256))]


def validation_problems(error: ValidationError) -> str:
    """pydantic's errors as one line: ``field: problem; field: problem``."""
    return "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in error.errors())


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


class StaticStruct(BaseModel):
    """Base of the EIP-712 structs signed under the escrow's domain whose fields are all static
    words (addresses, bytes32, uints): the encoding is a concatenation, packed by hand from the
    subclass's field list (Python attributes are the EIP-712 names in snake case).

    Subclasses set :attr:`TYPEHASH`, :attr:`FIELDS`, :attr:`LAYOUT` (``static_layout(FIELDS)``)
    and :attr:`INVALID`, the error raised (with ``collection_id``) when a field is malformed.
    """

    model_config = ConfigDict(frozen=True)

    TYPEHASH: ClassVar[bytes]
    FIELDS: ClassVar[list[dict[str, str]]]
    LAYOUT: ClassVar[tuple[tuple[str, str, str], ...]]
    INVALID: ClassVar[Callable[..., ComputeRailsError]]
    WHAT: ClassVar[str]

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise self.INVALID(
                f"invalid {self.WHAT}: {validation_problems(e)}", collection_id=str(data.get("collection_id", ""))
            ) from e

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (field names as signed), for wallets and eth-account."""
        return {
            name: bytes.fromhex(getattr(self, attr)[2:]) if kind == "bytes32" else getattr(self, attr)
            for name, attr, kind in self.LAYOUT
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as the contract takes it."""
        return tuple(self.message().values())

    def struct_hash(self) -> bytes:
        """``hashStruct``: the type hash and one 32-byte word per field, keccak-hashed."""
        words = [self.TYPEHASH]
        for _name, attr, kind in self.LAYOUT:
            value = getattr(self, attr)
            if kind == "address":
                words += (_PAD12, bytes.fromhex(value[2:]))
            elif kind == "bytes32":
                words.append(bytes.fromhex(value[2:]))
            else:  # uintN
                words.append(value.to_bytes(32, "big"))
        return keccak256(b"".join(words))


def static_layout(fields: list[dict[str, str]]) -> tuple[tuple[str, str, str], ...]:
    """(EIP-712 name, Python attribute, type) per field, for :class:`StaticStruct`."""
    return tuple((f["name"], _snake(f["name"]), f["type"]) for f in fields)


class Voucher(StaticStruct):
    """EIP-712 ``Voucher``: what a payer owes a provider on one collection so far.

    Construction checks every field and raises :class:`~computerails.errors.InvalidVoucher`
    (``model_validate`` raises pydantic's ``ValidationError``, a ``ValueError`` too).
    """

    TYPEHASH = VOUCHER_TYPEHASH
    FIELDS = VOUCHER_FIELDS
    LAYOUT = static_layout(VOUCHER_FIELDS)
    INVALID = InvalidVoucher
    WHAT = "voucher"

    payer: Address
    provider: Address
    token: Address
    collection_id: Word
    value_aggregate: Uint128  # cumulative value, smallest token units
    request_count: Uint64  # cumulative number of requests
    timestamp: Uint64  # unix seconds when signed
    metadata: Word = ZERO32  # a hash the payer and provider agree on


def signed_to_json(voucher: Voucher, signature: bytes) -> dict[str, Any]:
    """A signed voucher as JSON-ready data: ``{"voucher": {...}, "signature": "0x..."}`` (what a
    payer hands a provider, and what ``computerails provider collect --voucher-file`` reads)."""
    return {"voucher": voucher.model_dump(mode="json"), "signature": "0x" + bytes(signature).hex()}


def signed_from_json(data: Any) -> tuple[Voucher, bytes]:
    """The voucher and signature of :func:`signed_to_json`'s form.

    Raises:
        InvalidVoucher: not that form, a field is invalid, or the signature is not hex.
    """
    if not isinstance(data, dict) or not isinstance(data.get("voucher"), dict) or "signature" not in data:
        raise InvalidVoucher('a signed voucher is {"voucher": {...}, "signature": "0x..."}')
    voucher = Voucher(**data["voucher"])
    try:
        signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
    except ValueError:
        raise InvalidVoucher("the voucher's signature is not hex", collection_id=voucher.collection_id) from None
    return voucher, signature


def _address_from_public_key(public_key: PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def recover_signer(digest: bytes, signature: bytes, what: str, fail: Callable[[str], ComputeRailsError]) -> bytes:
    """The 20-byte address that signed `digest` with `signature` (65 bytes ``r ‖ s ‖ v``), as the
    escrow's ``ECDSA.tryRecoverCalldata`` accepts it.

    Args:
        digest: the EIP-712 digest.
        signature: the signature to check.
        what: what was signed (``"voucher"``, ``"receipt"``), for the messages.
        fail: builds the typed error from a message.

    Raises:
        the error `fail` builds: wrong length, v not 27 or 28, high s, or no key recovers.
    """
    found = _recover(digest, bytes(signature))
    if isinstance(found, str):
        raise fail(f"{what} {found}")
    return found


@lru_cache(maxsize=4_096)
def _recover(digest: bytes, signature: bytes) -> bytes | str:
    """The signer's 20 bytes, or what is wrong with the signature. Remembered: the agent's
    paid path checks each voucher twice (its own admission, then the book's), and the curve
    work is most of what a check costs."""
    if len(signature) != SIGNATURE_LENGTH:
        return f"signature is {len(signature)} bytes, expected 65"
    v = signature[64]
    if v not in (27, 28):
        return f"signature v is {v}, expected 27 or 28"
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        return "signature s is in the upper half of the curve order (a malleable twin; the escrow refuses it)"
    try:
        public_key = PublicKey.from_signature_and_message(signature[:64] + bytes((v - 27,)), digest, hasher=None)
    except Exception as e:  # r or s zero or out of range: libsecp256k1 recovers nothing
        return f"signature recovers no key: {e}"
    return _address_from_public_key(public_key)


def load_private_key(private_key: bytes | str, what: str) -> tuple[PrivateKey, str]:
    """A coincurve key and its checksummed address.

    Raises:
        InvalidKey: `private_key` is not a valid secp256k1 key (32 bytes, or their hex).
    """
    try:
        raw = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else private_key
        key = PrivateKey(raw)
    except Exception:
        raise InvalidKey(f"the {what} key is not a secp256k1 private key (32 bytes of hex)") from None
    return key, to_checksum_address(_address_from_public_key(key.public_key))


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """65 bytes ``r ‖ s ‖ v`` (v 27 or 28; libsecp256k1 always produces the low-s form)."""
    rs_id = key.sign_recoverable(digest, hasher=None)
    return rs_id[:64] + bytes((rs_id[64] + 27,))


class VoucherDomain:
    """The MeteredEscrow's EIP-712 domain on one chain: hashes, recovers and verifies vouchers.

    Args:
        chain_id: the chain the escrow is on.
        escrow: the MeteredEscrow's address (the domain's ``verifyingContract``).
    """

    def __init__(self, chain_id: int, escrow: str) -> None:
        self.chain_id = chain_id
        self.escrow = parse_address(escrow, "escrow")
        self.separator = keccak256(
            DOMAIN_TYPEHASH
            + keccak256(DOMAIN_NAME.encode())
            + keccak256(DOMAIN_VERSION.encode())
            + chain_id.to_bytes(32, "big")
            + _PAD12
            + bytes.fromhex(self.escrow[2:])
        )
        self._prefix = b"\x19\x01" + self.separator
        # Digests of recent vouchers: the agent's paid path hashes each voucher twice (its own
        # admission, then the book's). Frozen vouchers hash and compare by their fields.
        self._digests: dict[Voucher, bytes] = {}

    def __repr__(self) -> str:
        return f"VoucherDomain(chain_id={self.chain_id}, escrow={self.escrow})"

    @staticmethod
    def struct_hash(voucher: Voucher) -> bytes:
        """``hashStruct(Voucher)``: every field is one static word, so encoding is concatenation."""
        return voucher.struct_hash()

    def typed_digest(self, struct_hash: bytes) -> bytes:
        """``keccak256("\\x19\\x01" ‖ domainSeparator ‖ struct_hash)``: what is signed, for any
        struct under this domain (vouchers, response receipts)."""
        return keccak256(self._prefix + struct_hash)

    def digest(self, voucher: Voucher) -> bytes:
        """``keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(voucher))``: what is signed."""
        found = self._digests.get(voucher)
        if found is None:
            found = self.typed_digest(voucher.struct_hash())
            if len(self._digests) >= _DIGEST_MEMORY:
                self._digests.clear()
            self._digests[voucher] = found
        return found

    def typed_document(
        self, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]
    ) -> dict[str, Any]:
        """A full EIP-712 typed-data document under this domain, for wallets and eth-account."""
        return {
            "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: fields},
            "primaryType": primary_type,
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": self.chain_id,
                "verifyingContract": self.escrow,
            },
            "message": message,
        }

    def typed_data(self, voucher: Voucher) -> dict[str, Any]:
        """The full EIP-712 typed-data document, for wallets and eth-account's encoder."""
        return self.typed_document("Voucher", VOUCHER_FIELDS, voucher.message())

    def _recover_bytes(self, voucher: Voucher, signature: bytes) -> bytes:
        collection = voucher.collection_id
        return recover_signer(
            self.digest(voucher),
            signature,
            "voucher",
            lambda message: InvalidVoucherSignature(message, collection_id=collection),
        )

    def recover(self, voucher: Voucher, signature: bytes) -> str:
        """The checksummed address that signed `voucher` with `signature` (65 bytes ``r ‖ s ‖ v``).

        Raises:
            InvalidVoucherSignature: wrong length, v not 27 or 28, high s, or no key recovers.
        """
        return _checksum(self._recover_bytes(voucher, signature))

    def verify(self, voucher: Voucher, signature: bytes, expected_signer: str) -> bool:
        """Whether `signature` over `voucher` is a well-formed low-s signature by `expected_signer`.

        Malformed signatures (as :meth:`recover` refuses them) verify as False.
        """
        try:
            recovered = self._recover_bytes(voucher, signature)
        except InvalidVoucherSignature:
            return False
        return recovered == bytes.fromhex(parse_address(expected_signer, "signer")[2:])


class VoucherSigner:
    """A signer key bound to a :class:`VoucherDomain`: signs vouchers.

    Args:
        domain: the escrow's domain.
        private_key: 32 bytes, or their hex (with or without ``0x``).

    Raises:
        InvalidKey: `private_key` is not a valid secp256k1 key.
    """

    def __init__(self, domain: VoucherDomain, private_key: bytes | str) -> None:
        self._key, self.address = load_private_key(private_key, "voucher signer")
        self.domain = domain

    def __repr__(self) -> str:  # never show the key
        return f"VoucherSigner(address={self.address}, domain={self.domain!r})"

    def sign(self, voucher: Voucher) -> bytes:
        """65 bytes ``r ‖ s ‖ v`` (v 27 or 28; libsecp256k1 always produces the low-s form)."""
        return self.sign_digest(self.domain.digest(voucher))

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte EIP-712 digest of this domain (a signer's consent proof, say): 65
        bytes ``r ‖ s ‖ v``, low s."""
        return sign_digest(self._key, digest)


class Meter:
    """The payer's side of a collection: signs the next cumulative voucher for each request,
    never past a budget cap. Thread-safe: concurrent requests get distinct, increasing vouchers.

    Args:
        signer: the payer's authorized hot key.
        payer: the escrow account paying (may differ from the signer's address).
        provider: who is paid.
        token: the payment token.
        budget: the most the value aggregate may reach (smallest token units).
        collection_id: the collection (default: a fresh random id).
        value_aggregate: resume from this value (default 0: a new collection).
        request_count: resume from this count.
        clock: unix seconds for the voucher's timestamp (default: the wall clock).

    Raises:
        InvalidVoucher: an address, the collection id or a starting figure is malformed.
    """

    def __init__(
        self,
        signer: VoucherSigner,
        *,
        payer: str,
        provider: str,
        token: str,
        budget: int,
        collection_id: str | bytes | None = None,
        value_aggregate: int = 0,
        request_count: int = 0,
        clock: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.signer = signer
        self._clock = clock
        self._lock = threading.Lock()
        self._budget = budget
        # Validates every field once; later vouchers copy it with the running figures.
        self._latest = Voucher(
            payer=payer,
            provider=provider,
            token=token,
            collection_id=collection_id if collection_id is not None else new_collection_id(),
            value_aggregate=value_aggregate,
            request_count=request_count,
            timestamp=0,
        )
        if value_aggregate > budget:
            raise BudgetExceeded(budget, value_aggregate, 0)

    @property
    def collection_id(self) -> str:
        return self._latest.collection_id

    @property
    def latest(self) -> Voucher:
        """The last voucher signed (before the first: the collection's fields with the starting
        figures and timestamp 0)."""
        return self._latest

    @property
    def value_aggregate(self) -> int:
        return self._latest.value_aggregate

    @property
    def request_count(self) -> int:
        return self._latest.request_count

    @property
    def budget(self) -> int:
        return self._budget

    @property
    def remaining(self) -> int:
        """What may still be signed before the cap."""
        return self._budget - self._latest.value_aggregate

    def raise_budget(self, budget: int) -> None:
        """Set a new cap; it may not drop below what is already signed.

        Raises:
            BudgetExceeded: `budget` is below the value aggregate signed so far.
        """
        with self._lock:
            if budget < self._latest.value_aggregate:
                raise BudgetExceeded(budget, self._latest.value_aggregate, 0)
            self._budget = budget

    def next(self, value: int, metadata: bytes | str = ZERO32) -> tuple[Voucher, bytes]:
        """Sign the voucher for one more request worth `value`.

        Args:
            value: the request's price in smallest token units (0 allowed: a free request still
                advances the count).
            metadata: 32 bytes the provider and payer agree on (a request hash, say).

        Returns:
            The voucher and its 65-byte signature.

        Raises:
            BudgetExceeded: the value aggregate would pass the budget; nothing was signed.
            InvalidVoucher: `value` is negative, `metadata` is not 32 bytes, or the count would
                overflow uint64.
        """
        if value < 0:
            raise InvalidVoucher(
                f"a request's value must not be negative, got {value}", collection_id=self.collection_id
            )
        with self._lock:
            latest = self._latest
            if latest.value_aggregate + value > self._budget:
                raise BudgetExceeded(self._budget, latest.value_aggregate, value)
            voucher = Voucher(
                payer=latest.payer,
                provider=latest.provider,
                token=latest.token,
                collection_id=latest.collection_id,
                value_aggregate=latest.value_aggregate + value,
                request_count=latest.request_count + 1,
                timestamp=self._clock(),
                metadata=metadata,
            )
            signature = self.signer.sign(voucher)
            self._latest = voucher
        return voucher, signature


class VoucherStore(Protocol):
    """Where a :class:`VoucherBook` keeps what it accepted, across restarts."""

    def load(self, provider: str) -> dict[str, tuple[Voucher, bytes]]:
        """Collection id -> the latest voucher and signature kept for `provider`."""
        ...

    def save(self, voucher: Voucher, signature: bytes) -> None:
        """Keep `voucher` as its collection's latest, durably, or raise and keep nothing."""
        ...


class VoucherBook:
    """The provider's side: verifies incoming vouchers and keeps the latest per collection.

    A voucher is accepted when it names this provider and an accepted token, is signed (low s)
    by a signer authorized for its payer, belongs to the same payer and token as the
    collection's earlier vouchers, advances the collection (request count strictly up, value
    aggregate not down), and, when an escrow balance is given, leaves no more uncollected than
    the balance less the safety margin.

    With a `store`, the book starts from what the store kept, and :meth:`accept` returns only
    once the voucher is written there: a voucher acknowledged is never forgotten by a restart,
    and a write that fails leaves both the store and the book as they were.

    Args:
        domain: the escrow's domain.
        provider: this provider's address; vouchers for anyone else are refused.
        signers: payer -> the signer addresses authorized for it (mirror of the escrow's).
        tokens: the tokens accepted (default: any).
        safety_margin_bps: the share of the escrow balance not counted as cover (0..10000).
        store: where accepted vouchers are kept across restarts (default: nowhere).
    """

    def __init__(
        self,
        domain: VoucherDomain,
        provider: str,
        signers: Mapping[str, Iterable[str]] | None = None,
        *,
        tokens: Iterable[str] | None = None,
        safety_margin_bps: int = 0,
        store: VoucherStore | None = None,
    ) -> None:
        if not 0 <= safety_margin_bps <= 10_000:
            raise ValueError(f"safety_margin_bps must be within 0..10000, got {safety_margin_bps}")
        self.domain = domain
        self.provider = parse_address(provider, "provider")
        self.tokens = None if tokens is None else frozenset(parse_address(t, "token") for t in tokens)
        self.safety_margin_bps = safety_margin_bps
        self._signers: dict[str, set[bytes]] = {}
        self.store = store
        self._latest: dict[str, tuple[Voucher, bytes]] = store.load(self.provider) if store is not None else {}
        # (payer, token) -> its collections' ids: the cover is shared by them.
        self._by_payer: dict[tuple[str, str], set[str]] = {}
        for cid, (kept, _sig) in self._latest.items():
            self._by_payer.setdefault((kept.payer, kept.token), set()).add(cid)
        self._lock = threading.Lock()  # the book's maps
        # One per collection, held from the checks until the voucher is kept: vouchers of
        # different collections are written side by side (a store can commit them together).
        self._collection_locks: dict[str, threading.Lock] = {}
        for payer, addresses in (signers or {}).items():
            for address in addresses:
                self.authorize(payer, address)

    def authorize(self, payer: str, signer: str) -> None:
        """Accept vouchers for `payer` signed by `signer`."""
        key, raw = _payer_and_signer(payer, signer)
        with self._lock:
            self._signers.setdefault(key, set()).add(raw)

    def revoke(self, payer: str, signer: str) -> None:
        """Refuse further vouchers for `payer` signed by `signer` (those kept stay kept)."""
        key, raw = _payer_and_signer(payer, signer)
        with self._lock:
            self._signers.get(key, set()).discard(raw)

    def payer_collections(self, payer: str, token: str) -> list[tuple[str, Voucher]]:
        """(collection id, latest voucher) of every collection kept for `payer` in `token` (what
        shares one escrow balance): read from an index, not by scanning every collection."""
        with self._lock:
            ids = self._by_payer.get((payer, token), ())
            return [(cid, self._latest[cid][0]) for cid in ids]

    def latest(self, collection_id: str | bytes) -> tuple[Voucher, bytes] | None:
        """The latest accepted voucher of a collection and its signature, or None."""
        return self._latest.get(_bytes32(collection_id, "collection_id"))

    def collections(self) -> dict[str, tuple[Voucher, bytes]]:
        """Collection id -> its latest accepted voucher and signature."""
        with self._lock:
            return dict(self._latest)

    def accept(
        self,
        voucher: Voucher,
        signature: bytes,
        *,
        escrow_balance: int | None = None,
        collected: int = 0,
        reserved: int = 0,
        also: Callable[[Any], object] | None = None,
    ) -> Voucher:
        """Verify `voucher` and keep it as its collection's latest.

        Args:
            voucher: the voucher received with a request.
            signature: its 65-byte ``r ‖ s ‖ v`` signature.
            escrow_balance: the payer's escrow balance for this provider and token (smallest
                units); None skips the cover check.
            collected: what the escrow already paid out on this collection.
            reserved: what the payer's other collections with this provider and token leave
                uncollected: the cover left for this one is the balance less the margin less
                this, so the payer's whole outstanding value stays within the cover.
            also: more writes for the store's transaction that keeps the voucher (a
                :class:`~computerails.voucher_store.SqliteVoucherStore` passes its connection):
                both commit, or neither. Needs a store.

        Returns:
            The voucher, now the collection's latest.

        Raises:
            InvalidVoucher: for another provider or an unaccepted token, or a collection id
                already used by another payer or token.
            InvalidVoucherSignature: malformed, high s, or not from an authorized signer.
            StaleVoucher: older, reordered or replayed.
            VoucherNotCovered: the escrow would not cover what the voucher leaves uncollected.
            Exception: the store could not write it (the book is unchanged; do not serve).
        """
        collection = voucher.collection_id
        with self._lock:
            serial = self._collection_locks.setdefault(collection, threading.Lock())
        with serial:
            self.check(voucher, signature, escrow_balance=escrow_balance, collected=collected, reserved=reserved)
            if also is not None:
                if self.store is None:
                    raise ValueError("also= needs a book with a store: there is no transaction to join")
                self.store.save(voucher, signature, also=also)  # type: ignore[call-arg]
            elif self.store is not None:
                self.store.save(voucher, signature)  # durable before it is acknowledged
            self.keep(voucher, signature)
        return voucher

    def check(
        self,
        voucher: Voucher,
        signature: bytes,
        *,
        escrow_balance: int | None = None,
        collected: int = 0,
        reserved: int = 0,
    ) -> None:
        """:meth:`accept`'s checks alone: raises what :meth:`accept` would, keeps nothing.

        For a caller that writes the voucher itself (the provider agent's event loop, through
        :meth:`~computerails.voucher_store.SqliteVoucherStore.save_async`) and then calls
        :meth:`keep`. From the check until the keep, that caller must hold off every other
        voucher of the same collection, whoever its payer (a collection id is the payer's
        choice), and of the same payer and token if it checks the cover with ``reserved``: the
        agent holds one lock per collection and one per payer and token.
        """
        collection = voucher.collection_id
        if voucher.provider != self.provider:
            raise InvalidVoucher(
                f"voucher is for provider {voucher.provider}, not this provider {self.provider}",
                collection_id=collection,
            )
        if self.tokens is not None and voucher.token not in self.tokens:
            raise InvalidVoucher(
                f"voucher pays in {voucher.token}, a token not accepted here", collection_id=collection
            )
        recovered = self.domain._recover_bytes(voucher, signature)
        with self._lock:
            if recovered not in self._signers.get(voucher.payer, ()):
                raise InvalidVoucherSignature(
                    f"voucher is signed by {to_checksum_address(recovered)}, not a signer authorized for payer "
                    f"{voucher.payer}",
                    recovered=to_checksum_address(recovered),
                    collection_id=collection,
                )
            kept = self._latest.get(collection)
        if kept is not None:
            before = kept[0]
            if (before.payer, before.token) != (voucher.payer, voucher.token):
                raise InvalidVoucher(
                    f"collection {collection} belongs to payer {before.payer} in token {before.token}",
                    collection_id=collection,
                )
            if voucher.request_count <= before.request_count:
                raise StaleVoucher(collection, "request_count", before.request_count, voucher.request_count)
            if voucher.value_aggregate < before.value_aggregate:
                raise StaleVoucher(collection, "value_aggregate", before.value_aggregate, voucher.value_aggregate)
        if escrow_balance is not None:
            cover = max(escrow_balance * (10_000 - self.safety_margin_bps) // 10_000 - reserved, 0)
            outstanding = voucher.value_aggregate - collected
            if outstanding > cover:
                raise VoucherNotCovered(collection, outstanding, cover)

    def keep(self, voucher: Voucher, signature: bytes) -> None:
        """Make `voucher` (checked by :meth:`check`, and written by the caller's store) its
        collection's latest in memory; a voucher not above the kept one's request count leaves
        it as it was, as the store's upsert does."""
        collection = voucher.collection_id
        with self._lock:
            kept = self._latest.get(collection)
            if kept is not None and voucher.request_count <= kept[0].request_count:
                return
            self._latest[collection] = (voucher, signature)
            if kept is None:
                self._by_payer.setdefault((voucher.payer, voucher.token), set()).add(collection)
