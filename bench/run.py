"""ComputeRails benchmark: gas per operation against a floor, amortized gas of the batched entry
points, SDK throughput against a raw web3.py loop sending the same transactions, and voucher
signing plus verification per second against eth-account (bench/vouchers.py, no chain needed),
the provider agent's paid requests per second against ``payment = false`` on two real agent
processes (bench/agent.py, on the same chain), and attestations per second through three real
oracle nodes against direct SDK submission, with result-to-attestation latency and the probe load
per provider (bench/network.py, on a fresh chain), and events per second indexed into SQLite and
PostgreSQL (bench/indexer.py, on a fresh chain with the marketplace's history).

    make bench                      # setup, ape compile, then this module
    python -m bench --help          # sizes, iterations, output paths, --profile
    python -m bench --only agent    # one section, merged into the existing results and README
    python -m bench --only network  # the oracle network alone (3 nodes + an agent, about a minute)
    python -m bench --only indexer  # the event indexer alone (SQLite and PostgreSQL)
    python -m bench --only rewards  # the RewardsDistributor's gas at 100,000 leaves

Everything runs on a fresh anvil (127.0.0.1, a free port, stopped by its own pid) with a fresh
deployment made by the deploy script's own function (computerails.devnet.deploy_protocol).
Results go to ``bench/results.json`` and, as
tables, into README.md between ``<!-- bench:start -->`` and ``<!-- bench:end -->``.

Gas is deterministic; throughput is wall-clock and depends on the machine and its load: the
SDK and the raw loop run in alternating rounds in the same process against the same node, and
only their ratio is meant to carry over. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3

import computerails
from bench import agent, costs, harness, indexer, metered, network, rewards, scaling, vouchers
from computerails import Attestation, UptimeReport
from computerails.deployments import load_artifact
from computerails.devnet import (
    Anvil,
    anvil_binary,
    ape_build_artifacts,
    deploy_protocol,
    dev_key,
    grant_direct_governance,
    write_deployment,
)
from computerails.rails import ComputeRails
from computerails.types import Raw
from computerails.vouchers import Voucher, VoucherDomain, VoucherSigner

ROOT = Path(__file__).resolve().parents[1]

USD = 10**6  # the test payment token has 6 decimals
STAKE = 10**18
MAX_UINT = 2**256 - 1
SPEC = b"\x07" * 32
RESULT = b"\x42" * 32
ETH = 10**21  # gas money for every bench account
ORACLES = (17, 18, 19)  # the deploy script's dev oracles
EXTRA_ORACLES = (15, 16)  # added by governance for k = 5
CHALLENGE_WINDOW = 3_600
UNBONDING_DELAY = 7 * 86_400

README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def bench_key(role: str) -> str:
    """A deterministic key per bench role, funded on the node by anvil_setBalance."""
    return "0x" + keccak(text=f"computerails-bench/{role}").hex()


# ───────────────────────────── the chain ─────────────────────────────


class Chain:
    """A fresh anvil with a fresh deployment, and one SDK connection per role."""

    def __init__(self, workdir: Path) -> None:
        self.anvil = Anvil().start()
        try:
            w3 = Web3(HTTPProvider(self.anvil.url))
            build = ROOT / ".build" / "__local__.json"
            artifacts = ape_build_artifacts(build) if build.exists() else None
            deployment = deploy_protocol(w3, dev_key(0), artifacts=artifacts)
            grant_direct_governance(w3, deployment, dev_key(0), artifacts=artifacts)  # parameters change at once
            self.deployment = write_deployment(deployment, workdir)
            self.url = self.anvil.url
            self.w3 = Web3(HTTPProvider(self.url))
            self.chain_id = int(self.w3.eth.chain_id)
            self._rails: dict[str, ComputeRails] = {}
            self.gov = self.rails("governance", dev_key(0))  # also the arbitrator on a local deploy
            self.oracles = [Account.from_key(dev_key(i)) for i in ORACLES]
            self.treasury = self.gov.deployment.roles["treasury"]
            self.usd = self.gov.erc20(self.gov.deployment.payment_tokens[0])
            self.stake_token = self.gov.erc20(self.gov.deployment.staking_token)
        except BaseException:
            self.anvil.stop()
            raise

    def stop(self) -> None:
        self.anvil.stop()

    def rails(self, role: str, key: str | None = None) -> ComputeRails:
        if role not in self._rails:
            key = key or bench_key(role)
            self.w3.provider.make_request("anvil_setBalance", [Account.from_key(key).address, hex(ETH)])
            self._rails[role] = computerails.connect(self.url, deployment=self.deployment, account=key)
        return self._rails[role]

    def fund(self, rails: ComputeRails, usd: int = 0, stake: int = 0) -> None:
        """Mint raw token units (the test tokens mint to anyone)."""
        if usd:
            rails.send(rails.erc20(self.usd.address).functions.mint(rails.address, usd), "mint")
        if stake:
            rails.send(rails.erc20(self.stake_token.address).functions.mint(rails.address, stake), "mint")

    def provider(self, role: str, stake: int = 10_000) -> ComputeRails:
        """A registered provider with `stake` staking tokens bonded."""
        rails = self.rails(role)
        if not rails.staking.functions.isRegistered(rails.address).call():
            self.fund(rails, stake=stake * STAKE)
            rails.provider.register(f"ipfs://{role}", stake)
        return rails

    def warp(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def finish_epoch(self) -> int:
        """Mine the first block of the next uptime epoch; return the epoch that just ended."""
        current = self.gov.views.current_epoch()
        start = self.gov.slasher.functions.epochEnd(current).call()
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [start])
        self.w3.provider.make_request("evm_mine", [])
        return current

    def tx_input(self, tx_hash: str) -> bytes:
        return bytes(self.w3.eth.get_transaction(tx_hash)["input"])

    def balance(self, token: Any, account: str) -> int:
        return int(token.functions.balanceOf(account).call())

    def escrow_claimable(self, account: str) -> int:
        return int(self.gov.escrow.functions.claimable(account, self.usd.address).call())

    def staking_claimable(self, account: str) -> int:
        return int(self.gov.staking.functions.claimable(account).call())

    def set_threshold(self, k: int) -> None:
        self.gov.send(self.gov.hub.functions.setThreshold(k), "setThreshold")
        for rails in self._rails.values():
            rails.refresh()  # governance changed the quorum: don't wait for the connections' cache TTL


def allowance_spent(after: int) -> str | None:
    """How a transferFrom treated the allowance, from what is left: OpenZeppelin keeps an
    infinite allowance untouched; an exact approval ends at zero."""
    if after >= 2**255:
        return None
    return "clear" if after == 0 else "update"


# ───────────────────────────── results ─────────────────────────────


@dataclass
class Row:
    """One measured transaction (or a batch of n jobs) and its floor."""

    name: str
    gas: int
    floor: costs.Floor
    scenario: str
    size: int = 1  # jobs in a batch: per-job figures divide by it

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gas": self.gas,
            "floor": self.floor.total,
            "ratio": round(self.gas / self.floor.total, 3),
            "size": self.size,
            "gas_per_job": round(self.gas / self.size, 1),
            "floor_per_job": round(self.floor.total / self.size, 1),
            "scenario": self.scenario,
            "floor_terms": self.floor.as_dict(),
        }


@dataclass
class Results:
    operations: list[Row] = field(default_factory=list)
    batches: list[tuple[str, Row]] = field(default_factory=list)  # (entry point, row)
    # Per batch size: the job lifecycle's gas for the whole batch, by transaction kind.
    lifecycle: dict[int, dict[str, int]] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)


def measured(rails: ComputeRails, label: str) -> Any:
    """The last transaction the connection sent, checked to be the one we mean."""
    sent = rails.tx.sent[-1]
    if sent.label != label:
        raise RuntimeError(f"expected the last transaction to be {label}, got {sent.label}")
    return sent


# ───────────────────────────── gas: single operations ─────────────────────────────


def measure_create(chain: Chain) -> list[Row]:
    """createJob by the approve path and by the permit path, each in steady state (not the
    client's first job, not the token's first deposit into the escrow)."""
    client = chain.rails("client-a")
    provider = chain.provider("provider-p")
    chain.fund(client, usd=1_000_000 * USD)
    client.client.create_job(provider.address, "0.10", 100, timedelta(hours=2), SPEC, payment="approve")  # warm-up
    escrow_before = chain.balance(chain.usd, client.escrow.address)
    client.client.create_job(provider.address, "0.10", 100, timedelta(hours=2), SPEC, payment="approve")
    sent = measured(client, "createJob")
    approve_floor = costs.create_jobs(
        chain.tx_input(sent.tx_hash),
        1,
        client_emptied=chain.balance(chain.usd, client.address) == 0,
        escrow_fresh=escrow_before == 0,
        allowance=allowance_spent(chain.usd.functions.allowance(client.address, client.escrow.address).call()),
    )
    rows = [
        Row(
            "createJob (approve path)",
            sent.gas_used,
            approve_floor,
            "exact approve sent first (not counted); client and escrow already hold mUSD",
        )
    ]

    permit = chain.rails("client-b")
    chain.fund(permit, usd=1_000_000 * USD)
    permit.client.create_job(provider.address, "0.10", 100, timedelta(hours=2), SPEC, payment="permit")  # first permit
    nonce_before = chain.usd.functions.nonces(permit.address).call()
    escrow_before = chain.balance(chain.usd, permit.escrow.address)
    permit.client.create_job(provider.address, "0.10", 100, timedelta(hours=2), SPEC, payment="permit")
    sent = measured(permit, "createJob")
    floor = costs.create_job_with_permit(
        chain.tx_input(sent.tx_hash),
        client_emptied=chain.balance(chain.usd, permit.address) == 0,
        escrow_fresh=escrow_before == 0,
        nonce_fresh=nonce_before == 0,
    )
    rows.append(Row("createJobWithPermit", sent.gas_used, floor, "second permit of the client (nonce already set)"))
    return rows


def new_accepted_job(chain: Chain, provider: ComputeRails, client_role: str = "client-a") -> int:
    client = chain.rails(client_role)
    job = client.client.create_job(provider.address, "0.10", 100, timedelta(hours=6), SPEC, payment="approve")
    provider.provider.accept(job.id)
    return job.id


def measure_accept_attest(chain: Chain, ks: Sequence[int]) -> list[Row]:
    """accept (not the provider's first job) and submitAttestation with k signatures; extra
    oracles are added by governance so that k can reach 5."""
    provider = chain.provider("provider-p")
    relayer = chain.rails("relayer")
    client = chain.rails("client-a")
    job = client.client.create_job(provider.address, "0.10", 100, timedelta(hours=6), SPEC, payment="approve")
    provider.provider.accept(job.id)  # warm-up: the provider has locked collateral before
    job = client.client.create_job(provider.address, "0.10", 100, timedelta(hours=6), SPEC, payment="approve")
    provider.provider.accept(job.id)
    sent = measured(provider, "accept")
    rows = [
        Row(
            "accept",
            sent.gas_used,
            costs.accept(chain.tx_input(sent.tx_hash)),
            "provider already has collateral locked for another job",
        )
    ]

    signers = list(chain.oracles)
    wanted = max(ks)
    for index in EXTRA_ORACLES[: max(0, wanted - len(signers))]:
        extra = Account.from_key(dev_key(index))
        chain.gov.send(chain.gov.hub.functions.addOracle(extra.address), "addOracle")
        signers.append(extra)
    if wanted > len(signers):
        raise ValueError(f"k={wanted} needs more oracle keys than the bench has ({len(signers)})")
    for k in ks:
        chain.set_threshold(k)
        job_id = new_accepted_job(chain, provider)
        relayer.oracle.attest(job_id, success=True, units=80, result_hash=RESULT, signers=signers[:k])
        sent = measured(relayer, "submitAttestation")
        rows.append(
            Row(
                f"submitAttestation, k={k}",
                sent.gas_used,
                costs.attest(chain.tx_input(sent.tx_hash), k),
                f"{k} of {len(signers)} oracles sign; success with 80 of 100 units",
            )
        )
    chain.set_threshold(2)
    return rows


def measure_uptime(chain: Chain, k: int = 3) -> list[Row]:
    """Uptime reports in steady state (as tests/gas/test_budgets.py defines it): the provider
    was reported in an earlier epoch of the same bitmap word, and the relayer and the treasury
    already hold slash proceeds."""
    chain.set_threshold(k)
    relayer = chain.rails("relayer")
    measured_provider = chain.provider("uptime-1")
    other = chain.provider("uptime-2")
    steady = chain.provider("uptime-3")  # stays within the SLA (a slashed provider is jailed: no SLA)
    signers = chain.oracles[:k]

    def report(provider: ComputeRails, epoch: int, bps: int) -> Any:
        r = UptimeReport(provider=provider.address, epoch=epoch, uptime_bps=bps, relayer=relayer.address)
        return relayer.oracle.submit_uptime_report(r, relayer.oracle.collect_signatures(r, signers, k=k))

    chain.finish_epoch()  # the SLA applies from the first epoch after registration
    first = chain.finish_epoch()
    report(other, first, 5_000)  # a slash: the relayer and the treasury now hold proceeds
    report(measured_provider, first, 10_000)  # the provider's bitmap word exists
    report(steady, first, 10_000)
    second = chain.finish_epoch()
    same_word = first >> 8 == second >> 8
    relayer_fresh = chain.staking_claimable(relayer.address) == 0
    treasury_fresh = chain.staking_claimable(chain.treasury) == 0
    sent = report(measured_provider, second, 5_000)
    slash = Row(
        f"submitUptimeReport, k={k}, slash",
        sent.gas_used,
        costs.uptime(
            chain.tx_input(sent.tx_hash),
            k,
            slash=True,
            word_fresh=not same_word,
            relayer_fresh=relayer_fresh,
            treasury_fresh=treasury_fresh,
        ),
        "steady state: provider reported before, relayer and treasury hold proceeds",
    )
    sent = report(steady, second, 10_000)
    no_slash = Row(
        f"submitUptimeReport, k={k}, no slash",
        sent.gas_used,
        costs.uptime(chain.tx_input(sent.tx_hash), k, slash=False, word_fresh=not same_word),
        "at the SLA: the once-only bit is set, nothing slashed",
    )
    chain.set_threshold(2)
    return [slash, no_slash]


def measure_disputes(chain: Chain) -> list[Row]:
    """dispute (bond by exact approve), then resolveDispute rejected and upheld."""
    client = chain.rails("client-a")
    relayer = chain.rails("relayer")
    arbitrator = chain.gov
    rows = []
    for upheld, role in ((False, "provider-p"), (True, "provider-d")):
        provider = chain.provider(role)
        job_id = new_accepted_job(chain, provider)
        relayer.oracle.attest(job_id, success=True, units=80, result_hash=RESULT, signers=chain.oracles)
        escrow_before = chain.balance(chain.usd, client.escrow.address)
        client.client.dispute(job_id)
        if not upheld:
            sent = measured(client, "dispute")
            floor = costs.dispute(
                chain.tx_input(sent.tx_hash),
                client_emptied=chain.balance(chain.usd, client.address) == 0,
                escrow_fresh=escrow_before == 0,
                allowance=allowance_spent(chain.usd.functions.allowance(client.address, client.escrow.address).call()),
            )
            rows.append(Row("dispute", sent.gas_used, floor, "bond (10% of escrow) by exact approve, sent first"))
        flags = {
            "provider": chain.escrow_claimable(provider.address) == 0,
            "client": chain.escrow_claimable(client.address) == 0,
            "treasury": chain.escrow_claimable(chain.treasury) == 0,
            "client_share": chain.staking_claimable(client.address) == 0,
            "treasury_share": chain.staking_claimable(chain.treasury) == 0,
        }
        arbitrator.send(arbitrator.escrow.functions.resolveDispute(job_id, upheld), "resolveDispute")
        sent = measured(arbitrator, "resolveDispute")
        data = chain.tx_input(sent.tx_hash)
        if upheld:
            floor = costs.resolve_upheld(
                data,
                client_fresh=flags["client"],
                client_share_fresh=flags["client_share"],
                treasury_share_fresh=flags["treasury_share"],
            )
            rows.append(
                Row(
                    "resolveDispute (upheld)",
                    sent.gas_used,
                    floor,
                    "client refunded with its bond, the job's collateral slashed and shared",
                )
            )
        else:
            floor = costs.resolve_rejected(
                data, provider_fresh=flags["provider"], client_fresh=flags["client"], treasury_fresh=flags["treasury"]
            )
            rows.append(
                Row(
                    "resolveDispute (rejected)",
                    sent.gas_used,
                    floor,
                    "provider paid 80 of 100 units plus the bond, client refunded the rest",
                )
            )
    return rows


def measure_stake(chain: Chain) -> list[Row]:
    """register, addStake, requestUnbond and withdrawUnbonded of a new provider (others are
    already staked); stake is approved exactly by the SDK before register and addStake."""
    rails = chain.rails("provider-r")
    chain.fund(rails, stake=10_000 * STAKE)
    staking = rails.staking.address
    token = chain.stake_token
    uri = "ipfs://bench-provider"
    totals_before = chain.gov.staking.functions.totalStaked().call()
    staking_before = chain.balance(token, staking)
    rails.provider.register(uri, 2_000)
    sent = measured(rails, "register")
    rows = [
        Row(
            "register (first stake)",
            sent.gas_used,
            costs.register(
                chain.tx_input(sent.tx_hash),
                len(uri.encode()),
                totals_fresh=totals_before == 0,
                provider_emptied=chain.balance(token, rails.address) == 0,
                staking_fresh=staking_before == 0,
                allowance=allowance_spent(token.functions.allowance(rails.address, staking).call()),
            ),
            "new provider; other providers already staked",
        )
    ]

    staking_before = chain.balance(token, staking)
    rails.provider.stake(500)
    sent = measured(rails, "addStake")
    rows.append(
        Row(
            "addStake",
            sent.gas_used,
            costs.add_stake(
                chain.tx_input(sent.tx_hash),
                provider_emptied=chain.balance(token, rails.address) == 0,
                staking_fresh=staking_before == 0,
                allowance=allowance_spent(token.functions.allowance(rails.address, staking).call()),
            ),
            "registered provider tops up",
        )
    )

    unbonding_before = rails.staking.functions.providerInfo(rails.address).call()[5]
    rails.provider.request_unbond(300)
    sent = measured(rails, "requestUnbond")
    rows.append(
        Row(
            "requestUnbond",
            sent.gas_used,
            costs.request_unbond(chain.tx_input(sent.tx_hash), unbonding_fresh=unbonding_before == 0),
            "first unbond of the provider",
        )
    )

    chain.warp(UNBONDING_DELAY + 1)
    wallet_before = chain.balance(token, rails.address)
    rails.provider.withdraw_unbonded()
    sent = measured(rails, "withdrawUnbonded")
    rows.append(
        Row(
            "withdrawUnbonded",
            sent.gas_used,
            costs.withdraw_unbonded(
                chain.tx_input(sent.tx_hash),
                recipient_fresh=wallet_before == 0,
                sender_emptied=chain.balance(token, staking) == 0,
                unbonding_total_cleared=chain.gov.staking.functions.totalUnbonding().call() == 0,
            ),
            "after the unbonding delay; the provider's wallet still holds stake tokens",
        )
    )
    return rows


# ───────────────────────────── gas: batches ─────────────────────────────


def measure_batches(chain: Chain, sizes: Sequence[int]) -> Results:
    """For each size n: createJobs(n) -> n accepts -> submitAttestations(n) -> settleMany(n),
    all jobs of one client for one provider (a provider per size, so that each size's claim
    withdraws exactly that batch's earnings); then the provider claims (escrow.withdraw)."""
    client = chain.rails("client-a")
    relayer = chain.rails("relayer")
    chain.fund(client, usd=1_000_000 * USD)
    k = int(chain.gov.hub.functions.threshold().call())
    out = Results()
    claim_after = {min(sizes), max(sizes)}
    for n in sizes:
        provider = chain.provider(f"provider-batch-{n}", stake=1_000 + 6 * n)
        requests = [
            {
                "provider": provider.address,
                "unit_price": "0.10",
                "max_units": 100,
                "deadline": timedelta(days=2),
                "spec_hash": SPEC,
            }
        ] * n
        escrow_before = chain.balance(chain.usd, client.escrow.address)
        jobs = client.client.create_jobs(requests)
        sent = measured(client, "createJobs")
        floor = costs.create_jobs(
            chain.tx_input(sent.tx_hash),
            n,
            client_emptied=chain.balance(chain.usd, client.address) == 0,
            escrow_fresh=escrow_before == 0,
            allowance=allowance_spent(chain.usd.functions.allowance(client.address, client.escrow.address).call()),
        )
        out.batches.append(
            ("createJobs", Row(f"createJobs x{n}", sent.gas_used, floor, "one client, one token, one transfer", n))
        )

        accepts = 0
        for job in jobs:
            provider.provider.accept(job.id)
            accepts += measured(provider, "accept").gas_used
        deadline = relayer.now() + 3_600
        batch = []
        for job in jobs:
            att = Attestation(
                job_id=job.id, provider=provider.address, success=True, units=80, result_hash=RESULT, deadline=deadline
            )
            batch.append((att, relayer.oracle.collect_signatures(att, chain.oracles, k=k)))
        sent, skipped = relayer.oracle.submit_attestations(batch)
        if skipped:
            raise RuntimeError(f"attestations skipped: {skipped}")
        out.batches.append(
            (
                "submitAttestations",
                Row(
                    f"submitAttestations x{n}",
                    sent.gas_used,
                    costs.attest(chain.tx_input(sent.tx_hash), k, n),
                    f"k={k} signatures per attestation",
                    n,
                ),
            )
        )

        chain.warp(CHALLENGE_WINDOW + 1)
        flags = dict(
            provider_fresh=chain.escrow_claimable(provider.address) == 0,
            client_fresh=chain.escrow_claimable(client.address) == 0,
            treasury_fresh=chain.escrow_claimable(chain.treasury) == 0,
        )
        sent = relayer.send(relayer.escrow.functions.settleMany([j.id for j in jobs]), "settleMany")
        floor = costs.settle(chain.tx_input(sent.tx_hash), n, **flags)
        row = Row(
            f"settleMany, {n} job{'s' if n > 1 else ''}",
            sent.gas_used,
            floor,
            "80 of 100 units each: provider, client and treasury credited; one collateral release",
            n,
        )
        out.operations.append(row)
        out.batches.append(("settleMany", row))
        create, attest = (r.gas for e, r in out.batches[-3:-1])
        out.lifecycle[n] = {
            "createJobs": create,
            "accept": accepts,
            "submitAttestations": attest,
            "settle": sent.gas_used,
        }

        if n in claim_after:
            wallet_before = chain.balance(chain.usd, provider.address)
            provider.client.withdraw()
            sent = measured(provider, "withdraw")
            floor = costs.withdraw(
                chain.tx_input(sent.tx_hash),
                recipient_fresh=wallet_before == 0,
                sender_emptied=chain.balance(chain.usd, provider.escrow.address) == 0,
            )
            out.operations.append(
                Row(
                    f"claim (escrow.withdraw) after {n} settled job{'s' if n > 1 else ''}",
                    sent.gas_used,
                    floor,
                    "provider's first payout: its mUSD wallet was empty",
                )
            )
    return out


# ───────────────────────────── gas: metered payments (issue 12) ─────────────────────────────

PRICE_PER_REQUEST = 1_000  # 0.001 mUSD: the 2.5% fee is not rounded to zero even for one request
METERED_FUNDS = 10**15  # raw mUSD units minted to each metered payer
METERED_PROVIDER_STAKE = 10_000_000  # stake tokens bonded by each metered provider


class Metered:
    """MeteredEscrow on the bench chain: deposits, hot signers and vouchers of the bench's roles."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.address = chain.gov.deployment.contracts["MeteredEscrow"]
        self.abi = load_artifact("MeteredEscrow")["abi"]
        self.domain = VoucherDomain(chain.chain_id, self.address)
        self.token = chain.usd.address
        self.staking = chain.gov.staking.address
        self._ids = 0

    def contract(self, rails: ComputeRails) -> Any:
        return rails.w3.eth.contract(address=self.address, abi=self.abi)

    def payer(self, role: str) -> ComputeRails:
        """A payer with mUSD approved to the escrow without limit (deposits then spend no allowance)."""
        rails = self.chain.rails(role)
        if self.chain.balance(self.chain.usd, rails.address) == 0:
            self.chain.fund(rails, usd=METERED_FUNDS)
            rails.send(rails.erc20(self.token).functions.approve(self.address, MAX_UINT), "approve")
        return rails

    def deposit(self, payer: ComputeRails, provider: str, amount: int) -> tuple[Any, costs.Floor]:
        """A deposit and its floor, flags read from the chain just before it."""
        account_fresh = self.account_balance(payer.address, provider) == 0
        escrow_fresh = self.chain.balance(self.chain.usd, self.address) == 0
        sent = payer.send(self.contract(payer).functions.deposit(provider, self.token, amount), "deposit")
        floor = costs.metered_deposit(
            self.chain.tx_input(sent.tx_hash),
            account_fresh=account_fresh,
            payer_emptied=self.chain.balance(self.chain.usd, payer.address) == 0,
            escrow_fresh=escrow_fresh,
            allowance=allowance_spent(self.chain.usd.functions.allowance(payer.address, self.address).call()),
        )
        return sent, floor

    def account_balance(self, payer: str, provider: str) -> int:
        return int(self.contract(self.chain.gov).functions.account(payer, provider, self.token).call()[0])

    def authorize(self, payer: ComputeRails, role: str) -> VoucherSigner:
        """A hot signer key for `payer`, authorized with its consent proof."""
        key = bench_key(role)
        signer = Account.from_key(key)
        deadline = payer.now() + 3_600
        digest = self.contract(payer).functions.signerProofDigest(payer.address, signer.address, deadline).call()
        proof = Account.unsafe_sign_hash(digest, key).signature
        payer.send(self.contract(payer).functions.authorizeSigner(signer.address, deadline, proof), "authorizeSigner")
        return VoucherSigner(self.domain, key)

    def voucher(
        self, signer: VoucherSigner, payer: str, provider: str, collection: bytes, requests: int
    ) -> tuple[tuple[Any, ...], bytes]:
        v = Voucher(
            payer=payer,
            provider=provider,
            token=self.token,
            collection_id=collection,
            value_aggregate=requests * PRICE_PER_REQUEST,
            request_count=requests,
            timestamp=self.chain.gov.now(),
            metadata=b"\x33" * 32,
        )
        return v.as_tuple(), signer.sign(v)

    def new_collection(self) -> bytes:
        self._ids += 1
        return keccak(text=f"computerails-bench/collection/{self._ids}")

    def claimable(self, account: str) -> int:
        return int(self.contract(self.chain.gov).functions.claimable(account, self.token).call())

    def collect(
        self, provider: ComputeRails, vouchers: Sequence[tuple[tuple[Any, ...], bytes]], *, signer_reads: int
    ) -> tuple[Any, costs.Floor]:
        """collect (one voucher) or collectMany (several) by `provider`, and its floor. Every
        voucher must pay; collections are new or not, payers counted, from the chain's state
        before; the stake lock is counted when the transaction called ProviderStaking."""
        c = self.contract(provider)
        fresh = sum(
            not c.functions.collection(v[0], v[1], v[2], v[3]).call()[2]  # started
            for v, _ in vouchers
        )
        provider_fresh = self.claimable(provider.address) == 0
        treasury_fresh = self.claimable(self.chain.treasury) == 0
        if len(vouchers) == 1:
            sent = provider.send(c.functions.collect(*vouchers[0]), "collect")
        else:
            sent = provider.send(
                c.functions.collectMany([v for v, _ in vouchers], [s for _, s in vouchers]), "collectMany"
            )
        receipt = self.chain.w3.eth.get_transaction_receipt(sent.tx_hash)
        events = c.events.VoucherCollected().process_receipt(receipt)
        if [int(e["args"]["requestCount"]) for e in events] != [v[5] for v, _ in vouchers]:
            raise RuntimeError(f"{len(vouchers)} vouchers sent, {len(events)} collected with other request counts")
        fees = sum(int(e["args"]["fee"]) for e in events)
        floor = costs.metered_collect(
            self.chain.tx_input(sent.tx_hash),
            collections_fresh=fresh,
            collections_updated=len(vouchers) - fresh,
            accounts=len({v[0] for v, _ in vouchers}),
            signer_reads=signer_reads,
            provider_fresh=provider_fresh,
            treasury_fresh=(treasury_fresh if fees else None),
            locked=self.called(sent.tx_hash, self.staking),
        )
        return sent, floor

    def called(self, tx_hash: str, address: str) -> bool:
        """Whether the transaction called `address` (anvil's call tracer)."""
        trace = self.chain.w3.provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        if "result" not in trace:
            raise RuntimeError(f"debug_traceTransaction failed: {trace.get('error')}")
        stack, target = [trace["result"]], address.lower()
        while stack:
            frame = stack.pop()
            if str(frame.get("to", "")).lower() == target:
                return True
            stack.extend(frame.get("calls", []))
        return False


def measure_metered(
    chain: Chain, sizes: Sequence[int] = metered.SIZES, many: int = 50, many_payers: int = 5
) -> tuple[list[Row], list[dict[str, Any]]]:
    """MeteredEscrow's operations against their floors, and per request count R a real collect
    of a voucher carrying R requests and their value (a new collection; then the next voucher of
    the same collection, R requests on), the payer's top-up that funds it and a collectMany of
    `many` such vouchers from `many_payers` payers (new collections, signed by the payers' own
    keys). Steady state unless named: the escrow holds the token, the treasury holds fees."""
    m = Metered(chain)
    # Registered with ample stake: every collection locks 5x its value for the dispute window, and
    # the 1,000,000-request collections of a collectMany lock 250,000 stake tokens at once.
    provider = chain.provider("meter-provider", stake=METERED_PROVIDER_STAKE)
    other = chain.provider("meter-provider-2", stake=METERED_PROVIDER_STAKE)
    warm = m.payer("meter-warm")
    m.deposit(warm, other.address, 10**9)
    hot_warm = m.authorize(warm, "meter-warm-hot")
    m.collect(other, [m.voucher(hot_warm, warm.address, other.address, m.new_collection(), 1_000)], signer_reads=1)

    payer = m.payer("meter-payer")
    sent, floor = m.deposit(payer, provider.address, 10**12)
    rows = [Row("MeteredEscrow.deposit (new account)", sent.gas_used, floor, "payer's first deposit for the provider")]
    sent, floor = m.deposit(payer, provider.address, 10**12)
    rows.append(Row("MeteredEscrow.deposit (top-up)", sent.gas_used, floor, "existing account, unlimited approval"))
    hot = m.authorize(payer, "meter-payer-hot")
    cid = m.new_collection()
    sent, floor = m.collect(provider, [m.voucher(hot, payer.address, provider.address, cid, 100)], signer_reads=1)
    rows.append(
        Row(
            "collect (provider's first)",
            sent.gas_used,
            floor,
            "new collection, provider's claimable from zero; hot key",
        )
    )
    sent, floor = m.collect(provider, [m.voucher(hot, payer.address, provider.address, cid, 200)], signer_reads=1)
    rows.append(Row("collect (steady)", sent.gas_used, floor, "collection collected before; hot key"))
    sent, floor = m.collect(
        provider, [m.voucher(hot, payer.address, provider.address, m.new_collection(), 100)], signer_reads=1
    )
    rows.append(Row("collect (new collection)", sent.gas_used, floor, "new collection id of an existing account"))

    many_signers = []
    for i in range(many_payers):
        p = m.payer(f"meter-many-{i}")
        m.deposit(p, provider.address, 10**13)
        many_signers.append((p.address, VoucherSigner(m.domain, bench_key(f"meter-many-{i}"))))

    out = []
    for r in sizes:
        deposit, _ = m.deposit(payer, provider.address, r * PRICE_PER_REQUEST)
        cid = m.new_collection()
        first, _ = m.collect(provider, [m.voucher(hot, payer.address, provider.address, cid, r)], signer_reads=1)
        later, _ = m.collect(provider, [m.voucher(hot, payer.address, provider.address, cid, 2 * r)], signer_reads=1)
        batch = [
            m.voucher(signer, address, provider.address, m.new_collection(), r)
            for j in range(many)
            for address, signer in [many_signers[j % many_payers]]
        ]
        sent, floor = m.collect(provider, batch, signer_reads=0)
        if r == sizes[0]:
            rows.append(
                Row(
                    f"collectMany, {many} vouchers",
                    sent.gas_used,
                    floor,
                    f"{many_payers} payers' own keys, new collections, {r:,} requests each",
                    many,
                )
            )
        out.append(
            {
                "requests": r,
                "collect_gas": first.gas_used,
                "later_collect_gas": later.gas_used,
                "deposit_gas": deposit.gas_used,
                "collect_many_gas": sent.gas_used,
                "collect_many_vouchers": many,
            }
        )
    return rows, out


# ───────────────────────────── throughput ─────────────────────────────


class RawSender:
    """The baseline: web3.py's defaults, a local nonce counter, sign, send_raw_transaction,
    wait_for_transaction_receipt. No simulation, no checks, fixed gas limit and fees."""

    def __init__(self, w3: Web3, key: str) -> None:
        self.w3 = w3
        self.account = Account.from_key(key)
        self.chain_id = int(w3.eth.chain_id)
        self.nonce = int(w3.eth.get_transaction_count(self.account.address, "pending"))
        base = int(w3.eth.get_block("latest")["baseFeePerGas"])
        self.tip = 10**9
        self.max_fee = 2 * base + self.tip

    def resync(self) -> None:
        self.nonce = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))

    def send_only(self, to: str, data: str, gas: int) -> Any:
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "to": to,
            "data": data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": self.max_fee,
            "maxPriorityFeePerGas": self.tip,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.nonce += 1
        return tx_hash

    def send(self, to: str, data: str, gas: int) -> Any:
        tx_hash = self.send_only(to, data, gas)
        # Polled every millisecond: at least as eager as the SDK (1, 2, 4 ... 10 ms), so that
        # the baseline never loses time waiting for a receipt that is already there.
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.001)
        if receipt["status"] != 1:
            raise RuntimeError(f"raw transaction {tx_hash.hex()} reverted")
        return receipt


