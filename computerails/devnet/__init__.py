"""Devnet and deployment tooling, without Ape: the protocol's default parameters and safety
rules, a deployer that needs only web3, the devnet keys, and an anvil runner.

The Ape scripts in ``scripts/`` are thin entry points over this package; the tests, the demo
and the bench deploy through the same :func:`deploy_protocol`.
"""

from computerails.devnet.anvil import Anvil, AnvilError, anvil_binary, free_port
from computerails.devnet.deploy import (
    Artifacts,
    ProtocolDeployment,
    ape_build_artifacts,
    deploy_protocol,
    devnet_warp,
    grant_direct_governance,
    through_timelock,
    verify_roles,
    write_deployment,
)
from computerails.devnet.keys import (
    DEV_MNEMONIC,
    DEVNET_CHAIN_IDS,
    GOVERNANCE_INDEX,
    LOCAL_ROLES,
    derive_key,
    dev_address,
    dev_key,
    key_of_ape_account,
)
from computerails.devnet.params import (
    DEFAULT_PARAMS,
    InvalidParameters,
    check_params,
    collateral_rate,
    escrow_init_params,
    merge_params,
    metered_init_params,
    rewards_init_params,
)

__all__ = [
    "Anvil",
    "AnvilError",
    "Artifacts",
    "DEFAULT_PARAMS",
    "DEVNET_CHAIN_IDS",
    "DEV_MNEMONIC",
    "GOVERNANCE_INDEX",
    "InvalidParameters",
    "LOCAL_ROLES",
    "ProtocolDeployment",
    "anvil_binary",
    "ape_build_artifacts",
    "check_params",
    "collateral_rate",
    "deploy_protocol",
    "derive_key",
    "dev_address",
    "dev_key",
    "devnet_warp",
    "escrow_init_params",
    "free_port",
    "grant_direct_governance",
    "key_of_ape_account",
    "merge_params",
    "metered_init_params",
    "rewards_init_params",
    "through_timelock",
    "verify_roles",
    "write_deployment",
]
