"""The signed health challenge between a provider agent and whoever probes it (an oracle node):
what ``GET /v1/health?challenge=0x<32 bytes>`` signs and how an answer is checked. Shared by the
agent (:mod:`computerails.agent.app`, which signs) and the oracle node
(:mod:`computerails.oracle_node.probes`, which verifies), so neither imports the other."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from computerails.addresses import parse_address


def health_message(challenge: bytes, chain_id: int, provider: str) -> bytes:
    """What ``/v1/health`` signs (EIP-191, ``personal_sign``): the challenge, the chain id as 32
    bytes big-endian, the provider's 20-byte address."""
    return challenge + chain_id.to_bytes(32, "big") + bytes.fromhex(parse_address(provider, "provider")[2:])


def verify_health(answer: dict[str, Any], challenge: bytes, chain_id: int, provider: str) -> bool:
    """Whether a ``/v1/health`` answer is `provider`'s signature over `challenge` on `chain_id`."""
    try:
        message = encode_defunct(primitive=health_message(challenge, chain_id, provider))
        recovered = Account.recover_message(message, signature=bytes.fromhex(str(answer["signature"])[2:]))
    except (KeyError, ValueError, TypeError):
        return False
    return bool(recovered == parse_address(provider, "provider"))
