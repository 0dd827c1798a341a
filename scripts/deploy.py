"""Deploy ComputeRails in dependency order, wire roles and write ``deployments/<chainId>.json``.

Usage::

    ape run deploy --network ethereum:local:foundry            # local: test tokens, dev oracles
    ape run deploy --network <ecosystem:network:provider> --account NAME \\
        --staking-token 0x... --payment-token 0x... --collateral-rate N \\
        --treasury 0x... --arbitrator 0x... --oracle 0x... --oracle 0x... --threshold 2

Order: ProviderStaking -> JobEscrow -> UptimeSlasher -> AttestationHub -> ProtocolTimelock,
then roles: the escrow gets COLLATERAL_MANAGER_ROLE on staking, the slasher SLASHER_ROLE (and
declares its report window), the hub ATTESTER_ROLE on the escrow and REPORTER_ROLE on the
slasher. The timelock (delay longer than the unbonding delay; governance proposes and
executes) finally receives every admin and governor role, the guardian the escrow's
PAUSER_ROLE, and the deployer renounces its own. The script then checks every role on chain
(``computerails deployments check`` runs the same check later).
"""


import json
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, account_option
from eth_utils import to_checksum_address

from computerails.deployments import PROTOCOL_CONTRACTS as CONTRACTS
from computerails.deployments import abi_hash, check_deployment
from computerails.deployments import Deployment as DeploymentFile

DAY = 86_400
HOUR = 3_600
STAKE_UNIT = 10**18  # the staking token has 18 decimals on every supported deployment

#: Documented defaults (README "Parameters"). Amounts are raw staking-token units.
DEFAULT_PARAMS: dict[str, Any] = {
    "staking": {
        "min_stake": 1_000 * STAKE_UNIT,
        "unbonding_delay": 7 * DAY,
    },
    "escrow": {
        "fee_bps": 250,
        "accept_window": 1 * HOUR,
        "challenge_window": 1 * HOUR,
        "dispute_timeout": 3 * DAY,
        "max_job_duration": 30 * DAY,
        "dispute_bond_bps": 1_000,
        "client_slash_share_bps": 5_000,
    },
    "uptime": {
        "epoch_length": 1 * HOUR,
        "statute_epochs": 24,
        "sla_bps": 9_500,
        "uptime_slash_bps": 500,
        "uptime_slash_cap": 500 * STAKE_UNIT,
        "relayer_reward_bps": 1_000,
        "relayer_reward_cap": 10 * STAKE_UNIT,
    },
    # Collateral locked per job as a share of its escrow's value, at 1 stake token = 1 payment
    # token. The on-chain rate converts decimals too: see collateral_rate().
    "collateral_bps": 5_000,
    "threshold": 2,
    # Longer than the unbonding delay, so every provider can exit before a hostile change lands.
    # None: the unbonding delay plus one day.
    "timelock_delay": None,
}

#: Which of the test mnemonic's accounts play which part on local networks.
LOCAL_ROLES = {"governance": 0, "treasury": 1, "oracles": (17, 18, 19)}

def collateral_rate(payment_decimals: int, stake_decimals: int, collateral_bps: int, stake_per_payment: int = 1) -> int:
    """Staking-token units per payment-token unit, scaled by 1e18.

    ``collateral = escrow * rate / 1e18``. With ``collateral_bps = 5000``, a 6-decimal payment
    token and an 18-decimal staking token, 10 payment tokens (10e6 units) lock 5 staking tokens
    (5e18 units): the rate carries the 10**12 decimal gap, not just the ratio.
    """
    return collateral_bps * stake_per_payment * 10 ** (18 + stake_decimals - payment_decimals) // 10_000


def check_params(p: dict[str, Any]) -> None:
    """Refuse parameter sets that break the protocol's safety rules, before anything is deployed.

    Raises:
        click.UsageError: the rule broken, in words.
    """
    u, unbonding = p["uptime"], p["staking"]["unbonding_delay"]
    window = (u["statute_epochs"] + 1) * u["epoch_length"]
    if window >= unbonding:
        raise click.UsageError(
            f"(statute_epochs + 1) x epoch_length = {window} s must stay below the unbonding delay {unbonding} s, "
            "or a provider could withdraw its stake before a report that is still on time lands"
        )
    delay = p["timelock_delay"]
    if delay is not None and delay <= unbonding:
        raise click.UsageError(
            f"the timelock delay {delay} s must exceed the unbonding delay {unbonding} s, so that providers "
            "can exit before a hostile governance change takes effect"
        )


