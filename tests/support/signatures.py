"""Raw signature building and a plain-Python model of the AttestationHub's quorum check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_keys.exceptions import BadSignature
from eth_utils import to_checksum_address

from computerails import eip712

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# ─────────────────────────── signatures ───────────────────────────


def addr_key(address: str) -> int:
    return int(address, 16)


def raw_signatures(digest: bytes, signers: Sequence[Any]) -> bytes:
    """Signatures of `signers` concatenated in the order given (no sorting, no dedup)."""
    return b"".join(eip712.sign_digest(digest, s.private_key) for s in signers)


def recover(digest: bytes, signature: bytes) -> str | None:
    """The address OpenZeppelin's ECDSA.tryRecover returns, or None where it reports an error."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N // 2 or v not in (27, 28) or not (0 < r < SECP256K1_N) or s == 0:
        return None
    try:
        return Account._recover_hash(digest, vrs=(v, r, s))
    except (BadSignature, ValueError):
        return None


def high_s_twin(signature: bytes) -> bytes:
    """The malleable twin of a signature: s' = n - s with v flipped 27 <-> 28. It verifies
    under plain secp256k1 for the same key; only the low-s rule rejects it."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def predicted_rejection(
    digest: bytes, signatures: bytes, oracle_set: Sequence[str], threshold: int
) -> tuple[str, dict[str, Any]] | None:
    """Mirror of AttestationHub._verifyQuorum: the (error name, arguments) it reverts with."""
    if len(signatures) % 65:
        return "SignatureLengthInvalid", {"length": len(signatures)}
    count = len(signatures) // 65
    if count < threshold:
        return "InsufficientSignatures", {"required": threshold, "provided": count}
    members = {addr_key(a) for a in oracle_set}
    previous = "0x" + "00" * 20
    for i in range(count):
        signer = recover(digest, signatures[65 * i : 65 * (i + 1)])
        if signer is None:
            return "InvalidSignature", {"index": i}
        if addr_key(signer) <= addr_key(previous):
            return "SignersNotAscending", {"previous": to_checksum_address(previous), "signer": signer}
        if addr_key(signer) not in members:
            return "SignerNotOracle", {"signer": signer}
        previous = signer
    return None
