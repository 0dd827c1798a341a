"""The mystery shopper, real processes: an oracle node pays its own inference requests to the
providers' agents at secret moments on the chain's clock, recomputes the answers, and opens the
forwarded receipts' fraud round on a wrong one: the provider is slashed and jailed, once. An
honest agent gets only correct verdicts; a node killed with -9 and restarted does not shop a
slot it already shopped."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

import computerails
from computerails import _http
from computerails.devnet import dev_address, dev_key, free_port
from computerails.oracle_node.probes import probe_secret
from computerails.oracle_node.shopper import shop_secret, shop_times
from tests.support.agent import mint, provider_agent
from tests.support.anvil import devnet_fixtures
from tests.support.oracle import oracle_network
from tests.support.sdk import FIRST_STAKE, ORACLES
from tests.support.wait import wait_until

CHEAT, HONEST, UNFUNDED, DOWN = 10, 9, 8, 7  # dev accounts no other test of this suite uses
SHOPPER = ORACLES[0]  # the node that shops (and pays from its own escrow accounts)
PRICE = "0.01"


def set_time(w3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


def shopper_settings(n: int) -> dict:
    # max_lateness above an epoch: the test moves the chain's clock past slots before they are shopped
    return {"shopper": {"enabled": True, "requests_per_epoch": n, "budget": "1", "tick": 0.2, "max_lateness": 7_200}}


# A devnet of its own: the test moves its clock by epochs, and a jailed provider stays jailed.
shop_anvil, shop_deployment_file, shop_w3 = devnet_fixtures(scope="module", prefix="shop_")


@pytest.fixture(scope="module")
def agents(shop_anvil, shop_deployment_file, tmp_path_factory):
    """{CHEAT: (rails, agent answering every paid request wrongly), HONEST: (rails, agent),
    UNFUNDED: (rails, agent)}; the shopper's key has deposited 1 mUSD in the escrow for the first
    two, nothing for UNFUNDED. DOWN is registered at a URL where nothing answers."""
    payer = computerails.connect(shop_anvil.url, deployment=shop_deployment_file, account=dev_key(SHOPPER))
    mint(payer, usd=10)
    started = {}
    for index, wrong in ((CHEAT, 1), (HONEST, 0), (UNFUNDED, 0)):
        folder = tmp_path_factory.mktemp(f"agent-{index}")
        agent = provider_agent(
            index, folder, shop_anvil.url, shop_deployment_file, price=PRICE, wrong_answer_every=wrong
        )
        rails = computerails.connect(shop_anvil.url, deployment=shop_deployment_file, account=dev_key(index))
        mint(rails, stake=5_000)
        rails.provider.register(agent.url, FIRST_STAKE)
        if index != UNFUNDED:
            payer.payer.deposit(rails.address, Decimal(1))
        agent.start()
        started[index] = (rails, agent)
    down = computerails.connect(shop_anvil.url, deployment=shop_deployment_file, account=dev_key(DOWN))
    mint(down, stake=5_000)
    down.provider.register(f"http://127.0.0.1:{free_port()}", FIRST_STAKE)
    yield started
    for _, agent in started.values():
        if agent.running():
            assert agent.stop() == 0


@pytest.fixture
def network(shop_anvil, shop_deployment_file, tmp_path):
    made = []

    def _make(indices, **settings):
        folder = tmp_path / f"net-{len(made)}"
        nodes, _ = oracle_network(folder, shop_anvil.url, shop_deployment_file, indices, **settings)
        made.extend(nodes)
        return nodes

    yield _make
    for node in made:
        if node.running():
            node.kill()


def next_epoch(rails, w3) -> tuple[int, int, int]:
    """Moves the chain's clock just into the next epoch: (its number, start, length)."""
    slasher = rails.slasher.functions
    epoch = rails.views.current_epoch() + 1
    start, end = slasher.epochStart(epoch).call(), slasher.epochEnd(epoch).call()
    set_time(w3, start + 1)
    return epoch, start, end - start


def slots(rails, epoch: int, start: int, length: int, provider: str, n: int) -> list[int]:
    """The shopper node's moments for `provider`: this test holds its key, as the node does."""
    secret = shop_secret(probe_secret(bytes.fromhex(dev_key(SHOPPER)[2:])))
    return shop_times(secret, rails.chain_id, epoch, provider, start, length, n)


def shopped(node) -> dict:
    return _http.get(f"{node.url}/v1/shopper", timeout=10).json()


def of(node, provider: str) -> dict:
    return shopped(node)["providers"].get(provider, {})


def served(agent) -> float:
    return agent.metric("computerails_agent_requests_total", 'outcome="served"')