def build_abi_hash() -> str:
    """abiHash of the contracts as compiled now (the SDK compares it with its own copy)."""
    manifest = json.loads((Path(project.path) / ".build" / "__local__.json").read_text())
    return abi_hash({name: manifest["contractTypes"][name]["abi"] for name in CONTRACTS})


@dataclass
class Deployment:
    """Deployed contract instances plus what ``deployments/<chainId>.json`` records."""

    staking: Any
    escrow: Any
    slasher: Any
    hub: Any
    timelock: Any
    staking_token: Any
    payment_tokens: list[Any]
    chain_id: int
    deploy_block: int
    governance: str
    guardian: str
    deployer: str
    treasury: str
    arbitrator: str
    oracles: list[str]
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "deployBlock": self.deploy_block,
            "contracts": {
                "ProviderStaking": self.staking.address,
                "JobEscrow": self.escrow.address,
                "UptimeSlasher": self.slasher.address,
                "AttestationHub": self.hub.address,
            },
            "tokens": {
                "staking": self.staking_token.address,
                "payment": [t.address for t in self.payment_tokens],
            },
            "roles": {
                "governance": self.governance,
                "treasury": self.treasury,
                "arbitrator": self.arbitrator,
                "oracles": self.oracles,
            },
            "params": self.params,
            "governance": {
                "timelock": self.timelock.address,
                "timelockDelay": self.params["timelock_delay"],
                "proposers": [self.governance],
                "guardian": self.guardian,
                "deployer": self.deployer,
            },
            "abiHash": build_abi_hash(),
        }


