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


def test_runner__paged_out_states__kept_in_the_nodes_own_home_and_removed_on_stop_and_kill() -> None:
    """anvil pages historical states out to ``$HOME/.foundry/anvil/tmp`` and leaves them there
    however it exits; the runner gives each node a home of its own and removes it."""
    for end in ("stop", "kill"):
        node = Anvil().start()
        home = node.home
        assert home is not None and home.is_dir() and home != Path.home()
        try:
            for _ in range(3):  # enough blocks that anvil pages states out of memory
                HTTPProvider(node.url).make_request("anvil_mine", ["0x100"])  # type: ignore[arg-type]
            paged = list((home / ".foundry" / "anvil" / "tmp").glob("anvil-state-*/*.json"))
            assert paged, "anvil paged nothing out: mine more blocks"
        finally:
            getattr(node, end)()
        assert not home.exists() and node.home is None
