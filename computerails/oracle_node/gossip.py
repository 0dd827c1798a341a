"""Messages between oracle nodes: signed envelopes over HTTP.

An :class:`Envelope` carries one message (``kind`` and ``body``), its sender (an oracle of the
hub), when it was sent, and the network it belongs to (chain id and hub address). Its id is the
keccak of its canonical JSON (sorted keys, no spaces, without the signature); the sender signs
the id (EIP-191). A receiver accepts a message only when (:func:`check`):

- it names this network (chain id and hub): else 400 ``other_network``;
- it was sent within ``ttl`` seconds of the receiver's clock, either way: else 400 ``stale``
  (an old message cannot be replayed once its id has been forgotten);
- its signature recovers to its sender: else 403 ``bad_signature``;
- the sender is one of the hub's current oracles and not the receiver: else 403 ``not_member``;
- its id was not accepted before: else 409 ``replay`` (the receiver keeps ids for twice ``ttl``).

:class:`PeerLink` sends envelopes to the configured peers (httpx, one short timeout per peer);
an unreachable peer is logged once per outage and retried with the next re-send.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from computerails import _http
from computerails.addresses import parse_address
from computerails.errors import GossipRefused
from computerails.oracle_node.config import Peer

log = logging.getLogger("computerails.oracle.gossip")

HEALTH_PATH = "/v1/health"
GOSSIP_PATH = "/v1/gossip"
KINDS = frozenset({"observation", "signature", "evidence"})


class Envelope(BaseModel):
    """One signed message between oracle nodes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    body: dict[str, Any]
    sender: str
    sent_at: int
    chain_id: int
    hub: str
    signature: str = ""

    @field_validator("sender", "hub")
    @classmethod
    def _address(cls, v: str) -> str:
        return parse_address(v, "address")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r}; known: {sorted(KINDS)}")
        return v

    def canonical(self) -> bytes:
        fields = self.model_dump(exclude={"signature"})
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    @property
    def message_id(self) -> bytes:
        return keccak(self.canonical())

    def signer(self) -> str | None:
        """Who signed the id, or None when the signature does not parse."""
        try:
            raw = bytes.fromhex(self.signature.removeprefix("0x"))
            return str(Account.recover_message(encode_defunct(primitive=self.message_id), signature=raw))
        except (ValueError, TypeError):
            return None


def seal(kind: str, body: dict[str, Any], account: LocalAccount, *, chain_id: int, hub: str, now: int) -> Envelope:
    """A message from `account`, signed."""
    envelope = Envelope(kind=kind, body=body, sender=account.address, sent_at=now, chain_id=chain_id, hub=hub)
    signed = account.sign_message(encode_defunct(primitive=envelope.message_id))
    return envelope.model_copy(update={"signature": "0x" + bytes(signed.signature).hex()})


def parse(raw: bytes) -> Envelope:
    """An envelope from a request body.

    Raises:
        GossipRefused: 400 ``malformed``.
    """
    try:
        return Envelope.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise GossipRefused(400, "malformed", f"malformed message: {problems}") from None


def check(
    envelope: Envelope,
    *,
    receiver: str,
    members: Iterable[str],
    chain_id: int,
    hub: str,
    now: int,
    ttl: float,
) -> None:
    """Everything but the replay check (the store's, atomic with keeping the id).

    Raises:
        GossipRefused: with the status and reason (see the module docstring).
    """
    if envelope.chain_id != chain_id or envelope.hub != parse_address(hub, "hub"):
        raise GossipRefused(
            400, "other_network", f"the message is for chain {envelope.chain_id} hub {envelope.hub}, not this network"
        )
    if abs(now - envelope.sent_at) > ttl:
        raise GossipRefused(
            400, "stale", f"sent at {envelope.sent_at}, {now - envelope.sent_at} s from now: outside {ttl:g} s"
        )
    if envelope.signer() != envelope.sender:
        raise GossipRefused(403, "bad_signature", f"the signature is not {envelope.sender}'s")
    if envelope.sender not in set(members) or envelope.sender == receiver:
        raise GossipRefused(403, "not_member", f"{envelope.sender} is not another oracle of this hub")


class PeerLink:
    """Sends envelopes to the configured peers.

    Args:
        peers: the other nodes.
        timeout: seconds each peer has to answer.
    """

    def __init__(self, peers: Iterable[Peer], timeout: float) -> None:
        self.peers = list(peers)
        self.client = _http.client(timeout=timeout)
        self._down: set[str] = set()

    def close(self) -> None:
        self.client.close()

    def broadcast(self, envelopes: list[Envelope]) -> dict[str, int]:
        """Send every envelope to every peer. Returns, per peer address, how many it accepted
        (or had seen: a 409 means it holds the message)."""
        delivered = {}
        for peer in self.peers:
            delivered[peer.address] = self.send(peer, envelopes)
        return delivered

    def send(self, peer: Peer, envelopes: list[Envelope]) -> int:
        accepted = 0
        for envelope in envelopes:
            try:
                answer = self.client.post(
                    peer.url + GOSSIP_PATH,
                    content=envelope.model_dump_json(),
                    headers={"content-type": "application/json"},
                )
            except httpx.HTTPError as exc:
                if peer.address not in self._down:
                    log.warning("peer %s at %s unreachable: %s", peer.address, peer.url, exc)
                    self._down.add(peer.address)
                return accepted
            if peer.address in self._down:
                log.info("peer %s at %s reachable again", peer.address, peer.url)
                self._down.discard(peer.address)
            if answer.status_code in (200, 409):
                accepted += 1
            else:
                log.warning(
                    "peer %s refused a %s message: %s %s", peer.address, envelope.kind, answer.status_code, answer.text
                )
        return accepted

    def recheck(self) -> None:
        """Ask each unreachable peer's ``/v1/health``: one that answers is reachable again. (A
        node with nothing to send learns this way that a partition ended.)"""
        for peer in self.peers:
            if peer.address not in self._down:
                continue
            try:
                self.client.get(peer.url + HEALTH_PATH).raise_for_status()
            except httpx.HTTPError:
                continue
            log.info("peer %s at %s reachable again", peer.address, peer.url)
            self._down.discard(peer.address)

    @property
    def unreachable(self) -> frozenset[str]:
        return frozenset(self._down)