def deploy_protocol(
    deployer: Any,
    *,
    governance: str | None = None,
    guardian: str | None = None,
    treasury: str | None = None,
    arbitrator: str | None = None,
    oracles: list[str] | None = None,
    threshold: int | None = None,
    params: dict[str, Any] | None = None,
    staking_token: Any = None,
    payment_tokens: list[Any] | None = None,
    collateral_rates: list[int] | None = None,
) -> Deployment:
    """Deploy and wire the whole protocol from ``deployer``.

    ``governance`` (default: the deployer) proposes and executes through the timelock, which
    holds every admin and governor role; ``guardian`` (default: governance) may pause at once.
    On local networks every omitted argument has a dev default: the test tokens are deployed,
    the test mnemonic's accounts play treasury and the oracles. Elsewhere the tokens, treasury
    and oracles must be given.

    Raises:
        click.UsageError: a missing argument or a parameter set that breaks a safety rule.
        RuntimeError: the deployed contracts do not hold the roles they need.
    """
    p = deepcopy(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if isinstance(value, dict):
            p[key].update(value)
        else:
            p[key] = value
    if p["timelock_delay"] is None:
        p["timelock_delay"] = p["staking"]["unbonding_delay"] + DAY
    check_params(p)
    local = chain.provider.network.is_local
    test_accounts = accounts.test_accounts if local else None

    def local_default(value: Any, what: str, make: Any) -> Any:
        if value is not None:
            return value
        if not local:
            raise click.UsageError(f"--{what} is required on non-local networks")
        return make()

    governance = to_checksum_address(governance) if governance else deployer.address
    guardian = to_checksum_address(guardian) if guardian else governance
    treasury = to_checksum_address(
        local_default(treasury, "treasury", lambda: test_accounts[LOCAL_ROLES["treasury"]].address)
    )
    arbitrator = to_checksum_address(arbitrator) if arbitrator else governance
    oracles = [
        to_checksum_address(o)
        for o in local_default(oracles, "oracle", lambda: [test_accounts[i].address for i in LOCAL_ROLES["oracles"]])
    ]
    threshold = p["threshold"] if threshold is None else threshold
    p["threshold"] = threshold
    deploy_block = chain.blocks.head.number + 1
    staking_token = local_default(staking_token, "staking-token", lambda: project.MockStakeToken.deploy(sender=deployer))
    payment_tokens = local_default(payment_tokens, "payment-token", lambda: [project.MockUSD.deploy(sender=deployer)])
    if collateral_rates is None:
        stake_decimals = staking_token.decimals()
        collateral_rates = [collateral_rate(t.decimals(), stake_decimals, p["collateral_bps"]) for t in payment_tokens]
    if len(collateral_rates) != len(payment_tokens):
        raise click.UsageError("give one --collateral-rate per --payment-token")

    s, e, u = p["staking"], p["escrow"], p["uptime"]
    staking = project.ProviderStaking.deploy(
        staking_token.address, deployer.address, treasury, s["min_stake"], s["unbonding_delay"], sender=deployer
    )
    escrow = project.JobEscrow.deploy(
        staking.address,
        deployer.address,
        treasury,
        (
            e["fee_bps"],
            e["accept_window"],
            e["challenge_window"],
            e["dispute_timeout"],
            e["max_job_duration"],
            e["dispute_bond_bps"],
            e["client_slash_share_bps"],
        ),
        sender=deployer,
    )
    slasher = project.UptimeSlasher.deploy(
        staking.address,
        deployer.address,
        (
            u["epoch_length"],
            u["statute_epochs"],
            u["sla_bps"],
            u["uptime_slash_bps"],
            u["uptime_slash_cap"],
            u["relayer_reward_bps"],
            u["relayer_reward_cap"],
        ),
        sender=deployer,
    )
    hub = project.AttestationHub.deploy(
        escrow.address, slasher.address, deployer.address, list(oracles), threshold, sender=deployer
    )

    staking.grantRole(staking.COLLATERAL_MANAGER_ROLE(), escrow.address, sender=deployer)
    staking.grantRole(staking.SLASHER_ROLE(), slasher.address, sender=deployer)
    slasher.syncReportWindow(sender=deployer)
    escrow.grantRole(escrow.ATTESTER_ROLE(), hub.address, sender=deployer)
    slasher.grantRole(slasher.REPORTER_ROLE(), hub.address, sender=deployer)
    for token, rate in zip(payment_tokens, collateral_rates):
        escrow.setPaymentToken(token.address, True, rate, sender=deployer)
    escrow.grantRole(escrow.ARBITRATOR_ROLE(), arbitrator, sender=deployer)
    timelock = project.ProtocolTimelock.deploy(p["timelock_delay"], [governance], [governance], sender=deployer)
    _hand_over(deployer, timelock.address, guardian, [staking, escrow, slasher, hub])

    p["collateral_rates"] = {t.address: r for t, r in zip(payment_tokens, collateral_rates)}
    deployment = Deployment(
        staking=staking,
        escrow=escrow,
        slasher=slasher,
        hub=hub,
        timelock=timelock,
        staking_token=staking_token,
        payment_tokens=list(payment_tokens),
        chain_id=chain.chain_id,
        deploy_block=deploy_block,
        governance=governance,
        guardian=guardian,
        deployer=deployer.address,
        treasury=treasury,
        arbitrator=arbitrator,
        oracles=list(oracles),
        params=p,
    )
    verify_roles(deployment)
    return deployment


def _hand_over(deployer: Any, timelock: str, guardian: str, contracts: list[Any]) -> None:
    """Give the timelock every admin and governor role and the guardian the pauser role, then
    renounce everything the deployer held (it keeps the pauser role only if it is the guardian)."""
    for contract in contracts:
        admin, governor = contract.DEFAULT_ADMIN_ROLE(), contract.GOVERNOR_ROLE()
        contract.grantRole(governor, timelock, sender=deployer)
        contract.grantRole(admin, timelock, sender=deployer)
        pauser = contract.PAUSER_ROLE() if hasattr(contract, "PAUSER_ROLE") else None
        if pauser is not None and guardian != deployer.address:
            contract.grantRole(pauser, guardian, sender=deployer)
            contract.renounceRole(pauser, deployer.address, sender=deployer)
        contract.renounceRole(governor, deployer.address, sender=deployer)
        contract.renounceRole(admin, deployer.address, sender=deployer)


def verify_roles(deployment: Deployment) -> None:
    """Check on chain that every contract holds the roles it needs and the deployer none.

    Raises:
        RuntimeError: listing every problem found.
    """
    contracts = {"ProviderStaking": deployment.staking, "JobEscrow": deployment.escrow,
                 "UptimeSlasher": deployment.slasher, "AttestationHub": deployment.hub}
    data = {**deployment.to_json(), "abiHash": ""}

    def read(contract: str, fn: str, args: tuple[Any, ...]) -> Any:
        return getattr(contracts[contract], fn)(*args)

    _, problems = check_deployment(DeploymentFile.model_validate(data), read)
    if problems:
        raise RuntimeError("deployment check failed:\n  " + "\n  ".join(problems))


def through_timelock(deployment: Deployment, proposer: Any, calls: list[tuple[Any, bytes]], salt: bytes = b"\x00" * 32) -> Any:
    """Schedule `calls` ([(target, calldata)]) on the timelock as one batch, wait out its delay
    (local networks only: time is moved forward), execute, and return the receipt."""
    if not chain.provider.network.is_local:
        raise click.UsageError("through_timelock moves time forward: local networks only")
    timelock = deployment.timelock
    targets = [t.address if hasattr(t, "address") else t for t, _ in calls]
    values = [0] * len(calls)
    payloads = [data for _, data in calls]
    predecessor = b"\x00" * 32
    delay = timelock.getMinDelay()
    timelock.scheduleBatch(targets, values, payloads, predecessor, salt, delay, sender=proposer)
    chain.pending_timestamp += delay
    return timelock.executeBatch(targets, values, payloads, predecessor, salt, sender=proposer)


def write_deployment(deployment: Deployment, folder: Path | str = "deployments") -> Path:
    """Write ``<folder>/<chainId>.json`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{deployment.chain_id}.json"
    path.write_text(json.dumps(deployment.to_json(), indent=2, sort_keys=True) + "\n")
    return path


@click.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@click.option("--treasury", help="Receives protocol fees and slashed stake (required off local networks).")
@click.option("--arbitrator", help="Resolves disputes (default: governance).")
@click.option("--governance", help="Proposes and executes through the timelock (default: the deployer).")
@click.option("--guardian", help="May pause job creation and acceptance at once (default: governance).")
@click.option("--timelock-delay", type=int, help="Seconds every governance change waits (default: unbonding delay + 1 day).")
@click.option("--oracle", "oracles", multiple=True, help="An oracle key; repeat for each (required off local networks).")
@click.option("--threshold", type=int, help=f"Signatures per quorum (default {DEFAULT_PARAMS['threshold']}).")
@click.option("--staking-token", help="Staking token address (local networks deploy a test token).")
@click.option("--payment-token", "payment_tokens", multiple=True, help="Allowlisted payment token; repeat for each.")
@click.option("--collateral-rate", "collateral_rates", type=int, multiple=True, help="One per --payment-token.")
@click.option("--out", default="deployments", show_default=True, help="Folder for <chainId>.json.")
def cli(
    network: Any,
    account: Any,
    treasury: str | None,
    arbitrator: str | None,
    governance: str | None,
    guardian: str | None,
    timelock_delay: int | None,
    oracles: tuple[str, ...],
    threshold: int | None,
    staking_token: str | None,
    payment_tokens: tuple[str, ...],
    collateral_rates: tuple[int, ...],
    out: str,
) -> None:
    """Deploy ComputeRails and write deployments/<chainId>.json."""
    if account is None:
        if not network.is_local:
            raise click.UsageError("--account is required on non-local networks")
        account = accounts.test_accounts[LOCAL_ROLES["governance"]]
    erc20 = project.MockUSD  # any ERC-20 ABI with decimals() will do for existing tokens
    deployment = deploy_protocol(
        account,
        governance=governance,
        guardian=guardian,
        treasury=treasury,
        arbitrator=arbitrator,
        oracles=list(oracles) or None,
        threshold=threshold,
        staking_token=erc20.at(staking_token) if staking_token else None,
        payment_tokens=[erc20.at(t) for t in payment_tokens] or None,
        collateral_rates=list(collateral_rates) or None,
        params={"timelock_delay": timelock_delay} if timelock_delay is not None else None,
    )
    path = write_deployment(deployment, out)
    info = deployment.to_json()
    click.echo(f"ComputeRails deployed on chain {deployment.chain_id} from block {deployment.deploy_block}:")
    for name, address in info["contracts"].items():
        click.echo(f"  {name:<16} {address}")
    click.echo(f"  ProtocolTimelock {deployment.timelock.address} (delay {deployment.params['timelock_delay']} s)")
    click.echo(f"  staking token    {info['tokens']['staking']}")
    for address in info["tokens"]["payment"]:
        click.echo(f"  payment token    {address}")
    click.echo(f"Wrote {path}")