def _rounds(
    chain: Chain, sides: dict[str, tuple[Callable[[], None], Callable[[int], None]]], iterations: int, rounds: int
) -> dict[str, Any]:
    """Alternate the sides' blocks of `iterations` operations, every block from the same chain
    state: anvil's cost per block grows with the size of its state, so blocks that piled up
    jobs would slow each other down and dilute the difference being measured. Before each
    block (not timed): revert to the snapshot, take a new one, let the side resync its nonce."""
    times = {name: 0.0 for name in sides}
    per_round: list[dict[str, float]] = []
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    names = list(sides)
    for r in range(rounds):
        spent = {}
        for name in names if r % 2 == 0 else names[::-1]:
            chain.w3.provider.make_request("evm_revert", [snapshot])
            snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
            resync, run = sides[name]
            resync()
            start = time.perf_counter()
            run(iterations)
            spent[name] = time.perf_counter() - start
            times[name] += spent[name]
        per_round.append(spent)
    chain.w3.provider.make_request("evm_revert", [snapshot])
    for resync, _ in sides.values():
        resync()
    n = iterations * rounds
    sdk_rate, raw_rate = n / times["sdk"], n / times["raw"]
    return {
        "iterations": n,
        "sdk_per_s": round(sdk_rate, 1),
        "raw_per_s": round(raw_rate, 1),
        "ratio_raw_over_sdk": round(raw_rate / sdk_rate, 3),
        "sdk_ms_per_op": round(1000 / sdk_rate, 2),
        "raw_ms_per_op": round(1000 / raw_rate, 2),
        "round_ratios": [round(t["sdk"] / t["raw"], 3) for t in per_round],
        "median_round_ratio": round(statistics.median(t["sdk"] / t["raw"] for t in per_round), 3),
    }


