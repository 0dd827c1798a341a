"""The stateful harness's chain: one anvil per worker process, the protocol deployed through
:func:`computerails.devnet.deploy_protocol` (what the deploy script runs), governance made a
direct admin through the timelock, the actors funded, and every contract wrapped for the fast
raw JSON-RPC driver (:mod:`tests.support.rpc_chain`).

Deterministic: the same keys and the same order of transactions give the same addresses, so a
replay script (tests/stateful/replays/) can rebuild the exact chain an example ran on.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from computerails.deployments import load_artifact
from computerails.devnet import (
    Anvil,
    ape_build_artifacts,
    deploy_protocol,
    dev_address,
    dev_key,
    grant_direct_governance,
)
from tests.stateful.model import MeteredParams, Params, Schedule
from tests.support.rpc_chain import Actor, RpcChain, RpcContract

ROOT = Path(__file__).resolve().parents[2]
USD = 10**6
STAKE = 10**18
CLIENT_FUNDS = 10_000 * USD
PROVIDER_FUNDS = 20_000 * STAKE
MAX_UINT = 2**256 - 1

#: Which of the test mnemonic's accounts play which part (as in tests/conftest.py).
ROLES = {
    "governance": 0,
    "treasury": 1,
    "arbitrator": 2,
    "client": 3,
    "other_client": 4,
    "provider": 5,
    "other_provider": 6,
    "relayer": 7,
    "attacker": 10,
}
ORACLES = (17, 18, 19)
SPARE_ORACLES = (15, 16)
#: Hot signer keys payers authorize for MeteredEscrow vouchers (they sign, never send).
HOT_SIGNERS = (11, 12, 13)


#: The harness's genesis time: with one second per block from there, every run (and every
#: replay script) sees the same timestamps, epochs and deadlines.
GENESIS_TIME = 1_800_000_000


def harness_anvil() -> Anvil:
    """An anvil for the harness: no step tracing, zero base fee (transactions cost no ether),
    a fixed genesis time; like every anvil the project starts, the hardfork the contracts are
    compiled for, so gas figures match what Ape's own anvil measures."""
    return Anvil(
        extra_args=(
            "--base-fee",
            "0",
            "--gas-price",
            "0",
            "--disable-min-priority-fee",
            "--timestamp",
            str(GENESIS_TIME),
        )
    )


def actor(name: str) -> Actor:
    index = ROLES[name]
    return Actor(dev_address(index), dev_key(index), name)


def oracle(index: int) -> Actor:
    return Actor(dev_address(index), dev_key(index), f"oracle-{index}")


@dataclass
class World:
    """Everything a machine needs, built once per worker (before the per-example snapshot)."""

    chain: RpcChain
    escrow: RpcContract
    staking: RpcContract
    hub: RpcContract
    slasher: RpcContract
    metered: RpcContract
    usd: RpcContract
    stake: RpcContract
    actors: dict[str, Actor]
    oracle_pool: list[Actor]
    hot_signers: list[Actor]
    model_init: dict[str, Any]
    wallet_usd0: Counter[str]
    wallet_stake0: Counter[str]


def artifacts() -> Callable[[str], dict[str, Any]]:
    """Ape's fresh build when there is one, else the ABIs and bytecode the package ships."""
    build = ROOT / ".build" / "__local__.json"
    return ape_build_artifacts(build) if build.exists() else load_artifact


#: The contracts the machine calls, by their artifact name.
CONTRACTS = ("JobEscrow", "ProviderStaking", "AttestationHub", "UptimeSlasher", "MeteredEscrow", "MockUSD")


@functools.cache
def contract_errors() -> frozenset[str]:
    """Every custom error the machine's contracts can revert with (from their ABIs)."""
    load = artifacts()
    return frozenset(item["name"] for name in CONTRACTS for item in load(name)["abi"] if item["type"] == "error")


