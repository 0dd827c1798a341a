"""A real anvil node with the protocol deployed, for the suites that talk to a node over
JSON-RPC (SDK, CLI, scripts, bench smoke): 127.0.0.1 only, a free port, stopped by its own pid.

The protocol is deployed with :func:`computerails.devnet.deploy_protocol` (the deploy script's
own function) from what Ape just compiled; tests/scripts/ runs the deploy script itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from computerails.devnet import Anvil as DevnetAnvil
from computerails.devnet import (
    ape_build_artifacts,
    deploy_protocol,
    dev_key,
    free_port,
    grant_direct_governance,
    write_deployment,
)

__all__ = ["Anvil", "dev_key", "devnet_fixtures", "free_port", "grant_direct_governance"]

ROOT = Path(__file__).resolve().parents[2]


class Anvil(DevnetAnvil):
    """A devnet anvil that can deploy the protocol onto itself."""

    def deploy(self, out_dir: Path, direct_governance: bool = True) -> Path:
        """Deploy onto this node and return the deployment file.

        With `direct_governance`, governance (the test mnemonic's account 0) is then made a
        direct admin and governor of every contract through one timelock operation (scheduled,
        its delay skipped with evm_increaseTime, executed), so that tests and the bench can
        change parameters without waiting (computerails.devnet.grant_direct_governance)."""
        w3 = Web3(HTTPProvider(self.url))
        artifacts = ape_build_artifacts(ROOT / ".build" / "__local__.json")
        deployment = deploy_protocol(w3, dev_key(0), artifacts=artifacts)
        path = write_deployment(deployment, out_dir)
        json.loads(path.read_text())
        if direct_governance:
            grant_direct_governance(w3, deployment, dev_key(0), artifacts=artifacts)
        return path


def devnet_fixtures(scope: str = "session", prefix: str = "") -> tuple[Any, Any, Any]:
    """The three fixtures a suite on its own devnet needs, named ``<prefix>anvil`` (a started
    node, stopped by its pid afterwards), ``<prefix>deployment_file`` (the protocol deployed on
    it) and ``<prefix>w3``, at `scope`. Assign them in a conftest or test module::

        anvil, deployment_file, w3 = devnet_fixtures()

    A module that needs a node of its own beside its conftest's takes a prefix (``jobs_``): a
    fixture named like a conftest's (or Ape's ``chain``) would override it for that module only,
    and a session fixture built on it in another module's worker would then see the wrong node.
    """

    @pytest.fixture(scope=scope, name=f"{prefix}anvil")
    def node(tmp_path_factory: Any) -> Iterator[Anvil]:
        started = Anvil(state_file=tmp_path_factory.mktemp("anvil") / "state.json").start()
        yield started
        started.stop()

    @pytest.fixture(scope=scope, name=f"{prefix}deployment_file")
    def deployment_file(request: Any, tmp_path_factory: Any) -> Path:
        deployed: Path = request.getfixturevalue(f"{prefix}anvil").deploy(tmp_path_factory.mktemp("deployments"))
        return deployed

    @pytest.fixture(scope=scope, name=f"{prefix}w3")
    def w3(request: Any) -> Web3:
        return Web3(HTTPProvider(request.getfixturevalue(f"{prefix}anvil").url))

    return node, deployment_file, w3
