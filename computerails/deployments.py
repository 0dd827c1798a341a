"""Deployment files: ``deployments/<chainId>.json`` as written by ``scripts/deploy.py``.

A deployment is found by explicit path, or by chain id in the registry of known ones: the
folders named in ``$COMPUTERAILS_DEPLOYMENTS`` (``os.pathsep``-separated), then
``./deployments``, then the copies shipped inside this package.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from computerails.errors import DeploymentError

#: Contracts whose ABIs the deployment's abiHash covers, in this order. Deployment files written
#: before MeteredEscrow existed (issue 12) lack it: every check and the hash skip what a file
#: does not record (see :data:`OPTIONAL_CONTRACTS`).
PROTOCOL_CONTRACTS = (
    "ProviderStaking",
    "JobEscrow",
    "UptimeSlasher",
    "AttestationHub",
    "MeteredEscrow",
    "RewardsDistributor",
)

#: Protocol contracts an older deployment file may lack (MeteredEscrow before issue 12,
#: RewardsDistributor before issue 16).
OPTIONAL_CONTRACTS = frozenset({"MeteredEscrow", "RewardsDistributor"})

#: Roles the guardian holds directly (no timelock), on which contracts, and what breaks without
#: each: pausing the escrows, vetoing a pending rewards root.
GUARDIAN_ROLES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("PAUSER_ROLE", ("JobEscrow", "MeteredEscrow"), "nobody can pause in an emergency"),
    ("GUARDIAN_ROLE", ("RewardsDistributor",), "nobody can veto a bad rewards root"),
)

#: Roles the protocol's contracts must hold on each other, and what breaks without each:
#: (contract, role, holder contract, consequence).
CONTRACT_ROLES: tuple[tuple[str, str, str, str], ...] = (
    (
        "ProviderStaking",
        "COLLATERAL_MANAGER_ROLE",
        "JobEscrow",
        "accept, settle and every refund revert (collateral cannot be locked, released or slashed)",
    ),
    ("ProviderStaking", "SLASHER_ROLE", "UptimeSlasher", "uptime reports below the SLA revert"),
    ("JobEscrow", "ATTESTER_ROLE", "AttestationHub", "attestations cannot be recorded"),
    ("UptimeSlasher", "REPORTER_ROLE", "AttestationHub", "uptime reports cannot be applied"),
    (
        "ProviderStaking",
        "COLLATERAL_MANAGER_ROLE",
        "MeteredEscrow",
        "every collection reverts (its stake cannot be locked) and fraud cannot be slashed",
    ),
)

#: Contracts governed by the timelock in a production deployment.
GOVERNED_CONTRACTS = PROTOCOL_CONTRACTS

#: Chain ids of local devnets (anvil, Ape's in-process chain): test tokens with a faucet, dev keys.
DEVNET_CHAIN_IDS = frozenset({31337, 1337})


def role_id(name: str) -> bytes:
    """The bytes32 id of an AccessControl role (``DEFAULT_ADMIN_ROLE`` is zero)."""
    return b"\x00" * 32 if name == "DEFAULT_ADMIN_ROLE" else keccak(text=name)


@dataclass(frozen=True)
class RoleCheck:
    """One role a deployment needs (``held``) or must not have granted (``forbidden``)."""

    contract: str  # the contract that grants the role
    role: str
    holder: str  # address
    holder_name: str  # "JobEscrow", "timelock", "deployer", ...
    why: str
    forbidden: bool = False
    ok: bool = False


def role_checks(deployment: Deployment) -> list[RoleCheck]:
    """Every role the deployment must (or must not) hold, from its file alone.

    The contracts' roles on each other always; when the file records a timelock, also the
    governance roles (admin and governor of every contract held by the timelock, the pauser by
    the guardian, the arbitrator role) and that the deployer kept none.
    """
    c = deployment.contracts
    checks = [
        RoleCheck(contract, role, c[holder], holder, why)
        for contract, role, holder, why in CONTRACT_ROLES
        if contract in c and holder in c
    ]
    gov = deployment.governance
    timelock = gov.get("timelock")
    governed = [contract for contract in GOVERNED_CONTRACTS if contract in c]
    if timelock:
        for contract in governed:
            for role in ("DEFAULT_ADMIN_ROLE", "GOVERNOR_ROLE"):
                checks.append(
                    RoleCheck(contract, role, timelock, "timelock", "parameter and role changes wait for the timelock")
                )
        if gov.get("guardian"):
            checks += [
                RoleCheck(contract, role, gov["guardian"], "guardian", why)
                for role, contracts, why in GUARDIAN_ROLES
                for contract in contracts
                if contract in c
            ]
        deployer = gov.get("deployer")
        if deployer and deployer.lower() != str(timelock).lower():
            for contract in governed:
                for role in ("DEFAULT_ADMIN_ROLE", "GOVERNOR_ROLE"):
                    checks.append(
                        RoleCheck(
                            contract,
                            role,
                            deployer,
                            "deployer",
                            "the deployer could change the protocol without the timelock",
                            forbidden=True,
                        )
                    )
    arbitrator = deployment.roles.get("arbitrator")
    if arbitrator:
        checks.append(
            RoleCheck("JobEscrow", "ARBITRATOR_ROLE", arbitrator, "arbitrator", "disputes cannot be resolved")
        )
    return checks


def check_deployment(
    deployment: Deployment, read: Callable[[str, str, tuple[Any, ...]], Any]
) -> tuple[list[RoleCheck], list[str]]:
    """Check a live deployment: every role held as required, and the report window rule.

    Args:
        deployment: the deployment file.
        read: ``read(contract_name, function_name, args)`` calls a view on the live contract
            (the deploy script passes Ape calls, the CLI web3 calls).

    Returns:
        The role checks with ``ok`` filled in, and a list of problems in words (empty: healthy).
    """
    results: list[RoleCheck] = []
    problems: list[str] = []
    for check in role_checks(deployment):
        held = bool(read(check.contract, "hasRole", (role_id(check.role), check.holder)))
        ok = held != check.forbidden
        results.append(RoleCheck(**{**check.__dict__, "ok": ok}))
        if not ok:
            verb = "still holds" if check.forbidden else "lacks"
            problems.append(f"{check.holder_name} {check.holder} {verb} {check.role} on {check.contract}: {check.why}")
    if "ProviderStaking" in deployment.contracts and "UptimeSlasher" in deployment.contracts:
        declared = int(read("ProviderStaking", "reportWindow", ()))
        window = int(read("UptimeSlasher", "reportWindow", ()))
        delay = int(read("ProviderStaking", "unbondingDelay", ()))
        if declared < window:
            problems.append(
                f"the staking contract knows a report window of {declared} s but the uptime slasher's is "
                f"{window} s: call UptimeSlasher.syncReportWindow()"
            )
        if delay <= window:
            problems.append(
                f"unbonding delay {delay} s does not exceed the report window {window} s: stake could "
                "leave before a report that is still on time"
            )
    return results, problems


class Deployment(BaseModel):
    """Addresses, parameters and provenance of one deployment."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    chain_id: int = Field(alias="chainId")
    deploy_block: int = Field(alias="deployBlock")
    contracts: dict[str, str]
    tokens: dict[str, Any]
    roles: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    abi_hash: str = Field(alias="abiHash", default="")
    governance: dict[str, Any] = Field(default_factory=dict)  # timelock, its delay, guardian, deployer
    source: str = ""  # where it was loaded from

    @property
    def staking_token(self) -> str:
        return str(self.tokens["staking"])

    @property
    def payment_tokens(self) -> list[str]:
        return list(self.tokens.get("payment", []))

    def address(self, contract: str) -> str:
        try:
            return self.contracts[contract]
        except KeyError as exc:
            raise DeploymentError(f"deployment {self.source or self.chain_id} has no {contract}") from exc

    def matches_sdk_abis(self) -> bool:
        """Whether the deployed contracts' ABIs are the ones this SDK was built with."""
        return not self.abi_hash or self.abi_hash == _sdk_abi_hash(frozenset(self.contracts) & set(PROTOCOL_CONTRACTS))

    @classmethod
    def from_file(cls, path: str | Path) -> Deployment:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise DeploymentError(f"deployment file {path} does not exist") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise DeploymentError(f"deployment file {path} is not readable JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DeploymentError(f"deployment file {path} is malformed: expected a JSON object")
        try:
            return cls.model_validate({**data, "source": str(path)})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg'].lower()}" for e in exc.errors()
            )
            raise DeploymentError(
                f"deployment file {path} is malformed ({problems}): write it again with `make deploy`"
            ) from None