def build_world(url: str) -> World:
    """Deploy, wire and fund on the anvil at `url`."""
    load = artifacts()
    w3 = Web3(HTTPProvider(url))
    w3.provider.make_request("anvil_setBlockTimestampInterval", [1])  # type: ignore[arg-type]  # deterministic clock
    a = {name: actor(name) for name in ROLES}
    oracles = [oracle(i) for i in ORACLES]
    deployment = deploy_protocol(
        w3,
        a["governance"].private_key,
        treasury=a["treasury"].address,
        arbitrator=a["arbitrator"].address,
        oracles=[o.address for o in oracles],
        threshold=2,
        artifacts=load,
    )
    grant_direct_governance(w3, deployment, a["governance"].private_key, artifacts=load)
    chain = RpcChain(url)

    def contract(name: str, address: str) -> RpcContract:
        return RpcContract(chain, name, address, load(name)["abi"])

    c = deployment.contracts
    world = World(
        chain=chain,
        escrow=contract("JobEscrow", c["JobEscrow"]),
        staking=contract("ProviderStaking", c["ProviderStaking"]),
        hub=contract("AttestationHub", c["AttestationHub"]),
        slasher=contract("UptimeSlasher", c["UptimeSlasher"]),
        metered=contract("MeteredEscrow", c["MeteredEscrow"]),
        usd=contract("MockUSD", deployment.payment_tokens[0]),
        stake=contract("MockStakeToken", deployment.staking_token),
        actors=a,
        oracle_pool=[*oracles, *(oracle(i) for i in SPARE_ORACLES)],
        hot_signers=[Actor(dev_address(i), dev_key(i), f"signer-{i}") for i in HOT_SIGNERS],
        model_init={},
        wallet_usd0=Counter(),
        wallet_stake0=Counter(),
    )
    for name in ("client", "other_client"):
        world.usd.mint(a[name], CLIENT_FUNDS, sender=a[name])
        world.usd.approve(world.escrow, MAX_UINT, sender=a[name])
        world.usd.approve(world.metered, MAX_UINT, sender=a[name])
    for name in ("provider", "other_provider"):
        world.stake.mint(a[name], PROVIDER_FUNDS, sender=a[name])
        world.stake.approve(world.staking, MAX_UINT, sender=a[name])
    e, s, u, me = world.escrow, world.staking, world.slasher.params(), world.metered
    terms = e.terms(e.currentTermsId())
    world.model_init = {
        "params": Params(
            fee_bps=e.feeBps(),
            accept_window=e.acceptWindow(),
            challenge_window=terms.challengeWindow,
            dispute_timeout=terms.disputeTimeout,
            max_job_duration=e.maxJobDuration(),
            dispute_bond_bps=terms.disputeBondBps,
            client_share_bps=terms.clientSlashShareBps,
            min_stake=s.minStake(),
            unbonding_delay=s.unbondingDelay(),
            epoch_length=u.epochLength,
            statute_epochs=u.statuteEpochs,
            sla_bps=u.slaBps,
            uptime_slash_bps=u.uptimeSlashBps,
            uptime_slash_cap=u.uptimeSlashCap,
            relayer_bps=u.relayerRewardBps,
            relayer_cap=u.relayerRewardCap,
            collateral_rate=e.paymentToken(world.usd)[3],
        ),
        "treasury": a["treasury"].address,
        "relayer_default": a["relayer"].address,
        "oracles": list(world.hub.oracles()),
        "threshold": world.hub.threshold(),
        "schedules": [Schedule(*x) for x in world.slasher.schedules()],
        "config_version": world.hub.configVersion(),
        "report_window": s.reportWindow(),
        "metered": MeteredParams(
            fee_bps=me.feeBps(),
            dispute_window=me.disputeWindow(),
            thaw_period=me.thawPeriod(),
            signer_thaw_period=me.signerThawPeriod(),
            fraud_penalty_bps=me.fraudPenaltyBps(),
            fraud_payer_share_bps=me.fraudPayerShareBps(),
            stake_ratio=me.stakeRatio(world.usd),
        ),
    }
    everyone = [
        a[n]
        for n in (
            "client",
            "other_client",
            "provider",
            "other_provider",
            "governance",
            "arbitrator",
            "relayer",
            "attacker",
            "treasury",
        )
    ]
    world.wallet_usd0 = Counter({x.address: world.usd.balanceOf(x) for x in everyone})
    world.wallet_stake0 = Counter({x.address: world.stake.balanceOf(x) for x in everyone})
    assert world.usd.balanceOf(world.escrow) == 0 and world.stake.balanceOf(world.staking) == 0
    assert world.usd.balanceOf(world.metered) == 0
    return world
