"""Deploy ComputeRails with web3 alone: the function the deploy script, the tests, the demo and
the bench all use.

Order: ProviderStaking -> JobEscrow -> UptimeSlasher -> AttestationHub -> MeteredEscrow ->
ProtocolTimelock, then roles: the escrow gets COLLATERAL_MANAGER_ROLE on staking, the slasher
SLASHER_ROLE (and declares its report window), the metered escrow COLLATERAL_MANAGER_ROLE too
(stake locks, fraud slashes), the hub ATTESTER_ROLE on the escrow and REPORTER_ROLE on the
slasher; both escrows allowlist the payment tokens. The timelock (delay longer
than the unbonding delay; governance proposes and executes) finally receives every admin and
governor role, the guardian both escrows' PAUSER_ROLE, and the deployer renounces its own. Every
role is then checked on chain (``verify_roles``; the CLI's ``computerails deployments check`` runs
the same check later).

Contract code comes from an artifact source: by default the ABIs and bytecode exported into this
package (``make abi``); the Ape entry points and tests pass :func:`ape_build_artifacts` so that
they deploy exactly what was just compiled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from computerails.deployments import (
    GUARDIAN_ROLES,
    PROTOCOL_CONTRACTS,
    Deployment,
    abi_hash,
    check_deployment,
    load_artifact,
    role_id,
)
from computerails.devnet.keys import DEVNET_CHAIN_IDS, ORACLE_INDEXES, TREASURY_INDEX, dev_address
from computerails.devnet.params import (
    InvalidParameters,
    calculator_params,
    collateral_rate,
    escrow_init_params,
    merge_params,
    metered_init_params,
    rewards_init_params,
)
from computerails.errors import DeploymentError
from computerails.tx import revert_from_exception

#: name -> {"abi": [...], "bytecode": "0x..."}
Artifacts = Callable[[str], dict[str, Any]]

ZERO32 = b"\x00" * 32


def ape_build_artifacts(build_file: Path) -> Artifacts:
    """Artifacts from an Ape build manifest (``.build/__local__.json``): what was just compiled."""
    manifest = json.loads(Path(build_file).read_text())

    def load(name: str) -> dict[str, Any]:
        contract = manifest["contractTypes"][name]
        return {"abi": contract["abi"], "bytecode": contract["deploymentBytecode"]["bytecode"]}

    return load


@dataclass
class ProtocolDeployment:
    """Addresses and provenance of a fresh deployment: what ``deployments/<chainId>.json`` records."""

    chain_id: int
    deploy_block: int
    contracts: dict[str, str]  # PROTOCOL_CONTRACTS and ProtocolTimelock
    staking_token: str
    payment_tokens: list[str]
    governance: str
    guardian: str
    deployer: str
    treasury: str
    arbitrator: str
    oracles: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    abi_hash: str = ""

    @property
    def timelock(self) -> str:
        return self.contracts["ProtocolTimelock"]

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "deployBlock": self.deploy_block,
            "contracts": {name: self.contracts[name] for name in PROTOCOL_CONTRACTS},
            "tokens": {"staking": self.staking_token, "payment": list(self.payment_tokens)},
            "roles": {
                "governance": self.governance,
                "treasury": self.treasury,
                "arbitrator": self.arbitrator,
                "oracles": list(self.oracles),
            },
            "params": self.params,
            "governance": {
                "timelock": self.timelock,
                "timelockDelay": self.params["timelock_delay"],
                "proposers": [self.governance],
                "guardian": self.guardian,
                "deployer": self.deployer,
            },
            "abiHash": self.abi_hash,
        }

    def file(self) -> Deployment:
        """The deployment as the SDK loads it."""
        return Deployment.model_validate({**self.to_json(), "source": f"fresh deployment on chain {self.chain_id}"})


class _Deployer:
    """Sends the deployment's transactions from one key, through web3's own methods so that any
    provider works (anvil over HTTP, Ape's in-process chain): simulate, sign, send, await."""

    def __init__(self, w3: Web3, key: Any, artifacts: Artifacts, timeout: float) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(key)
        self.chain_id = int(w3.eth.chain_id)
        self.timeout = timeout
        self.artifacts = artifacts
        self.nonce = int(w3.eth.get_transaction_count(self.account.address, "pending"))

    def deploy(self, name: str, *args: Any) -> str:
        artifact = self.artifacts(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self._transact({"data": factory.constructor(*args).data_in_transaction}, f"deploy {name}")
        return str(to_checksum_address(receipt["contractAddress"]))

    def contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self.artifacts(name)["abi"])

    def erc20(self, address: str) -> Any:
        """Any token, through the SDK's generic ERC-20 ABI (not a test token's)."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact("ERC20Permit")["abi"])

    def send(self, contract: Any, fn: str, *args: Any) -> Any:
        call = getattr(contract.functions, fn)(*args)
        return self._transact({"to": contract.address, "data": call._encode_transaction_data()}, fn)

    def _transact(self, tx: dict[str, Any], label: str) -> Any:
        """Simulate (a revert raises the SDK's exception of the same name; nothing is sent), sign,
        send and await one transaction."""
        tx = {**tx, "from": self.account.address, "value": 0, "chainId": self.chain_id, "nonce": self.nonce}
        try:
            gas = self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        except Exception as exc:  # web3 raises per provider; the revert data is what matters
            raise revert_from_exception(exc) from None
        block = self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas", 0) or 0)
        tx.update(gas=gas * 5 // 4 + 20_000, maxFeePerGas=2 * base + 10**9, maxPriorityFeePerGas=10**9)
        tx.pop("from")
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.nonce += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        if receipt["status"] != 1:
            raise DeploymentError(f"{label} was mined but reverted (transaction 0x{bytes(tx_hash).hex()})")
        return receipt


def deploy_protocol(
    w3: Web3,
    deployer_key: Any,
    *,
    governance: str | None = None,
    guardian: str | None = None,
    treasury: str | None = None,
    arbitrator: str | None = None,
    oracles: Sequence[str] | None = None,
    threshold: int | None = None,
    params: dict[str, Any] | None = None,
    staking_token: str | None = None,
    payment_tokens: Sequence[str] | None = None,
    collateral_rates: Sequence[int] | None = None,
    artifacts: Artifacts | None = None,
    local: bool | None = None,
    timeout: float = 120.0,
) -> ProtocolDeployment:
    """Deploy and wire the whole protocol from `deployer_key`.

    ``governance`` (default: the deployer) proposes and executes through the timelock, which
    holds every admin and governor role; ``guardian`` (default: governance) may pause at once.
    On a local devnet (``local``, by default: the chain id is a devnet's) every omitted argument
    has a dev default: the test tokens are deployed, the test mnemonic's accounts play treasury
    and the oracles. Elsewhere the tokens, treasury and oracles must be given.

    Raises:
        InvalidParameters: a parameter set that breaks a safety rule (nothing was sent).
        DeploymentError: a missing argument, or the contracts do not hold the roles they need.
        ContractRevert: a constructor or setter refused its arguments (named after its error).
    """
    p = merge_params(params)
    d = _Deployer(w3, deployer_key, artifacts or load_artifact, timeout)
    local = d.chain_id in DEVNET_CHAIN_IDS if local is None else local

    def required(value: Any, what: str, make: Callable[[], Any]) -> Any:
        if value is not None:
            return value
        if not local:
            raise DeploymentError(f"{what} is required off local devnets")
        return make()

    deployer = d.account.address
    governance = to_checksum_address(governance) if governance else deployer
    guardian = to_checksum_address(guardian) if guardian else governance
    treasury = to_checksum_address(required(treasury, "a treasury", lambda: dev_address(TREASURY_INDEX)))
    arbitrator = to_checksum_address(arbitrator) if arbitrator else governance
    oracle_list: list[str] = [
        str(to_checksum_address(o))
        for o in required(oracles, "the oracle addresses", lambda: [dev_address(i) for i in ORACLE_INDEXES])
    ]
    threshold = p["threshold"] if threshold is None else threshold
    p["threshold"] = threshold
    deploy_block = int(w3.eth.block_number) + 1
    staking_token = required(staking_token, "a staking token", lambda: d.deploy("MockStakeToken"))
    payment_tokens = list(required(payment_tokens, "a payment token", lambda: [d.deploy("MockUSD")]))
    stake_decimals = d.erc20(staking_token).functions.decimals().call()
    if collateral_rates is None:
        collateral_rates = [
            collateral_rate(d.erc20(t).functions.decimals().call(), stake_decimals, p["collateral_bps"])
            for t in payment_tokens
        ]
    if len(collateral_rates) != len(payment_tokens):
        raise InvalidParameters("give one collateral rate per payment token")
    stake_ratios = [
        collateral_rate(d.erc20(t).functions.decimals().call(), stake_decimals, p["metered"]["stake_to_fees_bps"])
        for t in payment_tokens
    ]

    s, e, u = p["staking"], p["escrow"], p["uptime"]
    staking = d.deploy("ProviderStaking", staking_token, deployer, treasury, s["min_stake"], s["unbonding_delay"])
    escrow = d.deploy(
        "JobEscrow",
        staking,
        deployer,
        treasury,
        escrow_init_params(e),
    )
    slasher = d.deploy(
        "UptimeSlasher",
        staking,
        deployer,
        (
            u["epoch_length"],
            u["statute_epochs"],
            u["sla_bps"],
            u["uptime_slash_bps"],
            u["uptime_slash_cap"],
            u["relayer_reward_bps"],
            u["relayer_reward_cap"],
        ),
    )
    hub = d.deploy("AttestationHub", escrow, slasher, deployer, oracle_list, threshold)
    metered = d.deploy("MeteredEscrow", deployer, treasury, staking, hub, metered_init_params(p["metered"]))
    # Rewards epochs are the uptime epochs: the same start and length (the calculator weighs each
    # provider's stake by its uptime in the epoch).
    (_first, genesis, _length, _statute), *_ = d.contract("UptimeSlasher", slasher).functions.schedules().call()
    rewards_params = rewards_init_params(p["rewards"])
    rewards = d.deploy("RewardsDistributor", staking_token, hub, deployer, genesis, u["epoch_length"], rewards_params)

    st, es, sl, hb, me = (
        d.contract(n, a)
        for n, a in (
            ("ProviderStaking", staking),
            ("JobEscrow", escrow),
            ("UptimeSlasher", slasher),
            ("AttestationHub", hub),
            ("MeteredEscrow", metered),
        )
    )
    rd = d.contract("RewardsDistributor", rewards)
    d.send(st, "grantRole", role_id("COLLATERAL_MANAGER_ROLE"), escrow)
    d.send(st, "grantRole", role_id("COLLATERAL_MANAGER_ROLE"), metered)
    d.send(st, "grantRole", role_id("SLASHER_ROLE"), slasher)
    d.send(sl, "syncReportWindow")
    d.send(es, "grantRole", role_id("ATTESTER_ROLE"), hub)
    d.send(sl, "grantRole", role_id("REPORTER_ROLE"), hub)
    for token, rate, stake_ratio in zip(payment_tokens, collateral_rates, stake_ratios):
        d.send(es, "setPaymentToken", token, True, rate)
        d.send(me, "setPaymentToken", token, True, stake_ratio)
    d.send(es, "grantRole", role_id("ARBITRATOR_ROLE"), arbitrator)
    fee_token = payment_tokens[0]
    d.send(
        rd,
        "setCalculatorParams",
        calculator_params(p, fee_token, d.erc20(fee_token).functions.decimals().call(), stake_decimals),
    )
    timelock = d.deploy("ProtocolTimelock", p["timelock_delay"], [governance], [governance])
    _hand_over(d, timelock, guardian, [st, es, sl, hb, me, rd])

    p["collateral_rates"] = {t: r for t, r in zip(payment_tokens, collateral_rates)}
    p["stake_ratios"] = {t: r for t, r in zip(payment_tokens, stake_ratios)}
    deployment = ProtocolDeployment(
        chain_id=d.chain_id,
        deploy_block=deploy_block,
        contracts={
            "ProviderStaking": staking,
            "JobEscrow": escrow,
            "UptimeSlasher": slasher,
            "AttestationHub": hub,
            "MeteredEscrow": metered,
            "RewardsDistributor": rewards,
            "ProtocolTimelock": timelock,
        },
        staking_token=staking_token,
        payment_tokens=payment_tokens,
        governance=governance,
        guardian=guardian,
        deployer=deployer,
        treasury=treasury,
        arbitrator=arbitrator,
        oracles=oracle_list,
        params=p,
        abi_hash=abi_hash({name: d.artifacts(name)["abi"] for name in PROTOCOL_CONTRACTS}),
    )
    verify_roles(w3, deployment, artifacts=d.artifacts)
    return deployment


def _hand_over(d: _Deployer, timelock: str, guardian: str, contracts: list[Any]) -> None:
    """Give the timelock every admin and governor role and the guardian its roles
    (:data:`~computerails.deployments.GUARDIAN_ROLES`: pause, veto), then renounce everything the
    deployer held (it keeps the guardian's roles only if it is the guardian)."""
    me = d.account.address
    admin, governor = role_id("DEFAULT_ADMIN_ROLE"), role_id("GOVERNOR_ROLE")
    guardian_roles = [role_id(role) for role, _contracts, _why in GUARDIAN_ROLES]
    for contract in contracts:
        d.send(contract, "grantRole", governor, timelock)
        d.send(contract, "grantRole", admin, timelock)
        for role in guardian_roles:
            if contract.functions.hasRole(role, me).call() and guardian != me:
                d.send(contract, "grantRole", role, guardian)
                d.send(contract, "renounceRole", role, me)
        d.send(contract, "renounceRole", governor, me)
        d.send(contract, "renounceRole", admin, me)


def verify_roles(w3: Web3, deployment: ProtocolDeployment, *, artifacts: Artifacts | None = None) -> None:
    """Check on chain that every contract holds the roles it needs and the deployer none.

    Raises:
        DeploymentError: listing every problem found, one per line.
    """
    load = artifacts or load_artifact
    contracts = {
        name: w3.eth.contract(address=to_checksum_address(deployment.contracts[name]), abi=load(name)["abi"])
        for name in PROTOCOL_CONTRACTS
        if name in deployment.contracts
    }

    def read(contract: str, fn: str, args: tuple[Any, ...]) -> Any:
        return getattr(contracts[contract].functions, fn)(*args).call()

    _, problems = check_deployment(deployment.file(), read)
    if problems:
        raise DeploymentError("deployment check failed:\n  " + "\n  ".join(problems))


def write_deployment(deployment: ProtocolDeployment, folder: Path | str = "deployments") -> Path:
    """Write ``<folder>/<chainId>.json`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{deployment.chain_id}.json"
    path.write_text(json.dumps(deployment.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def devnet_warp(w3: Web3) -> Callable[[int], None]:
    """Moves a devnet's clock forward: the next block is mined `seconds` after the latest one
    (``evm_setNextBlockTimestamp``, which also holds when a fixed block interval is set)."""

    def warp(seconds: int) -> None:
        latest = int(w3.eth.get_block("latest")["timestamp"])
        w3.provider.make_request("evm_setNextBlockTimestamp", [latest + seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    return warp


def through_timelock(
    w3: Web3,
    deployment: ProtocolDeployment | Deployment,
    proposer_key: Any,
    calls: Sequence[tuple[str, bytes | str]],
    *,
    warp: Callable[[int], None] | None = None,
    salt: bytes = ZERO32,
    artifacts: Artifacts | None = None,
) -> Any:
    """Schedule `calls` ([(target, calldata)]) on the timelock as one batch, wait out its delay
    with `warp` (default: a devnet's ``evm_increaseTime``), execute, and return the receipt.

    Devnets only: production governance schedules, waits for real and executes
    (``rails.governance``)."""
    timelock_address = (
        deployment.timelock if isinstance(deployment, ProtocolDeployment) else deployment.governance["timelock"]
    )
    load = artifacts or load_artifact
    d = _Deployer(w3, proposer_key, load, 120.0)
    timelock = d.contract("ProtocolTimelock", timelock_address)
    targets = [to_checksum_address(t) for t, _ in calls]
    payloads = [bytes.fromhex(c.removeprefix("0x")) if isinstance(c, str) else bytes(c) for _, c in calls]
    values = [0] * len(calls)
    delay = int(timelock.functions.getMinDelay().call())
    d.send(timelock, "scheduleBatch", targets, values, payloads, ZERO32, salt, delay)
    (warp or devnet_warp(w3))(delay)
    return d.send(timelock, "executeBatch", targets, values, payloads, ZERO32, salt)


def grant_direct_governance(
    w3: Web3,
    deployment: ProtocolDeployment | Deployment,
    governance_key: Any,
    *,
    warp: Callable[[int], None] | None = None,
    artifacts: Artifacts | None = None,
) -> None:
    """Through the deployment's timelock, make `governance_key` a direct admin and governor of
    every protocol contract: a devnet convenience for tests and benchmarks that change
    parameters without waiting (production keeps them behind the timelock)."""
    contracts = deployment.contracts
    me = Account.from_key(governance_key).address
    grant = w3.eth.contract(abi=(artifacts or load_artifact)("ProviderStaking")["abi"])
    calls = [
        (contracts[name], grant.encode_abi("grantRole", [role_id(role), me]))
        for name in PROTOCOL_CONTRACTS
        if name in contracts  # files written before MeteredEscrow existed lack it
        for role in ("DEFAULT_ADMIN_ROLE", "GOVERNOR_ROLE")
    ]
    through_timelock(w3, deployment, governance_key, calls, warp=warp, artifacts=artifacts)