def measure_throughput(
    chain: Chain, iterations: int = 35, rounds: int = 12, profile: Path | None = None
) -> dict[str, Any]:
    """Jobs created per second and attestations signed and submitted per second, through the
    SDK (``client.create_job``; ``oracle.collect_signatures`` + ``oracle.submit_attestation``)
    and through a raw web3.py loop sending the same calls, in alternating rounds that each
    start from the same chain state."""
    provider = chain.provider("tp-provider", stake=1_000_000)
    sdk_client = chain.rails("tp-client-sdk")
    sdk_relayer = chain.rails("tp-relayer-sdk")
    raw_w3 = Web3(HTTPProvider(chain.url))  # web3.py as a user gets it: default middleware and session
    raw_client_key, raw_relayer_key = bench_key("tp-client-raw"), bench_key("tp-relayer-raw")
    for key in (raw_client_key, raw_relayer_key):
        chain.w3.provider.make_request("anvil_setBalance", [Account.from_key(key).address, hex(ETH)])
    chain.fund(sdk_client, usd=10**9 * USD)
    sdk_client.send(
        sdk_client.erc20(chain.usd.address).functions.approve(sdk_client.escrow.address, MAX_UINT), "approve"
    )
    raw_client = RawSender(raw_w3, raw_client_key)
    raw_relayer = RawSender(raw_w3, raw_relayer_key)
    usd = raw_w3.eth.contract(address=chain.usd.address, abi=chain.usd.abi)
    escrow = raw_w3.eth.contract(address=chain.gov.escrow.address, abi=chain.gov.escrow.abi)
    hub = raw_w3.eth.contract(address=chain.gov.hub.address, abi=chain.gov.hub.abi)
    raw_client.send(usd.address, usd.encode_abi("mint", [raw_client.account.address, 10**9 * USD]), 100_000)
    raw_client.send(usd.address, usd.encode_abi("approve", [escrow.address, MAX_UINT]), 100_000)
    unit_price, units = 1_000, 10  # 0.01 mUSD per job

    def sdk_create(n: int) -> None:
        for _ in range(n):
            sdk_client.client.create_job(provider.address, Raw(unit_price), units, timedelta(hours=6), SPEC)

    def raw_create(n: int) -> None:
        deadline = int(raw_w3.eth.get_block("latest")["timestamp"]) + 6 * 3_600
        for _ in range(n):
            data = escrow.encode_abi("createJob", [provider.address, usd.address, unit_price, units, deadline, SPEC])
            raw_client.send(escrow.address, data, 300_000)

    sdk_create(2), raw_create(2)  # warm-up: connections, caches, the escrow's token balance
    create = _rounds(
        chain, {"raw": (raw_client.resync, raw_create), "sdk": (sdk_client.tx.resync, sdk_create)}, iterations, rounds
    )

    # Jobs to attest: created in one transaction and accepted in one block (not timed), then
    # attested by both sides from the same snapshot.
    jobs = [
        j.id
        for j in sdk_client.client.create_jobs(
            [
                {
                    "provider": provider.address,
                    "unit_price": Raw(unit_price),
                    "max_units": units,
                    "deadline": timedelta(hours=6),
                    "spec_hash": SPEC,
                }
            ]
            * (iterations + 2)
        )
    ]
    acceptor = RawSender(raw_w3, bench_key("tp-provider"))
    chain.w3.provider.make_request("evm_setAutomine", [False])
    try:
        hashes = [acceptor.send_only(escrow.address, escrow.encode_abi("accept", [j]), 300_000) for j in jobs]
        chain.w3.provider.make_request("evm_mine", [])
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])
    if any(raw_w3.eth.get_transaction_receipt(h)["status"] != 1 for h in hashes):
        raise RuntimeError("a job to attest was not accepted")

    k = int(chain.gov.hub.functions.threshold().call())
    signers: list[LocalAccount] = chain.oracles[:k]
    deadline = int(raw_w3.eth.get_block("latest")["timestamp"]) + 6 * 3_600
    separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak(text="ComputeRails AttestationHub"),
                keccak(text="2"),
                chain.chain_id,
                hub.address,
            ],
        )
    )
    typehash = keccak(
        text="ComputeAttestation(uint256 jobId,address provider,bool success,uint256 units,"
        "bytes32 resultHash,uint256 deadline,uint256 configVersion)"
    )
    version = int(hub.functions.configVersion().call())

    def sdk_attest(n: int, offset: int = 2) -> None:
        for job_id in jobs[offset : offset + n]:
            att = Attestation(
                job_id=job_id,
                provider=provider.address,
                success=True,
                units=units,
                result_hash=RESULT,
                deadline=deadline,
            )
            sdk_relayer.oracle.submit_attestation(att, sdk_relayer.oracle.collect_signatures(att, signers))

    def raw_attest(n: int, offset: int = 2) -> None:
        for job_id in jobs[offset : offset + n]:
            struct = keccak(
                encode(
                    ["bytes32", "uint256", "address", "bool", "uint256", "bytes32", "uint256", "uint256"],
                    [typehash, job_id, provider.address, True, units, RESULT, deadline, version],
                )
            )
            digest = keccak(b"\x19\x01" + separator + struct)
            signed = sorted(
                ((o.address, Account.unsafe_sign_hash(digest, o.key)) for o in signers), key=lambda p: int(p[0], 16)
            )
            packed = b"".join(s.r.to_bytes(32, "big") + s.s.to_bytes(32, "big") + bytes([s.v]) for _, s in signed)
            data = hub.encode_abi(
                "submitAttestation", [(job_id, provider.address, True, units, RESULT, deadline, version), packed]
            )
            raw_relayer.send(hub.address, data, 400_000)

    sdk_attest(1, 0), raw_attest(1, 1)  # warm-up, on the two spare jobs
    attest = _rounds(
        chain, {"raw": (raw_relayer.resync, raw_attest), "sdk": (sdk_relayer.tx.resync, sdk_attest)}, iterations, rounds
    )
    result = {
        "create_job": {
            **create,
            "sdk_call": "client.create_job(provider, Raw(1000), 10, timedelta(hours=6), spec)",
            "raw_call": "escrow.encode_abi('createJob', ...) + sign + send_raw_transaction"
            " + wait_for_transaction_receipt",
        },
        "attest": {
            **attest,
            "k": k,
            "sdk_call": "oracle.collect_signatures(att, oracles) + oracle.submit_attestation(att, sigs)",
            "raw_call": "EIP-712 digest + k x unsafe_sign_hash + encode_abi('submitAttestation') + sign + send + wait",
        },
    }
    if profile is not None:
        snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
        sdk_client.tx.resync()
        print("Profile of the SDK's create_job loop (cumulative):\n" + _profile(sdk_create, profile, iterations))
        chain.w3.provider.make_request("evm_revert", [snapshot])
        sdk_client.tx.resync()
    return result