def registry_dirs() -> list[Path]:
    """Folders searched for ``<chainId>.json``, in order."""
    dirs = [Path(p) for p in os.environ.get("COMPUTERAILS_DEPLOYMENTS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "deployments")
    return dirs


def known_deployments() -> dict[int, Deployment]:
    """Every deployment in the registry, by chain id (earlier folders win)."""
    found: dict[int, Deployment] = {}
    for folder in registry_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                if path.stem.isdigit() and int(path.stem) not in found:
                    found[int(path.stem)] = Deployment.from_file(path)
    shipped = resources.files("computerails.deployments_registry")
    for entry in shipped.iterdir():
        if entry.name.endswith(".json") and entry.name[:-5].isdigit() and int(entry.name[:-5]) not in found:
            data = json.loads(entry.read_text())
            found[int(entry.name[:-5])] = Deployment.model_validate({**data, "source": f"package:{entry.name}"})
    return found


def load_deployment(source: str | Path | int | Deployment | None, chain_id: int | None = None) -> Deployment:
    """Resolve a deployment from a path, a chain id, an object, or (None) the node's chain id.

    Raises:
        DeploymentError: nothing found.
    """
    if isinstance(source, Deployment):
        return source
    if isinstance(source, Path) or (isinstance(source, str) and not source.isdigit()):
        return Deployment.from_file(source)  # a Path is a file even when its name is all digits
    wanted = int(source) if source is not None else chain_id
    if wanted is None:
        raise DeploymentError("no deployment given and no chain id to look one up by")
    known = known_deployments()
    if wanted not in known:
        where = ", ".join(str(d) for d in registry_dirs())
        raise DeploymentError(
            f"no deployment known for chain {wanted} (looked in {where} and the package); "
            "pass --deployment / deployment=PATH"
        )
    return known[wanted]


def load_abis() -> dict[str, list[dict[str, Any]]]:
    """The ABIs exported into this package (``make abi``)."""
    return {name: load_artifact(name)["abi"] for name in PROTOCOL_CONTRACTS}


def load_artifact(name: str) -> dict[str, Any]:
    """``{"abi": [...], "bytecode": "0x..."}`` of an exported contract, or ``{"abi": [...]}`` of
    the hand-written generic token ABI (``"ERC20Permit"``)."""
    artifact: dict[str, Any] = json.loads(resources.files("computerails.abi").joinpath(f"{name}.json").read_text())
    return artifact


@cache
def _sdk_abi_hash(names: frozenset[str]) -> str:
    """:func:`abi_hash` of this SDK's ABIs of the contracts `names` (once per process per set)."""
    return abi_hash({name: abi for name, abi in load_abis().items() if name in names})


def abi_hash(abis: dict[str, list[dict[str, Any]]]) -> str:
    """SHA-256 over the protocol ABIs in canonical JSON: what deployments record as abiHash.

    An optional contract missing from `abis` is left out, so a file written before it existed
    keeps the hash it recorded."""
    missing = [name for name in PROTOCOL_CONTRACTS if name not in abis and name not in OPTIONAL_CONTRACTS]
    if missing:
        raise KeyError(f"abi_hash needs the ABIs of {', '.join(missing)}")
    ordered = {name: abis[name] for name in PROTOCOL_CONTRACTS if name in abis}
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
