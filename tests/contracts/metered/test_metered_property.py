"""The accounting invariants of docs/METERED.md over random sequences, on Ape's in-process chain:
a Hypothesis state machine with a plain-Python model beside the chain.

Rules: deposits, thaws (new, replacing, cancelling), withdrawals, signing newer vouchers,
collecting the latest or an older (stale) voucher, time warps. Every rule predicts its outcome
from the model (the named error or the exact payment) before it sends. Invariants after every step:
the contract's token balance is the sum of its accounts and claimables; every account equals
deposits − collections − withdrawals and matches the model; thawing never exceeds the balance;
no collection has collected more than the highest valueAggregate signed for it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.support.metered import FEE_BPS, THAW_PERIOD, USD, sign_voucher, voucher
from tests.support.reverts import reverts

CIDS = [bytes([i + 1]) * 32 for i in range(2)]
EXAMPLES = int(os.environ.get("METERED_EXAMPLES", "8"))


def test_accounting_invariants__random_sequences(metered, chain, usd, client, other_client, provider, treasury):
    payers = [client, other_client]
    for p in payers:
        usd.mint(p, 10**6 * USD, sender=p)
        usd.approve(metered, 2**256 - 1, sender=p)

    class Machine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snap = chain.snapshot()
            self.balance = {p.address: 0 for p in payers}
            self.thawing = {p.address: (0, 0) for p in payers}  # (amount, end)
            self.deposits = {p.address: 0 for p in payers}
            self.collections = {p.address: 0 for p in payers}
            self.withdrawals = {p.address: 0 for p in payers}
            self.collected = {(p.address, c): 0 for p in payers for c in CIDS}
            self.signed = {(p.address, c): [] for p in payers for c in CIDS}  # (voucher, sig), increasing
            self.provider_claim = 0
            self.treasury_claim = 0

        def teardown(self):
            chain.restore(self.snap)

        @rule(i=st.integers(0, 1), amount=st.integers(1, 50 * USD))
        def deposit(self, i, amount):
            p = payers[i]
            metered.deposit(provider, usd, amount, sender=p)
            self.balance[p.address] += amount
            self.deposits[p.address] += amount

        @rule(i=st.integers(0, 1), share=st.integers(0, 100))
        def thaw(self, i, share):
            p = payers[i]
            amount = self.balance[p.address] * share // 100
            receipt = metered.thaw(provider, usd, amount, sender=p)
            self.thawing[p.address] = (amount, receipt.timestamp + THAW_PERIOD) if amount else (0, 0)

        @rule(i=st.integers(0, 1))
        def withdraw(self, i):
            p = payers[i]
            amount, end = self.thawing[p.address]
            now = chain.pending_timestamp
            if amount == 0:
                with reverts(metered.NotThawing, payer=p, provider=provider, token=usd):
                    metered.withdraw(provider, usd, sender=p)
                return
            if now < end:
                with reverts(metered.ThawNotElapsed, thawEnd=end, nowTime=now):
                    metered.withdraw(provider, usd, sender=p)
                return
            metered.withdraw(provider, usd, sender=p)
            self.balance[p.address] -= amount
            self.withdrawals[p.address] += amount
            self.thawing[p.address] = (0, 0)

        @rule(i=st.integers(0, 1), c=st.integers(0, 1), step=st.integers(1, 30 * USD))
        def sign(self, i, c, step):
            p = payers[i]
            history = self.signed[(p.address, CIDS[c])]
            value = (history[-1][0].valueAggregate if history else 0) + step
            v = voucher(p, provider, usd, collectionId=CIDS[c], valueAggregate=value, requestCount=len(history) + 1)
            history.append((v, sign_voucher(metered, chain.chain_id, v, p.private_key)))

        @rule(i=st.integers(0, 1), c=st.integers(0, 1), back=st.integers(0, 2))
        def collect(self, i, c, back):
            p = payers[i]
            key = (p.address, CIDS[c])
            history = self.signed[key]
            if not history:
                return
            v, sig = history[max(0, len(history) - 1 - back)]
            collected, bal = self.collected[key], self.balance[p.address]
            if v.valueAggregate <= collected:
                with reverts(
                    metered.StaleVoucher, collectionId=CIDS[c], collected=collected, valueAggregate=v.valueAggregate
                ):
                    metered.collect(v.args(), sig, sender=provider)
                return
            if bal == 0:
                with reverts(metered.EmptyEscrowAccount, payer=p, provider=provider, token=usd):
                    metered.collect(v.args(), sig, sender=provider)
                return
            metered.collect(v.args(), sig, sender=provider)
            gross = min(v.valueAggregate - collected, bal)
            fee = gross * FEE_BPS // 10_000
            self.collected[key] += gross
            self.balance[p.address] -= gross
            self.collections[p.address] += gross
            amount, end = self.thawing[p.address]
            self.thawing[p.address] = (min(amount, self.balance[p.address]), end)
            self.provider_claim += gross - fee
            self.treasury_claim += fee

        @rule(seconds=st.sampled_from([1, 3_600, THAW_PERIOD // 2, THAW_PERIOD]))
        def warp(self, seconds):
            chain.pending_timestamp += seconds

        @invariant()
        def holdings_equal_accounts_plus_claimables(self):
            claims = (metered.claimable(provider, usd), metered.claimable(treasury, usd))
            assert claims == (self.provider_claim, self.treasury_claim)
            assert usd.balanceOf(metered) == sum(self.balance.values()) + sum(claims)

        @invariant()
        def accounts_match_model(self):
            for p in payers:
                a = p.address
                view = metered.account(p, provider, usd)
                assert view.balance == self.balance[a] == self.deposits[a] - self.collections[a] - self.withdrawals[a]
                assert view.thawing == self.thawing[a][0] <= view.balance

        @invariant()
        def collected_within_highest_signed(self):
            for (a, cid), history in self.signed.items():
                on_chain = metered.collection(a, provider, usd, cid).collected
                assert on_chain == self.collected[(a, cid)]
                assert on_chain <= (history[-1][0].valueAggregate if history else 0)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