def _profile(run: Callable[[int], None], path: Path, iterations: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run(iterations)
    profiler.disable()
    profiler.dump_stats(str(path))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


# ───────────────────────────── report ─────────────────────────────


def collect(
    chain: Chain,
    *,
    sizes: Sequence[int] = (1, 10, 100),
    ks: Sequence[int] = (1, 3, 5),
    iterations: int = 35,
    rounds: int = 12,
    profile: Path | None = None,
    metered_sizes: Sequence[int] = metered.SIZES,
    many: int = 50,
    eth_usd: float = metered.ETH_USD,
) -> dict[str, Any]:
    """Run every measurement on `chain` and return the results document."""
    throughput = measure_throughput(chain, iterations, rounds, profile) if iterations else {}
    ops = measure_create(chain) + measure_accept_attest(chain, ks) + measure_uptime(chain)
    batches = measure_batches(chain, sizes)
    ops += batches.operations + measure_disputes(chain) + measure_stake(chain)
    metered_ops, collections = measure_metered(chain, metered_sizes, many)
    ops += metered_ops
    one, most = min(batches.lifecycle), max(batches.lifecycle)
    per_job = {
        "unbatched": {"jobs": one, "parts": batches.lifecycle[one]},
        "batched": {"jobs": most, "parts": batches.lifecycle[most]},
    }
    return {
        "meta": meta(),
        "operations": [r.as_dict() for r in ops],
        "batches": [{"entry": entry, **row.as_dict()} for entry, row in batches.batches],
        "metered": metered.summarize(collections, per_job, eth_usd=eth_usd),
        "throughput": throughput,
    }


def meta() -> dict[str, Any]:
    try:
        anvil = subprocess.run(
            [anvil_binary(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[0]
    except Exception:  # pragma: no cover
        anvil = "unknown"
    import web3

    return {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "node": anvil,
        "compiler": "solc 0.8.37, via_ir, optimizer 20000 runs (ape-config.yaml)",
        "python": platform.python_version(),
        "web3": web3.__version__,
        "machine": f"{platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "notes": "gas is deterministic for the scenario; throughput is wall-clock on the machine that ran it",
    }


def markdown(results: dict[str, Any]) -> str:
    lines = ["| Operation | Gas | Floor | Ratio |", "|---|---:|---:|---:|"]
    for row in results["operations"]:
        lines.append(f"| {row['name']} | {row['gas']:,} | {row['floor']:,} | {row['ratio']:.2f} |")
    lines += [
        "",
        "Amortized per job:",
        "",
        "| Batched entry point | Batch size | Gas per job | Floor per job | Ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results["batches"]:
        lines.append(
            f"| {row['entry']} | {row['size']} | {row['gas_per_job']:,.0f} | {row['floor_per_job']:,.0f} "
            f"| {row['ratio']:.2f} |"
        )
    if "metered" in results:
        lines += [
            "",
            "Pay per request (issue 12): gas per paid request, metered against per job (same run):",
            "",
            metered.markdown(results["metered"]),
        ]
    tp = results.get("throughput") or {}
    if tp:
        lines += [
            "",
            "SDK throughput against a raw web3.py loop sending the same transactions (same run, same node, "
            "alternating rounds that each start from the same chain snapshot):",
            "",
            "| Operation | SDK per second | Raw web3.py per second | Raw / SDK |",
            "|---|---:|---:|---:|",
        ]
        names = {
            "create_job": "create a job",
            "attest": f"sign (k={tp.get('attest', {}).get('k', '?')}) and submit an attestation",
        }
        for key, label in names.items():
            t = tp[key]
            lines.append(f"| {label} | {t['sdk_per_s']:.0f} | {t['raw_per_s']:.0f} | {t['ratio_raw_over_sdk']:.2f} |")
        n, c, a = tp["create_job"]["iterations"], tp["create_job"], tp["attest"]
        lines += [
            "",
            f"{n} operations of each kind per side in {len(c['round_ratios'])} rounds (median of the rounds' "
            f"ratios: {c['median_round_ratio']:.2f} and {a['median_round_ratio']:.2f}); {results['meta']['node']}, "
            f"Python {results['meta']['python']}, web3 {results['meta']['web3']}; generated "
            f"{results['meta']['generated']} by `make bench`.",
        ]
    if "vouchers" in results:
        lines += [
            "",
            "Pay per request (issue 12): EIP-712 vouchers signed and verified per second on one core, against "
            "eth-account's generic path (same run, alternating rounds):",
            "",
            vouchers.markdown(results["vouchers"]),
        ]
    if "agent" in results:
        lines += [
            "",
            "Provider agent: paid inference (issue 13): requests per second of a real agent process with payment "
            "on against one with `payment = false`, and the latency payment adds (same run, alternating rounds):",
            "",
            agent.markdown(results["agent"]),
        ]
    if "network" in results:
        lines += [
            "",
            "Oracle network (issue 14): attestations per second through real oracle nodes against direct SDK "
            "submission in the same run, the time from a job's result to its attestation, and the health-probe "
            "load per provider:",
            "",
            network.markdown(results["network"]),
        ]
    if "indexer" in results:
        lines += [
            "",
            "Event indexer (issue 15): events per second indexed into SQLite and into PostgreSQL (same history, "
            "same run):",
            "",
            indexer.markdown(results["indexer"]),
        ]
    if "rewards" in results:
        lines += [
            "",
            "Incentive emissions (issue 16): the RewardsDistributor's root post and claims at 100,000 leaves "
            "against their floors and the issue's budgets:",
            "",
            rewards.markdown(results["rewards"]),
        ]
    if "harness" in results:
        lines += [
            "",
            "Stateful harness: contract calls per second of its driver against the path it used before "
            "(same workload, same run):",
            "",
            harness.markdown(results["harness"]),
        ]
    if "scaling" in results:
        lines += [
            "",
            'The main job at scale: `make demo-sim ARGS="--jobs N"` (providers and clients grow with N; '
            "peak resident memory of each process):",
            "",
            scaling.markdown(results["scaling"]),
        ]
    return "\n".join(lines)


def write_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} markers")
    readme.write_text(text[: start + len(README_START)] + "\n" + table + "\n" + text[end:])


#: The sections ``--only`` can run alone (each independent of the gas run's chain state).
ONLY = ("agent", "network", "vouchers", "harness", "scaling", "indexer", "rewards")


def measure_agent(chain: Chain, args: argparse.Namespace) -> dict[str, Any]:
    return agent.measure(
        chain,
        requests=args.agent_requests,
        rounds=args.agent_rounds,
        profile=True if args.agent_profile else None,
    )


def measure_network(chain: Chain, args: argparse.Namespace) -> dict[str, Any]:
    return network.measure(chain, jobs=args.network_jobs, probes=args.network_probes)


def run_section(name: str, args: argparse.Namespace) -> Any:
    """One section of the results on its own (``--only``); the agent and the oracle network get
    a fresh chain."""
    if name in ("agent", "network"):
        with tempfile.TemporaryDirectory(prefix="computerails-bench-") as tmp:
            chain = Chain(Path(tmp))
            try:
                return measure_agent(chain, args) if name == "agent" else measure_network(chain, args)
            finally:
                chain.stop()
    if name == "vouchers":
        return vouchers.measure(args.vouchers)
    if name == "harness":
        return harness.measure(args.harness_jobs)
    if name == "indexer":
        return indexer.measure(args.indexer_jobs, args.indexer_rounds)
    if name == "rewards":
        return rewards.measure(args.rewards_leaves)
    return scaling.measure([int(n) for n in args.scaling.split(",")])


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every section the arguments do not skip."""
    with tempfile.TemporaryDirectory(prefix="computerails-bench-") as tmp:
        chain = Chain(Path(tmp))
        try:
            results = collect(
                chain,
                sizes=[int(s) for s in args.sizes.split(",")],
                iterations=args.iterations,
                rounds=args.rounds,
                profile=args.profile,
                eth_usd=args.eth_usd,
            )
            if args.agent_requests:
                results["agent"] = measure_agent(chain, args)
        finally:
            chain.stop()
    for name, wanted in (
        ("network", args.network_jobs),
        ("vouchers", args.vouchers),
        ("harness", args.harness_jobs),
        ("scaling", args.scaling),
        ("indexer", args.indexer_jobs),
        ("rewards", args.rewards_leaves),
    ):
        if wanted:
            results[name] = run_section(name, args)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--no-readme", action="store_true", help="do not touch the README")
    parser.add_argument("--sizes", default="1,10,100", help="batch sizes (default 1,10,100)")
    parser.add_argument("--iterations", type=int, default=35, help="operations per side per round (0: skip throughput)")
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds per throughput measurement")
    parser.add_argument(
        "--eth-usd",
        type=float,
        default=metered.ETH_USD,
        help=f"assumed ETH price in USD for the cost-per-request table (default {metered.ETH_USD:,.0f})",
    )
    parser.add_argument("--profile", type=Path, help="also cProfile the SDK's create_job loop into this file")
    parser.add_argument(
        "--scaling",
        default="100,1000,10000",
        help="demo job counts for the scaling table (default 100,1000,10000; '' skips it)",
    )
    parser.add_argument(
        "--harness-jobs",
        type=int,
        default=60,
        help="job lifecycles per side for the stateful harness comparison (0 skips it)",
    )
    parser.add_argument(
        "--vouchers",
        type=int,
        default=1_000,
        help="vouchers signed and verified per side per round for the voucher throughput table (0 skips it)",
    )
    parser.add_argument(
        "--agent-requests",
        type=int,
        default=600,
        help="requests per side per round at each concurrency for the provider agent table (0 skips it)",
    )
    parser.add_argument("--agent-rounds", type=int, default=6, help="alternating rounds per agent concurrency")
    parser.add_argument(
        "--agent-profile",
        action="store_true",
        help="always cProfile the agent's paid path in-process (by default only when a ratio misses the target)",
    )
    parser.add_argument(
        "--network-jobs",
        type=int,
        default=60,
        help="attestations through the oracle network and directly through the SDK (0 skips the network table)",
    )
    parser.add_argument(
        "--network-probes", type=int, default=500, help="signed health answers timed on the agent for the probe load"
    )
    parser.add_argument(
        "--indexer-jobs",
        type=int,
        default=300,
        help="jobs in the marketplace history the indexer table indexes (0 skips it)",
    )
    parser.add_argument(
        "--rewards-leaves",
        type=int,
        default=100_000,
        help="accounts in the rewards trees whose root post and claims are measured (0 skips it)",
    )
    parser.add_argument("--indexer-rounds", type=int, default=3, help="alternating rounds per database for the indexer")
    parser.add_argument(
        "--only",
        choices=ONLY,
        help="run only this section, merge it into the existing --out file and rewrite the README block from "
        "the merged results (the other sections keep their last figures)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.only:
        if not args.out.exists():
            raise SystemExit(f"--only {args.only} merges into {args.out}, which does not exist: run the whole bench")
        results = json.loads(args.out.read_text())
        results[args.only] = run_section(args.only, args)
        results["meta"].setdefault("sections", {})[args.only] = meta()["generated"]
    else:
        results = run_all(args)
    results["meta"]["wall_seconds" if not args.only else f"{args.only}_wall_seconds"] = round(
        time.perf_counter() - started, 1
    )
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    print(table)
    if not args.no_readme:
        write_readme(args.readme, table)
    print(
        f"\nWrote {args.out}"
        + ("" if args.no_readme else f" and {args.readme}")
        + f" in {round(time.perf_counter() - started, 1)} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
