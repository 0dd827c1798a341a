"""The protocol on Ape's chain, deployed through the same function as the deploy script
(:func:`computerails.devnet.deploy_protocol`, over Ape's web3) and wrapped in Ape contract
instances so that tests call ``escrow.createJob(..., sender=client)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ape import chain, project

from computerails.devnet import ProtocolDeployment, ape_build_artifacts, deploy_protocol
from computerails.devnet import through_timelock as devnet_through_timelock


def build_artifacts() -> Any:
    """What Ape just compiled: the tests deploy exactly the current sources."""
    return ape_build_artifacts(Path(project.path) / ".build" / "__local__.json")


@dataclass
class ApeDeployment:
    """A :class:`ProtocolDeployment` with Ape contract instances for every contract and token."""

    info: ProtocolDeployment
    staking: Any
    escrow: Any
    slasher: Any
    hub: Any
    metered: Any
    rewards: Any
    timelock: Any
    staking_token: Any
    payment_tokens: list[Any]

    def __getattr__(self, name: str) -> Any:  # chain_id, deploy_block, governance, params, ...
        return getattr(self.info, name)

    def to_json(self) -> dict[str, Any]:
        return self.info.to_json()


def wrap(info: ProtocolDeployment) -> ApeDeployment:
    c = info.contracts
    return ApeDeployment(
        info=info,
        staking=project.ProviderStaking.at(c["ProviderStaking"]),
        escrow=project.JobEscrow.at(c["JobEscrow"]),
        slasher=project.UptimeSlasher.at(c["UptimeSlasher"]),
        hub=project.AttestationHub.at(c["AttestationHub"]),
        metered=project.MeteredEscrow.at(c["MeteredEscrow"]),
        rewards=project.RewardsDistributor.at(c["RewardsDistributor"]),
        timelock=project.ProtocolTimelock.at(c["ProtocolTimelock"]),
        staking_token=project.MockStakeToken.at(info.staking_token),
        payment_tokens=[project.MockUSD.at(t) for t in info.payment_tokens],
    )


def deploy(deployer: Any, **kwargs: Any) -> ApeDeployment:
    """Deploy from the Ape test account `deployer` (keyword arguments as for deploy_protocol;
    Ape accounts and contracts are accepted wherever an address is)."""
    for key in ("governance", "guardian", "treasury", "arbitrator", "staking_token"):
        if kwargs.get(key) is not None:
            kwargs[key] = _address(kwargs[key])
    for key in ("oracles", "payment_tokens"):
        if kwargs.get(key) is not None:
            kwargs[key] = [_address(x) for x in kwargs[key]]
    info = deploy_protocol(chain.provider.web3, deployer.private_key, artifacts=build_artifacts(), **kwargs)
    return wrap(info)


def ape_warp(seconds: int) -> None:
    """Move Ape's chain clock forward by `seconds` and mine a block."""
    chain.pending_timestamp += seconds
    chain.mine()


def through_timelock(deployment: ApeDeployment, proposer: Any, calls: Sequence[tuple[Any, bytes | str]]) -> Any:
    """Schedule `calls` ([(contract or address, calldata)]) on the timelock, wait out its delay on
    Ape's clock, execute, and return the receipt."""
    return devnet_through_timelock(
        chain.provider.web3,
        deployment.info,
        proposer.private_key,
        [(_address(target), data) for target, data in calls],
        warp=ape_warp,
        artifacts=build_artifacts(),
    )


def _address(x: Any) -> str:
    return str(x.address) if hasattr(x, "address") else str(x)
