"""EIP-712 digests and signatures for the AttestationHub, without Ape.

The digests are built by hand (keccak over ABI-encoded words) because signing throughput
matters to oracles; ``tests/sdk/test_eip712.py`` checks them against both eth-account's
generic ``encode_typed_data`` and the contract's own ``attestationDigest`` /
``uptimeReportDigest`` on hypothesis-generated inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "ComputeRails AttestationHub"
DOMAIN_VERSION = "2"

ATTESTATION_TYPE = (
    "ComputeAttestation(uint256 jobId,address provider,bool success,uint256 units,bytes32 resultHash,uint256 deadline,"
    "uint256 configVersion)"
)
UPTIME_REPORT_TYPE = (
    "UptimeReport(address provider,uint256 epoch,uint256 uptimeBps,address relayer,uint256 configVersion)"
)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

ATTESTATION_TYPEHASH = keccak(text=ATTESTATION_TYPE)
UPTIME_REPORT_TYPEHASH = keccak(text=UPTIME_REPORT_TYPE)
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)

SIGNATURE_LENGTH = 65
#: Signatures with s above this are malleable twins; the hub (OpenZeppelin ECDSA) rejects them.
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

#: The EIP712Domain fields every domain here uses (the hub's and EIP-2612 token permits).
DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

#: EIP-712 field lists, as eth-account's ``encode_typed_data`` and wallets expect them.
EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "ComputeAttestation": [
        {"name": "jobId", "type": "uint256"},
        {"name": "provider", "type": "address"},
        {"name": "success", "type": "bool"},
        {"name": "units", "type": "uint256"},
        {"name": "resultHash", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
        {"name": "configVersion", "type": "uint256"},
    ],
    "UptimeReport": [
        {"name": "provider", "type": "address"},
        {"name": "epoch", "type": "uint256"},
        {"name": "uptimeBps", "type": "uint256"},
        {"name": "relayer", "type": "address"},
        {"name": "configVersion", "type": "uint256"},
    ],
}


def domain_separator(chain_id: int, hub_address: str) -> bytes:
    """The hub's EIP-712 domain separator: binds name, version, chain id and address."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id, hub_address],
        )
    )


def attestation_struct_hash(
    job_id: int, provider: str, success: bool, units: int, result_hash: bytes, deadline: int, config_version: int
) -> bytes:
    """``hashStruct(ComputeAttestation)``."""
    return keccak(
        encode(
            ["bytes32", "uint256", "address", "bool", "uint256", "bytes32", "uint256", "uint256"],
            [ATTESTATION_TYPEHASH, job_id, provider, success, units, result_hash, deadline, config_version],
        )
    )


def uptime_report_struct_hash(provider: str, epoch: int, uptime_bps: int, relayer: str, config_version: int) -> bytes:
    """``hashStruct(UptimeReport)``."""
    return keccak(
        encode(
            ["bytes32", "address", "uint256", "uint256", "address", "uint256"],
            [UPTIME_REPORT_TYPEHASH, provider, epoch, uptime_bps, relayer, config_version],
        )
    )


def typed_digest(separator: bytes, struct_hash: bytes) -> bytes:
    """``keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(message))``."""
    return keccak(b"\x19\x01" + separator + struct_hash)


def sign_digest(digest: bytes, private_key: Any) -> bytes:
    """Sign a 32-byte digest: 65 bytes ``r ‖ s ‖ v`` with low s, as the hub requires."""
    signed: SignedMessage = Account.unsafe_sign_hash(digest, private_key)  # annotated: combomethod hides the type
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def recover(digest: bytes, signature: bytes) -> str:
    """The checksummed address that produced a 65-byte ``r ‖ s ‖ v`` signature over `digest`.

    Raises:
        ValueError: malformed signature (wrong length, bad v, high s).
    """
    if len(signature) != SIGNATURE_LENGTH:
        raise ValueError(f"signature is {len(signature)} bytes, expected 65")
    v = signature[64]
    if v not in (27, 28):
        raise ValueError(f"signature v is {v}, expected 27 or 28")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        raise ValueError("signature s is in the upper half of the curve order (malleable)")
    sig = keys.Signature(signature_bytes=signature[:64] + bytes([v - 27]))
    return sig.recover_public_key_from_msg_hash(digest).to_checksum_address()


def pack_signatures(signatures: Iterable[tuple[str, bytes]]) -> bytes:
    """Concatenate (signer, signature) pairs in strictly increasing signer order.

    Raises:
        ValueError: a signer appears twice or a signature is not 65 bytes long.
    """
    ordered = sorted(signatures, key=lambda pair: int(pair[0], 16))
    seen: set[int] = set()
    for signer, signature in ordered:
        if int(signer, 16) in seen:
            raise ValueError(f"signer {to_checksum_address(signer)} appears twice")
        if len(signature) != SIGNATURE_LENGTH:
            raise ValueError(f"signature of {to_checksum_address(signer)} is {len(signature)} bytes, expected 65")
        seen.add(int(signer, 16))
    return b"".join(signature for _, signature in ordered)


def sign_all(digest: bytes, private_keys: Iterable[Any]) -> bytes:
    """Every key's signature over `digest`, packed for the hub (:func:`pack_signatures`): what
    a quorum's relayer sends, for devnets, tests and benches that hold the oracles' keys."""
    return pack_signatures((Account.from_key(k).address, sign_digest(digest, k)) for k in private_keys)


def typed_data(primary_type: str, chain_id: int, hub_address: str, message: dict[str, Any]) -> dict[str, Any]:
    """The full EIP-712 typed-data document, for wallets and for eth-account's encoder."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: EIP712_TYPES[primary_type]},
        "primaryType": primary_type,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(hub_address),
        },
        "message": message,
    }
