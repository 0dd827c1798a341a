"""Deployment files: ``deployments/<chainId>.json`` as written by ``scripts/deploy.py``.

A deployment is found by explicit path, or by chain id in the registry of known ones: the
folders named in ``$COMPUTERAILS_DEPLOYMENTS`` (``os.pathsep``-separated), then
``./deployments``, then the copies shipped inside this package.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from computerails.errors import DeploymentError

#: Contracts whose ABIs the deployment's abiHash covers, in this order.
PROTOCOL_CONTRACTS = ("ProviderStaking", "JobEscrow", "UptimeSlasher", "AttestationHub")


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
        return not self.abi_hash or self.abi_hash == abi_hash(load_abis())

    @classmethod
    def from_file(cls, path: str | Path) -> "Deployment":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise DeploymentError(f"deployment file {path} does not exist") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise DeploymentError(f"deployment file {path} is not readable JSON: {exc}") from exc
        try:
            return cls.model_validate({**data, "source": str(path)})
        except ValueError as exc:
            raise DeploymentError(f"deployment file {path} is malformed: {exc}") from exc


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
    if isinstance(source, (str, Path)) and not str(source).isdigit():
        return Deployment.from_file(source)
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
    """``{"abi": [...], "bytecode": "0x..."}`` of an exported contract."""
    return json.loads(resources.files("computerails.abi").joinpath(f"{name}.json").read_text())


def abi_hash(abis: dict[str, list[dict[str, Any]]]) -> str:
    """SHA-256 over the protocol ABIs in canonical JSON: what deployments record as abiHash."""
    ordered = {name: abis[name] for name in PROTOCOL_CONTRACTS}
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
