"""Gossip between oracle nodes, against one real node process: only a current oracle's signed,
fresh, first-seen message is taken; a non-member's, a tampered one, a stale one, one for another
network, a malformed one and a replay are refused with their status and reason."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account

from computerails import _http
from computerails.devnet import dev_key
from computerails.oracle_node import gossip
from tests.support.sdk import ORACLES

NON_MEMBER = 15  # a dev key that is not an oracle


@pytest.fixture(scope="module")
def node_and_hub(tmp_path_factory, net_anvil, net_deployment_file, net_connect):
    from tests.support.oracle import oracle_network

    (node,), _ = oracle_network(tmp_path_factory.mktemp("gossip"), net_anvil.url, net_deployment_file, (ORACLES[0],))
    node.start()
    rails = net_connect()
    yield node, rails.chain_id, rails.hub.address
    assert node.stop() == 0


def observation(sender: int, chain_id: int, hub: str, *, sent_at: int | None = None, epoch: int = 1):
    body = {"epoch": epoch, "provider": "0x" + "11" * 20, "uptime_bps": 9_000, "probes": 12}
    now = int(time.time()) if sent_at is None else sent_at
    return gossip.seal("observation", body, Account.from_key(dev_key(sender)), chain_id=chain_id, hub=hub, now=now)


def tampered(envelope):
    """The same signature over a changed body."""
    return envelope.model_copy(update={"body": dict(envelope.body, uptime_bps=0)})


def post(node, envelope_or_text) -> httpx.Response:
    content = envelope_or_text if isinstance(envelope_or_text, str) else envelope_or_text.model_dump_json()
    return _http.post(f"{node.url}/v1/gossip", content=content, headers={"content-type": "application/json"})


def test_gossip__member_message__accepted_once_then_replay_refused(node_and_hub):
    node, chain_id, hub = node_and_hub
    envelope = observation(ORACLES[1], chain_id, hub, epoch=11)

    first = post(node, envelope)
    again = post(node, envelope)

    assert (first.status_code, first.json()["outcome"]) == (200, "new")
    assert (again.status_code, again.json()["reason"]) == (409, "replay")
    assert node.metric("computerails_oracle_gossip_received_total", 'kind="observation",outcome="replay"') == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda c, h: observation(NON_MEMBER, c, h), 403, "not_member"),
        (lambda c, h: observation(ORACLES[0], c, h), 403, "not_member"),  # the receiver's own key
        (
            lambda c, h: observation(ORACLES[1], c, h).model_copy(
                update={"body": {"epoch": 2, "provider": "0x" + "11" * 20, "uptime_bps": 0, "probes": 12}}
            ),
            403,
            "bad_signature",
        ),
        (lambda c, h: observation(ORACLES[1], c, h, sent_at=int(time.time()) - 3_600), 400, "stale"),
        (lambda c, h: observation(ORACLES[1], c + 1, h), 400, "other_network"),
        (lambda c, h: '{"kind": "observation"}', 400, "malformed"),
    ],
    ids=["non-member", "own-key", "tampered", "stale", "other-chain", "malformed"],
)
def test_gossip__refused__status_and_reason(node_and_hub, make, status, reason):
    node, chain_id, hub = node_and_hub

    answer = post(node, make(chain_id, hub))

    assert answer.status_code == status, answer.text
    assert answer.json()["reason"] == reason


def test_gossip__two_observations_from_one_member__equivocation_named(node_and_hub):
    node, chain_id, hub = node_and_hub
    one = observation(ORACLES[2], chain_id, hub, epoch=7)
    other_body = dict(one.body, uptime_bps=1_000)
    other = gossip.seal(
        "observation", other_body, Account.from_key(dev_key(ORACLES[2])), chain_id=chain_id, hub=hub, now=one.sent_at
    )

    assert post(node, one).json()["outcome"] == "new"
    assert post(node, other).json()["outcome"] == "equivocation"
    assert "sent two observations" in node.log.read_text()
