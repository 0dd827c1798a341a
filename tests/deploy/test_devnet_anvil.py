"""The project's anvil runner runs the EVM the contracts are compiled for."""

from __future__ import annotations

from pathlib import Path

import yaml
from web3 import HTTPProvider

from computerails.devnet import Anvil
from computerails.devnet.anvil import HARDFORK

ROOT = Path(__file__).resolve().parents[2]


def test_runner_hardfork_is_the_compile_target() -> None:
    config = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
    assert config["solidity"]["evm_version"] == HARDFORK
    assert config["foundry"]["evm_version"] == HARDFORK


def test_runner_starts_anvil_on_that_hardfork() -> None:
    with Anvil() as node:
        info = HTTPProvider(node.url).make_request("anvil_nodeInfo", [])  # type: ignore[arg-type]
    assert info["result"]["hardFork"].lower() == HARDFORK
    assert node.process is None  # stopped by its own pid on leaving the block
