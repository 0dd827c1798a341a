"""The RewardsDistributor as a state machine (issue 16), on the fast raw JSON-RPC harness: roots
posted by the oracle quorum with random growth in everyone's cumulative amounts and random fees,
vetoes, time passing, claims one by one and in batches (good and bad items), funding; a plain
Python model predicts every outcome, reverts included, and after every step the invariants hold:

* total claimed ≤ the active root's total ≤ the schedule's release through its epochs ≤ the
  reserve funded (claims included);
* the active root's total never decreases;
* every account was paid exactly its claims (its wallet and the contract agree), never twice.

The distributor is deployed on the worker's harness chain inside a snapshot that is reverted
when the module ends, so the protocol machine sharing the chain never sees it.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)
from web3 import Web3

from computerails import eip712
from computerails.devnet import dev_address, dev_key
from computerails.rewards import RewardsTree, RootPost, Schedule
from tests.stateful.harness import artifacts
from tests.support.rpc_chain import Actor, RpcContract

STAKE = 10**18
EPOCH = 3_600
SCHEDULE = Schedule(e0=1_000 * STAKE, halving_epochs=6, fee_target=1_000_000, fee_window=3, activation_delay=600)
DEPLOYER = 14  # a test-mnemonic account the harness never sends from (its nonce is ours)
CLAIMANTS = (3, 4, 5, 6, 7)
FUNDED = 20_000 * STAKE


@dataclass
class Posted:
    tree: RewardsTree
    through: int
    released: int
    average: int
    activates_at: int
    vetoed: bool = False


@dataclass
class Model:
    funded: int = FUNDED
    latest: Posted | None = None
    previous: Posted | None = None  # the active root before the latest (or None)
    claimed: dict[str, int] = field(default_factory=dict)
    highest_active_total: int = 0


def _deploy(world) -> RpcContract:
    load = artifacts()
    artifact = load("RewardsDistributor")
    factory = Web3().eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    governance = world.actors["governance"]
    params = (
        SCHEDULE.e0,
        SCHEDULE.halving_epochs,
        SCHEDULE.fee_target,
        SCHEDULE.fee_window,
        SCHEDULE.activation_delay,
    )
    data = factory.constructor(
        world.stake.address, world.hub.address, governance.address, world.chain.time, EPOCH, params
    ).data_in_transaction
    chain = world.chain
    tx = {
        "data": data,
        "gas": 8_000_000,
        "gasPrice": 0,
        "nonce": int(chain.request("eth_getTransactionCount", [dev_address(DEPLOYER), "pending"]), 16),
        "chainId": chain.chain_id,
        "value": 0,
    }
    raw = "0x" + bytes(Account.sign_transaction(tx, dev_key(DEPLOYER)).raw_transaction).hex()
    _, answer = chain.batch([("evm_setNextBlockTimestamp", [chain.time]), ("eth_sendRawTransactionSync", [raw])])
    chain.time += 1
    receipt = answer["result"]
    assert int(receipt["status"], 16) == 1, receipt
    return RpcContract(chain, "RewardsDistributor", receipt["contractAddress"], artifact["abi"])


@pytest.fixture(scope="module")
def rewards_world(world):
    snap = world.chain.snapshot()
    try:
        distributor = _deploy(world)
        governance = world.actors["governance"]
        world.stake.mint(governance, FUNDED, sender=governance)
        world.stake.approve(distributor, FUNDED, sender=governance)
        distributor.fund(FUNDED, sender=governance)
        yield world, distributor
    finally:
        world.chain.restore(snap)


def test_rewards_state_machine(rewards_world):
    world, distributor = rewards_world
    chain = world.chain
    oracles = sorted(world.oracle_pool[:3], key=lambda o: int(o.address, 16))
    claimants = [Actor(dev_address(i), dev_key(i), f"claimant-{i}") for i in CLAIMANTS]
    genesis = int(distributor.genesis())
    seed = int(os.environ.get("STATEFUL_SEED") or random.SystemRandom().randrange(2**31))
    examples = max(5, int(os.environ.get("STATEFUL_EXAMPLES", "50")) // 2)
    print(f"\nrewards machine: seed {seed}, {examples} examples")
    outcomes: dict[str, int] = {}

    def count(name: str) -> None:
        outcomes[name] = outcomes.get(name, 0) + 1

    class RewardsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.model = Model()
            self.wallet0 = {c.address: world.stake.balanceOf(c.address) for c in claimants}
            chain.pending_timestamp = self.now() + 2 * EPOCH  # two ended epochs: a root can be posted at once
            chain.mine()

        def teardown(self) -> None:
            chain.restore(self.snap)

        # ── helpers ──
        def now(self) -> int:
            return chain.time

        def epoch(self) -> int:
            return max(0, (self.now() - genesis) // EPOCH)

        def latest_active(self) -> bool:
            p = self.model.latest
            return p is not None and not p.vetoed and self.now() >= p.activates_at

        def active(self) -> Posted | None:
            return self.model.latest if self.latest_active() else self.model.previous

        def base(self) -> Posted | None:
            """The root a new post continues from."""
            p = self.model.latest
            return self.model.previous if p is None or p.vetoed else p

        def post(self, post: RootPost):
            digest = post.digest(chain.chain_id, distributor.address)
            signatures = eip712.sign_all(digest, [o.private_key for o in oracles[:2]])
            return distributor.postRoot(post.as_tuple(), signatures, sender=oracles[0])

        # ── rules ──
        @initialize(growth=st.lists(st.integers(1, 200), min_size=len(CLAIMANTS), max_size=len(CLAIMANTS)))
        def first_root(self, growth):
            """Every example starts with an active root over its first two epochs."""
            self.post_root(growth, [0, 0, 0], greedy=False, then_wait=True)

        @rule(epochs=st.integers(0, 2), seconds=st.sampled_from([1, 300, 700]))
        def wait(self, epochs, seconds):
            chain.pending_timestamp = self.now() + epochs * EPOCH + seconds
            chain.mine()
            count("wait")

        @rule(
            growth=st.lists(st.integers(0, 300), min_size=len(CLAIMANTS), max_size=len(CLAIMANTS)),
            fees=st.lists(st.integers(0, 2_000_000), min_size=3, max_size=3),
            greedy=st.booleans(),
            then_wait=st.booleans(),
        )
        def post_root(self, growth, fees, greedy, then_wait):
            p = self.model.latest
            if p is not None and not p.vetoed and self.now() < p.activates_at:
                post = RootPost(b"\x01" * 32, 1, self.epoch(), (0,), int(world.hub.configVersion()))
                with chain.expect_revert(
                    distributor.RootPending, root=p.tree.root, activatesAt=p.activates_at, nowTime=self.now()
                ):
                    self.post(post)
                count("post_root: pending")
                return
            base = self.base()
            start = base.through if base else 0
            through = self.epoch()
            if through <= start:
                count("post_root: no ended epoch")
                return
            new_fees = [fees[i % 3] for i in range(through - start)]
            released, average = SCHEDULE.release(
                start, new_fees, base.released if base else 0, base.average if base else 0
            )
            before = dict(base.tree.amounts) if base else {}
            amounts = {
                c.address.lower(): before.get(c.address.lower(), 0) + g * STAKE for c, g in zip(claimants, growth)
            }
            total = sum(amounts.values())
            cap = min(released, self.model.funded)
            if greedy and total > 0:
                # An over-budget root: refused, nothing changes.
                over = RewardsTree.of(
                    {**amounts, claimants[0].address.lower(): amounts[claimants[0].address.lower()] + cap}
                )
                post = RootPost(over.root, over.total, through, tuple(new_fees), int(world.hub.configVersion()))
                if over.total > released:
                    with chain.expect_revert(distributor.TotalAboveReleased, released=released, total=over.total):
                        self.post(post)
                else:
                    with chain.expect_revert(
                        distributor.TotalAboveReserve, fundable=self.model.funded, total=over.total
                    ):
                        self.post(post)
                count("post_root: over budget refused")
                return
            if total > cap:  # scale the growth down into the budget, keeping amounts monotone
                room = cap - sum(before.values())
                grown = total - sum(before.values())
                amounts = {a: before.get(a, 0) + (v - before.get(a, 0)) * room // grown for a, v in amounts.items()}
            tree = RewardsTree.of(amounts)
            post = RootPost(tree.root, tree.total, through, tuple(new_fees), int(world.hub.configVersion()))
            receipt = self.post(post)
            (event,) = receipt.events.filter(distributor.RootPosted)
            assert (event.released, event.feeAverage) == (released, average)
            posted = Posted(tree, through, released, average, receipt.timestamp + SCHEDULE.activation_delay)
            if self.model.latest is not None and not self.model.latest.vetoed:
                self.model.previous = self.model.latest
            self.model.latest = posted
            count("post_root: ok")
            if then_wait:  # nobody vetoes: the root activates
                chain.pending_timestamp = posted.activates_at
                chain.mine()

        @precondition(lambda self: self.model.latest is not None)
        @rule(by_oracle=st.booleans())
        def veto(self, by_oracle):
            p = self.model.latest
            sender = oracles[1] if by_oracle else world.actors["governance"]
            if p.vetoed:
                with chain.expect_revert(distributor.RootNotPending, pending=b"\x00" * 32, root=p.tree.root):
                    distributor.veto(p.tree.root, "machine", sender=sender)
                count("veto: already vetoed")
            elif self.now() >= p.activates_at:
                with chain.expect_revert(
                    distributor.VetoWindowClosed, root=p.tree.root, activatesAt=p.activates_at, nowTime=self.now()
                ):
                    distributor.veto(p.tree.root, "machine", sender=sender)
                count("veto: window closed")
            else:
                distributor.veto(p.tree.root, "machine", sender=sender)
                p.vetoed = True
                count("veto: ok")

        @rule(who=st.integers(0, len(CLAIMANTS) - 1), inflate=st.booleans())
        def claim(self, who, inflate):
            account = claimants[who]
            key = account.address.lower()
            active = self.active()
            if active is None:
                with chain.expect_revert(distributor.NoActiveRoot):
                    distributor.claim(account.address, 1, [], sender=account)
                count("claim: no active root")
                return
            cumulative = active.tree.amounts[key] + (1 if inflate else 0)
            proof = active.tree.proof(key)
            already = self.model.claimed.get(key, 0)
            if cumulative <= already:
                with chain.expect_revert(
                    distributor.CumulativeAmountNotAboveClaimed,
                    account=account.address,
                    claimed=already,
                    cumulativeAmount=cumulative,
                ):
                    distributor.claim(account.address, cumulative, proof, sender=account)
                count("claim: nothing new")
            elif inflate:
                with chain.expect_revert(
                    distributor.InvalidProof, account=account.address, cumulativeAmount=cumulative
                ):
                    distributor.claim(account.address, cumulative, proof, sender=account)
                count("claim: bad proof")
            else:
                distributor.claim(account.address, cumulative, proof, sender=claimants[(who + 1) % len(claimants)])
                self.model.claimed[key] = cumulative
                count("claim: ok")

        @rule(picks=st.lists(st.tuples(st.integers(0, len(CLAIMANTS) - 1), st.booleans()), min_size=1, max_size=4))
        def claim_many(self, picks):
            active = self.active()
            if active is None:
                count("claim_many: no active root")
                return
            items, expect = [], []
            claimed = dict(self.model.claimed)
            for who, inflate in picks:
                key = claimants[who].address.lower()
                cumulative = active.tree.amounts[key] + (1 if inflate else 0)
                items.append((claimants[who].address, cumulative, active.tree.proof(key)))
                ok = not inflate and cumulative > claimed.get(key, 0)
                if ok:
                    claimed[key] = cumulative
                expect.append(ok)
            receipt = distributor.claimMany(items, sender=claimants[0])
            skipped = {e.index for e in receipt.events.filter(distributor.ClaimSkipped)}
            assert skipped == {i for i, ok in enumerate(expect) if not ok}
            self.model.claimed = claimed
            count("claim_many: ok")

        @rule(amount=st.integers(1, 500))
        def fund(self, amount):
            governance = world.actors["governance"]
            world.stake.mint(governance, amount * STAKE, sender=governance)
            world.stake.approve(distributor, amount * STAKE, sender=governance)
            distributor.fund(amount * STAKE, sender=governance)
            self.model.funded += amount * STAKE
            count("fund: ok")

        # ── invariants ──
        @invariant()
        def books(self):
            claimed_total = sum(self.model.claimed.values())
            reads = world.chain.read_many(
                [(distributor, "totalClaimed", ()), (distributor, "funded", ()), (distributor, "activeRoot", ())]
                + [(distributor, "claimed", (c.address,)) for c in claimants]
                + [(world.stake, "balanceOf", (c.address,)) for c in claimants]
            )
            total_claimed, funded, (root, total, through), *rest = reads
            per_account, wallets = rest[: len(claimants)], rest[len(claimants) :]
            assert total_claimed == claimed_total
            assert funded == self.model.funded
            active = self.active()
            if active is None:
                assert (total, through) == (0, 0) and claimed_total == 0
                return
            assert (root, total, through) == (active.tree.root, active.tree.total, active.through)
            # total claimed ≤ distributed by the active root ≤ released by the schedule ≤ reserve
            assert claimed_total <= total <= active.released
            assert total <= funded
            assert total >= self.model.highest_active_total  # never decreases
            self.model.highest_active_total = total
            for c, on_chain, wallet in zip(claimants, per_account, wallets):
                paid = self.model.claimed.get(c.address.lower(), 0)
                assert on_chain == paid
                assert wallet - self.wallet0[c.address] == paid  # paid exactly once

    machine_settings = settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    hypothesis_seed(seed)(get_state_machine_test(RewardsMachine, settings=machine_settings))()
    print(", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    assert outcomes.get("post_root: ok", 0) > 0 and outcomes.get("claim: ok", 0) > 0