def test_shopper__cheating_agent__fraud_round_from_the_nodes_own_request_provider_jailed_once(network, agents, shop_w3):
    cheat, agent = agents[CHEAT]
    nodes = network(ORACLES[:2])  # threshold 2 of 3: the shopper and a peer that recomputes
    epoch, start, length = next_epoch(cheat, shop_w3)
    nodes[0].config.write_text(nodes[0].config.read_text() + _section(shopper_settings(1)))
    for node in nodes:
        node.start()
    wait_until(lambda: of(nodes[0], cheat.address).get("planned") == 1, "the cheat's slot planned")
    staked = cheat.provider.status().staked

    set_time(shop_w3, max(slots(cheat, epoch, start, length, cheat.address, 1)) + 1)

    wait_until(lambda: cheat.provider.status().jailed, "the provider jailed")
    summary = of(nodes[0], cheat.address)
    assert (summary["fraud"], summary["correct"], summary["spent"]) == (1, 0, 10_000)  # one paid request
    assert nodes[0].metric("computerails_oracle_shops_total", 'outcome="fraud"') == 1
    metered = cheat.collector.domain.escrow
    logs = cheat.w3.eth.get_logs({"address": metered, "fromBlock": 0, "toBlock": "latest"})
    (event,) = cheat.abi["MeteredEscrow"].events["FraudPunished"].logs({"logs": logs}, metered)
    assert event["provider"] == cheat.address and event["payer"] == nodes[0].address
    assert cheat.provider.status().staked == staked * 9 / 10
    for node in nodes:
        wait_until(lambda n=node: n.metric("computerails_oracle_open_rounds") == 0, "every node closing the round")
    assert sum(n.metric("computerails_oracle_submissions_total", 'status="mined"') for n in nodes) == 1
    assert served(agent) == 1
    for node in nodes:
        assert node.stop() == 0


def test_shopper__honest_agent__correct_verdicts_only_no_round__unfunded_refused_down_counted(network, agents, shop_w3):
    honest, agent = agents[HONEST]
    unfunded, unfunded_agent = agents[UNFUNDED]
    cheat, _ = agents[CHEAT]
    if cheat.provider.status().active:  # run without the cheating test before it: not shopped here
        cheat.provider.leave()
    (node,) = network((SHOPPER,), **shopper_settings(3))
    epoch, start, length = next_epoch(honest, shop_w3)
    before = served(agent)
    providers = (honest.address, unfunded.address, dev_address(DOWN))
    node.start()
    wait_until(lambda: all(of(node, p).get("planned") == 3 for p in providers), "three slots planned for each")
    moments = [t for p in providers for t in slots(honest, epoch, start, length, p, 3)]

    set_time(shop_w3, max(moments) + 1)

    wait_until(lambda: (shopped(node)["shopped_until"] or 0) > max(moments), "a pass past the last slot")
    summary = of(node, honest.address)
    assert (summary["correct"], summary["fraud"], summary["refused"], summary["error"]) == (3, 0, 0, 0)
    assert summary["spent"] == 30_000  # three requests at 0.01 mUSD
    assert served(agent) - before == 3
    # No escrow of the node's for this provider: refused before anything is signed or served.
    assert {k: of(node, unfunded.address)[k] for k in ("refused", "spent")} == {"refused": 3, "spent": 0}
    assert served(unfunded_agent) == 0
    assert of(node, dev_address(DOWN))["error"] == 3  # nothing answers: counted, the node goes on
    assert node.metric("computerails_oracle_shops_total", 'outcome="refused"') == 3
    assert node.metric("computerails_oracle_signed_total", 'kind="fraud"') == 0
    assert [r for r in _http.get(f"{node.url}/v1/rounds").json() if r["kind"] == "fraud"] == []
    assert not honest.provider.status().jailed
    assert node.stop() == 0


def test_shopper__killed_and_restarted__no_slot_shopped_twice(network, agents, shop_w3):
    honest, agent = agents[HONEST]
    (node,) = network((SHOPPER,), **shopper_settings(3))
    epoch, start, length = next_epoch(honest, shop_w3)
    before = served(agent)
    node.start()
    wait_until(lambda: of(node, honest.address).get("planned") == 3, "three slots planned")
    first, *_, last = slots(honest, epoch, start, length, honest.address, 3)
    set_time(shop_w3, first + 1)
    wait_until(lambda: of(node, honest.address).get("correct") == 1, "the first slot shopped")

    node.kill()  # -9
    set_time(shop_w3, last + 1)
    node.start()
    wait_until(lambda: (shopped(node)["shopped_until"] or 0) > last, "a pass past the last slot")

    summary = of(node, honest.address)
    assert (summary["correct"], summary["planned"], summary["error"]) == (3, 0, 0)
    assert served(agent) - before == 3  # one paid request per slot, across the restart
    wallet = node.config.parent / "data" / "shopper.sqlite"
    with sqlite3.connect(wallet) as db:
        rows = db.execute("SELECT outcome FROM shops WHERE epoch = ? AND provider = ?", (epoch, honest.address))
        assert sorted(r[0] for r in rows) == ["correct"] * 3
    assert node.stop() == 0


def _section(settings: dict) -> str:
    """A settings dict's tables as TOML (the launcher writes the others)."""
    out = ""
    for name, table in settings.items():
        out += f"\n[{name}]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in table.items())
    return out


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return f'"{v}"' if isinstance(v, str) else str(v)
