"""Rewards roots by the oracle network, real processes: three oracle nodes (threshold 2) index the
chain, compute the tree once epochs settle, agree on the root post and one of them posts it; a
wrong root posted around them is vetoed with the nodes' own root in the reason, and the next post
is theirs; kill -9 in the middle of the duty neither posts nor vetoes twice.

Two providers stake (and earn the availability pool); the distributor is funded. Epochs settle
when the chain's clock passes their end plus the settle delay (the uptime report window, 25
one-hour epochs on the default devnet): the test moves the clock there in one step."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

import computerails
from computerails import _http, eip712
from computerails.deployments import load_artifact
from computerails.devnet import dev_key
from computerails.devnet.keys import dev_address
from computerails.indexer import index_until_head, open_index
from computerails.indexer.flywheel import RewardsClock
from computerails.oracle_node.node import parse_statement
from computerails.oracle_node.rewards import EMPTY_ROOT, Computed, veto_reason
from computerails.rewards import RewardsFile, RewardsTree, RootPost
from computerails.rewards.calculator import compute
from tests.support.agent import mint
from tests.support.anvil import devnet_fixtures
from tests.support.oracle import oracle_network
from tests.support.sdk import FIRST_STAKE, ORACLES
from tests.support.wait import wait_until

PROVIDERS, FUNDER = (11, 12), 13  # dev accounts of this module's own devnet
FUNDING = 100_000 * 10**18
SETTINGS = {"transmit_delay": 1, "rewards": {"index_interval": 0.3}}
ROUND_WAIT = 120.0  # a readiness bound (index, compute, gossip, post), never an assertion on time

# A devnet of its own: the test moves its clock by days.
rw_anvil, rw_deployment_file, rw_w3 = devnet_fixtures(scope="module", prefix="rw_")


def set_time(w3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


@dataclass(frozen=True)
class Fresh(Computed):
    """A fresh index's computation, with what the schedule releases through it from epoch 0 and
    its fee average (the distributor's own figures when every root so far carried its fees)."""

    released: int = 0
    fee_average: int = 0


class Desk:
    """The chain as the test sees it: the distributor, its epochs, and a fresh index to check
    the nodes against."""

    def __init__(self, url: str, deployment_file: Path, w3: Any, folder: Path) -> None:
        self.url, self.deployment_file, self.w3, self.folder = url, deployment_file, w3, folder
        self.rails = computerails.connect(url, deployment=deployment_file, account=dev_key(FUNDER))
        address = self.rails.deployment.contracts["RewardsDistributor"]
        self.distributor = w3.eth.contract(address=address, abi=load_artifact("RewardsDistributor")["abi"])
        d = self.distributor.functions
        self.epochs = RewardsClock(d.genesis().call(), d.epochLength().call())
        self.settle = int(d.calculatorParams().call()[3])
        self.delay = int(d.params().call()[4])
        self.first = 0  # the first epoch whose root pays someone (set once providers staked)
        self.fresh_count = 0

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def latest(self) -> tuple:
        return tuple(self.distributor.functions.latestRoot().call())

    def base(self) -> tuple[int, int]:
        """(epochs, total) of the last root not vetoed."""
        root, total, through, _at, vetoed, *_ = self.latest()
        if vetoed:
            _r, total, through = self.distributor.functions.activeRoot().call()
        return int(through), int(total)

    def quiet(self) -> None:
        """No root pending: wait out the activation delay of a pending one."""
        _root, _total, through, activates_at, vetoed, *_ = self.latest()
        if through and not vetoed and self.now() < activates_at:
            set_time(self.w3, activates_at)

    def settle_through(self) -> int:
        """Move the clock to where one more epoch than the last root covers has settled (and
        not the next): the nodes' next root covers exactly the epochs returned."""
        self.quiet()
        through = max(self.base()[0] + 1, self.first)
        target = self.epochs.end(through - 1) + self.settle
        assert self.now() < target
        set_time(self.w3, target)
        return through

    def fresh(self, through: int) -> Fresh:
        """The calculator on a fresh index of the chain (what any honest node computes)."""
        self.fresh_count += 1
        db = self.folder / f"fresh-{self.fresh_count}.sqlite"
        index_until_head(self.url, self.deployment_file, db)
        engine = open_index(db)
        try:
            with engine.connect() as conn:
                rewards = compute(conn, self.epochs, through, self.rails.deployment.staking_token)
        finally:
            engine.dispose()
        fees, released, average = tuple(rewards.fees), rewards.released, rewards.fee_average
        if not rewards.amounts:
            return Fresh(through, EMPTY_ROOT, 0, fees, None, released, average)
        tree = rewards.file(self.rails.chain_id, self.distributor.address)
        return Fresh(through, tree.root, tree.total, fees, tree, released, average)

    def catch_up(self, through: int) -> None:
        """Post (signed with the oracles' dev keys) and activate the empty roots of the epochs
        before any provider staked, 64 at a time, until the last root covers `through` epochs:
        the deployment's first 8 days (the timelock delay skipped at set-up) pay nobody."""
        while (base := self.base()[0]) < through:
            self.quiet()
            step = min(base + 64, through)
            settles = self.epochs.end(step - 1) + self.settle
            if self.now() < settles:
                set_time(self.w3, settles)
            empty = self.fresh(step)
            assert empty.root == EMPTY_ROOT
            self.post(empty, empty.root, empty.total)
        self.quiet()

    def posted(self) -> list[dict]:
        logs = self.distributor.events.RootPosted().get_logs(from_block=self.rails.deployment.deploy_block)
        return [dict(e["args"]) for e in logs]

    def vetoes(self) -> list[dict]:
        logs = self.distributor.events.RootVetoed().get_logs(from_block=self.rails.deployment.deploy_block)
        return [dict(e["args"]) for e in logs]

    def post_wrong(self, correct: Computed) -> bytes:
        """Post a root of the right total, fees and epochs whose tree pays everything to one
        provider, signed with the threshold's oracle keys (bypassing the nodes)."""
        wrong = RewardsTree.of([(dev_address(PROVIDERS[0]).lower(), correct.total)])
        assert wrong.root != correct.root
        self.post(correct, wrong.root, correct.total)
        return wrong.root

    def post(self, computed: Computed, root: bytes, total: int) -> None:
        """Post `root` and `total` with the fees and epochs of `computed`, signed with the
        threshold's oracle dev keys."""
        base, _ = self.base()
        version = int(self.rails.read("AttestationHub", self.rails.hub.address, "configVersion"))
        post = RootPost(root, total, computed.through, tuple(computed.fees_from(base)), version)
        digest = post.digest(self.rails.chain_id, self.distributor.address)
        signatures = eip712.sign_all(digest, [dev_key(i) for i in ORACLES[:2]])
        self.rails.send(self.distributor.functions.postRoot(post.as_tuple(), signatures), "postRoot")


@pytest.fixture(scope="module")
def desk(rw_anvil, rw_deployment_file, rw_w3, tmp_path_factory) -> Desk:
    """Two providers staked from the next epoch on, the distributor funded."""
    desk = Desk(rw_anvil.url, rw_deployment_file, rw_w3, tmp_path_factory.mktemp("rewards"))
    for index in PROVIDERS:
        rails = computerails.connect(rw_anvil.url, deployment=rw_deployment_file, account=dev_key(index))
        mint(rails, stake=5_000)
        rails.provider.register(f"http://127.0.0.1:1/{index}", FIRST_STAKE)
    funder = desk.rails
    mint(funder, stake=FUNDING // 10**18)
    token = funder.erc20(funder.deployment.staking_token)
    funder.send(token.functions.approve(desk.distributor.address, FUNDING), "approve")
    funder.send(desk.distributor.functions.fund(FUNDING), "fund")
    # staked during this epoch: the next one is the first with stake at its start and end
    desk.first = desk.epochs.of(desk.now()) + 2
    # the nodes of the first test post the last empty root themselves, then the first that pays
    desk.catch_up(max(0, desk.first - 2 - 64))
    return desk


@pytest.fixture
def network(make_rewards_network):
    return make_rewards_network()


@pytest.fixture
def make_rewards_network(rw_anvil, rw_deployment_file, tmp_path):
    made: list = []

    def _make():
        nodes, _ = oracle_network(tmp_path / f"net-{len(made)}", rw_anvil.url, rw_deployment_file, ORACLES, **SETTINGS)
        made.extend(nodes)
        return nodes

    yield _make
    for node in made:
        if node.running():
            node.kill()


def start(nodes) -> None:
    for node in nodes:
        node.launch()
    for node in nodes:
        node.wait_ready()


def posted_metric(nodes, action: str) -> float:
    return sum(n.metric("computerails_oracle_rewards_roots_total", f'action="{action}"') for n in nodes)


def rewards_rounds(node) -> list:
    """The node's open rewards and veto rounds."""
    return [r for r in _http.get(f"{node.url}/v1/rounds").json() if r["kind"] in ("rewards", "veto")]


def served(node, root: bytes) -> dict | None:
    answer = _http.get(f"{node.url}/v1/rewards/latest")
    if answer.status_code != 200:
        return None
    doc = answer.json()
    return doc if doc["root"] == "0x" + root.hex() else None


def test_rewards__epochs_settle__one_root_per_round_equal_to_a_fresh_index_and_claimable(desk, network):
    """Round by round (the empty root of the epochs before the providers staked first, 64 at
    most per post), then the first root that pays."""
    nodes = network
    before = len(desk.posted())
    through = desk.settle_through()  # settled before the nodes start: they post from here
    # Each round's expectation is computed before what lets the nodes post it (their start, then
    # the activation of the root before): a node up within a fraction of a second has posted
    # the first round before the test could read the chain after `start`.
    step = min(desk.base()[0] + 64, through)
    expected = desk.fresh(step)
    start(nodes)
    rounds = []
    while True:
        rounds.append((expected.root, step))
        wait_until(lambda s=step: desk.latest()[2] == s, f"a root through {step} posted", ROUND_WAIT)
        root, total, _through, _at, vetoed, released, average = desk.latest()
        assert (root, total, vetoed) == (expected.root, expected.total, False)
        # the calculator's release is the distributor's, figure for figure
        assert (released, average) == (expected.released, expected.fee_average)
        if step == through:
            break
        step = min(step + 64, through)
        expected = desk.fresh(step)
        desk.quiet()  # activated: the next round may go
    assert len(rounds) >= 2 and rounds[-1][0] != EMPTY_ROOT
    assert [(p["root"], p["through"]) for p in desk.posted()[before:]] == rounds
    for node in nodes:  # every node serves it (those that did not sign agree and keep it too)
        doc = wait_until(lambda n=node: served(n, expected.root), "the tree served", ROUND_WAIT)
        assert RewardsFile.from_document(doc).root == expected.root
        unknown = _http.get(f"{node.url}/v1/rewards/0x{'11' * 32}")
        assert unknown.status_code == 404 and "no rewards tree" in unknown.json()["error"]
    # the transmitter counts its post once its transaction is mined: wait for the count
    wait_until(lambda: posted_metric(nodes, "posted") == len(rounds), "every post counted", ROUND_WAIT)
    assert posted_metric(nodes, "signed") >= 2 * len(rounds)

    desk.quiet()  # the root activates: a provider claims from a node's URL with the SDK
    provider = computerails.connect(desk.url, deployment=desk.deployment_file, account=dev_key(PROVIDERS[1]))
    assert expected.file is not None
    owed = expected.file.amount(provider.address)
    paid = provider.rewards.claim(f"{nodes[0].url}/v1/rewards/latest")
    assert paid.amount * 10**18 == owed > 0 and paid.account == provider.address
    for node in nodes:
        assert node.stop() == 0


def test_rewards__wrong_root_posted__vetoed_with_reason_then_the_nodes_post_theirs(desk, network):
    nodes = network
    desk.catch_up(desk.first - 2)
    through = desk.settle_through()
    correct = desk.fresh(through)
    vetoes = len(desk.vetoes())
    wrong = desk.post_wrong(correct)
    start(nodes)

    wait_until(lambda: len(desk.vetoes()) > vetoes, "the wrong root vetoed", ROUND_WAIT)  # the nodes post next
    [veto] = desk.vetoes()[vetoes:]
    assert veto["root"] == wrong and veto["by"] in {n.address for n in nodes}
    assert veto["reason"] == veto_reason(correct, (correct.released, correct.fee_average))  # it had the right fees
    assert veto["reason"].startswith(f"oracle computed root 0x{correct.root.hex()} total {correct.total} through ")
    wait_until(lambda: desk.latest()[0] == correct.root, "the nodes' root posted", ROUND_WAIT)
    assert [p["root"] for p in desk.posted()[-2:]] == [wrong, correct.root]
    assert desk.latest()[2:5:2] == (through, False)
    wait_until(lambda: posted_metric(nodes, "vetoed") == 1, "the veto counted", ROUND_WAIT)  # counted once mined
    for node in nodes:
        assert node.stop() == 0


def test_rewards__right_tree_other_fees__vetoed_then_the_nodes_post_it_with_theirs(desk, network):
    """A quorum's post of the nodes' own tree and total with other fee figures: the fees drive
    what the distributor releases and the fee average it keeps, so the nodes veto it, naming
    their release, and post the same tree with their fees."""
    nodes = network
    desk.catch_up(desk.first - 2)
    through = desk.settle_through()
    correct = desk.fresh(through)
    base, _ = desk.base()
    fee_target = int(desk.distributor.functions.params().call()[2])
    # half the fee target each epoch: the average rises, the release falls, still above the total
    other = replace(correct, fees=correct.fees[:base] + (fee_target // 2,) * (through - base))
    posts, vetoes = len(desk.posted()), len(desk.vetoes())
    desk.post(other, correct.root, correct.total)
    assert desk.latest()[5] < correct.released  # the post released less than the nodes compute
    start(nodes)

    wait_until(lambda: len(desk.vetoes()) > vetoes, "the root with other fees vetoed", ROUND_WAIT)
    [veto] = desk.vetoes()[vetoes:]
    assert veto["root"] == correct.root
    assert veto["reason"] == veto_reason(correct, (correct.released, correct.fee_average))
    wait_until(lambda: not desk.latest()[4], "the nodes' post of the same tree", ROUND_WAIT)
    assert [p["root"] for p in desk.posted()[posts:]] == [correct.root, correct.root]
    root, total, _through, _at, vetoed, released, average = desk.latest()
    assert (root, total, released, average) == (correct.root, correct.total, correct.released, correct.fee_average)
    for node in nodes:
        assert node.stop() == 0


def test_rewards__kill_9_during_the_duty__no_double_post_no_double_veto(desk, make_rewards_network):
    nodes = make_rewards_network()
    desk.catch_up(desk.first - 2)
    through = desk.settle_through()
    correct = desk.fresh(through)
    posts, vetoes = len(desk.posted()), len(desk.vetoes())
    wrong = desk.post_wrong(correct)
    start(nodes)

    # The veto's event, not the latest root's flag: the nodes may post their own root right after.
    wait_until(lambda: len(desk.vetoes()) > vetoes, "the wrong root vetoed", ROUND_WAIT)
    for node in nodes:  # mid-duty: the veto's journal settled or not, the correct root being signed
        node.kill()
    start(nodes)
    wait_until(lambda: desk.latest()[0] == correct.root, "the nodes' root posted", ROUND_WAIT)
    victim = nodes[0]
    victim.kill()  # once more, with the root just posted
    victim.start()
    for node in nodes:
        wait_until(lambda n=node: served(n, correct.root), "the tree served after the restarts", ROUND_WAIT)
        wait_until(lambda n=node: not rewards_rounds(n), "the rewards rounds closed", ROUND_WAIT)
    assert [v["root"] for v in desk.vetoes()[vetoes:]] == [wrong]
    assert [p["root"] for p in desk.posted()[posts:]] == [wrong, correct.root]
    for node in nodes:
        assert node.stop() == 0


def test_rewards__post_journalled_never_broadcast_root_on_chain_meanwhile__not_broadcast_on_restart(
    desk, make_rewards_network
):
    """A transmitter killed between journalling its post and broadcasting it, while another node
    posted the root: on restart the journalled bytes are not sent (had the root been vetoed
    meanwhile, they would post it again); its nonce stays free."""
    nodes = make_rewards_network()
    desk.catch_up(desk.first - 2)
    through = desk.settle_through()
    start(nodes)
    wait_until(lambda: desk.latest()[2] == through, "the nodes' root posted", ROUND_WAIT)
    for node in nodes:
        wait_until(lambda n=node: not rewards_rounds(n), "the rewards rounds closed", ROUND_WAIT)
    crashed = nodes[0]
    assert crashed.stop() == 0
    database = crashed.config.parent / "data" / "oracle.sqlite"
    with sqlite3.connect(database) as db:  # the state it had when it journalled its post
        key, digest, body = next(
            (key, digest, json.loads(body))
            for key, digest, body in db.execute("SELECT round, digest, body FROM statements WHERE kind = 'rewards'")
            if json.loads(body)["through"] == through
        )
        signatures = dict(db.execute("SELECT signer, signature FROM signatures WHERE digest = ?", (digest,)).fetchall())
        db.execute("UPDATE rounds SET status = 'open', ready_digest = ?, ready_at = 0 WHERE round = ?", (digest, key))
    post = parse_statement("rewards", body)
    packed = eip712.pack_signatures((s, bytes.fromhex(g[2:])) for s, g in signatures.items())
    nonce = desk.w3.eth.get_transaction_count(crashed.address)
    tx = desk.distributor.functions.postRoot(post.as_tuple(), packed).build_transaction(
        {
            "from": crashed.address,
            "nonce": nonce,
            "gas": 1_000_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
            "chainId": desk.rails.chain_id,
        }
    )
    signed = Account.from_key(dev_key(ORACLES[0])).sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO submissions (tx_hash, nonce, raw, label, rounds, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tx_hash, nonce, bytes(signed.raw_transaction), "postRoot", json.dumps([key]), "pending", 0),
        )
    posts = len(desk.posted())

    crashed.start()

    def outcome() -> str | None:
        with sqlite3.connect(database) as db:
            (status,) = db.execute("SELECT status FROM submissions WHERE tx_hash = ?", (tx_hash,)).fetchone()
        return None if status == "pending" else status

    assert wait_until(outcome, "the journalled post settled", ROUND_WAIT) == "dropped"
    wait_until(lambda: not rewards_rounds(crashed), "its round closed", ROUND_WAIT)
    assert desk.w3.eth.get_transaction_count(crashed.address) == nonce  # never broadcast
    assert len(desk.posted()) == posts
    assert crashed.stop() == 0


def test_rewards__root_over_epochs_not_settled__vetoed_though_no_node_can_compute_it(desk, make_rewards_network):
    """A quorum's root over epochs whose facts are not final yet on the chain's own clock: no
    honest node can have computed it, so the nodes veto it rather than wait to be able to."""
    nodes = make_rewards_network()
    desk.catch_up(desk.first - 2)
    base, base_total = desk.base()
    through = min(base + 64, int(desk.distributor.functions.currentEpoch().call()))
    assert desk.epochs.end(through - 1) + desk.settle > desk.now()  # not settled
    early = Computed(through, bytes(32), 0, (0,) * through, None)  # no traffic on this devnet: no fees
    tree = RewardsTree.of([(dev_address(PROVIDERS[0]).lower(), base_total + 1)])
    desk.post(early, tree.root, tree.total)
    vetoes = len(desk.vetoes())
    start(nodes)

    wait_until(lambda: desk.latest()[4], "the early root vetoed", ROUND_WAIT)
    [veto] = desk.vetoes()[vetoes:]
    assert veto["root"] == tree.root
    assert veto["reason"].startswith(f"root through {through} posted before its epochs settle at ")
    wait_until(lambda: posted_metric(nodes, "vetoed") == 1, "the veto counted", ROUND_WAIT)  # counted once mined
    for node in nodes:
        assert node.stop() == 0
