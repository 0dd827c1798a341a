"""scripts/deploy.py on the in-process chain: role wiring, parameters, the deployment file and
the hand-over from a deployer to a separate governance account."""

import json
import re

import ape
import pytest

from scripts.deploy import DEFAULT_PARAMS, build_abi_hash, collateral_rate, deploy_protocol, write_deployment
from tests.conftest import STAKE, USD


def test_collateral_rate__usd6_stake18_half__carries_decimal_gap():
    # Rate = stake-token units per payment-token unit, scaled by 1e18. At 50% collateral and
    # 1 stake token per payment token, one 6-decimal payment unit (1e-6 USD) must lock
    # 0.5e-6 stake tokens = 0.5e12 units of an 18-decimal token: 5e11 * 1e18 = 5e29.
    # Without the 10**(18 - 6) decimal gap the rate would be 5e17 and lock a trillion times too little.
    assert collateral_rate(6, 18, 5_000) == 5 * 10**29


def test_collateral_rate__on_chain__ten_usd_lock_five_stake(escrow, usd):
    assert escrow.collateralFor(usd, 10 * USD) == 5 * STAKE
    assert escrow.paymentToken(usd).collateralRate == collateral_rate(6, 18, DEFAULT_PARAMS["collateral_bps"])


@pytest.mark.anvil
def test_deploy__roles_wired(deployment):
    staking, escrow, slasher, hub = deployment.staking, deployment.escrow, deployment.slasher, deployment.hub

    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), escrow)
    assert staking.hasRole(staking.SLASHER_ROLE(), escrow)
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)
    assert escrow.hasRole(escrow.ATTESTER_ROLE(), hub)
    assert slasher.hasRole(slasher.REPORTER_ROLE(), hub)
    assert escrow.hasRole(escrow.ARBITRATOR_ROLE(), deployment.arbitrator)
    # Least privilege: nothing more than that.
    assert not staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), slasher)
    assert not staking.hasRole(staking.SLASHER_ROLE(), hub)
    assert not escrow.hasRole(escrow.ATTESTER_ROLE(), deployment.governance)
    assert not slasher.hasRole(slasher.REPORTER_ROLE(), deployment.governance)


def test_deploy__parameters_equal_defaults(deployment, usd, oracles):
    s, e, u = DEFAULT_PARAMS["staking"], DEFAULT_PARAMS["escrow"], DEFAULT_PARAMS["uptime"]
    staking, escrow, slasher, hub = deployment.staking, deployment.escrow, deployment.slasher, deployment.hub

    assert (staking.minStake(), staking.unbondingDelay(), staking.treasury()) == (
        s["min_stake"],
        s["unbonding_delay"],
        deployment.treasury,
    )
    assert staking.stakingToken() == deployment.staking_token.address
    assert (
        escrow.feeBps(),
        escrow.acceptWindow(),
        escrow.challengeWindow(),
        escrow.disputeTimeout(),
        escrow.maxJobDuration(),
        escrow.disputeBondBps(),
        escrow.clientSlashShareBps(),
    ) == (
        e["fee_bps"],
        e["accept_window"],
        e["challenge_window"],
        e["dispute_timeout"],
        e["max_job_duration"],
        e["dispute_bond_bps"],
        e["client_slash_share_bps"],
    )
    assert escrow.treasury() == deployment.treasury
    assert escrow.paymentTokens() == [usd.address]
    params = slasher.params()
    assert (
        params.epochLength,
        params.statuteEpochs,
        params.slaBps,
        params.uptimeSlashBps,
        params.uptimeSlashCap,
        params.relayerRewardBps,
        params.relayerRewardCap,
    ) == (
        u["epoch_length"],
        u["statute_epochs"],
        u["sla_bps"],
        u["uptime_slash_bps"],
        u["uptime_slash_cap"],
        u["relayer_reward_bps"],
        u["relayer_reward_cap"],
    )
    assert hub.threshold() == DEFAULT_PARAMS["threshold"]
    assert hub.oracles() == [o.address for o in oracles]
    assert (hub.escrow(), hub.uptimeSlasher()) == (escrow.address, slasher.address)
    assert deployment.params == {**DEFAULT_PARAMS, "collateral_rates": {usd.address: 5 * 10**29}}


def test_write_deployment__chain_id_json(deployment, tmp_path, chain):
    path = write_deployment(deployment, tmp_path / "deployments")

    assert path == tmp_path / "deployments" / f"{chain.chain_id}.json"
    written = json.loads(path.read_text())
    assert written["chainId"] == chain.chain_id
    assert written["contracts"] == {
        "ProviderStaking": deployment.staking.address,
        "JobEscrow": deployment.escrow.address,
        "UptimeSlasher": deployment.slasher.address,
        "AttestationHub": deployment.hub.address,
    }
    assert written["tokens"] == {
        "staking": deployment.staking_token.address,
        "payment": [t.address for t in deployment.payment_tokens],
    }
    assert written["roles"]["oracles"] == deployment.oracles
    assert written["deployBlock"] == deployment.deploy_block
    assert written["params"] == json.loads(json.dumps(deployment.params))
    assert re.fullmatch(r"[0-9a-f]{64}", written["abiHash"])
    assert written["abiHash"] == build_abi_hash()


def test_deploy__deploy_block__first_block_of_the_deployment(accounts, chain, treasury, oracles):
    head = chain.blocks.head.number

    deployment = deploy_protocol(accounts[8], treasury=treasury.address, oracles=[o.address for o in oracles])

    assert deployment.deploy_block == head + 1
    # Indexers may start at deployBlock: nothing of the protocol existed before it.
    assert chain.provider.get_code(deployment.staking_token.address, block_id=head) == b""
    assert chain.provider.get_code(deployment.staking_token.address) != b""


@pytest.fixture
def handed_over(accounts, governance, treasury, oracles):
    """A deployment by accounts[8] that hands governance to `governance`."""
    deployer = accounts[8]
    deployment = deploy_protocol(
        deployer, governance=governance.address, treasury=treasury.address, oracles=[o.address for o in oracles]
    )
    return deployer, deployment


def _admin_roles(contract):
    roles = {"DEFAULT_ADMIN_ROLE": contract.DEFAULT_ADMIN_ROLE(), "GOVERNOR_ROLE": contract.GOVERNOR_ROLE()}
    for name in ("PAUSER_ROLE", "ARBITRATOR_ROLE"):
        if hasattr(contract, name):
            roles[name] = getattr(contract, name)()
    return roles


def test_deploy__separate_governance__deployer_keeps_no_admin_role(handed_over, governance):
    deployer, deployment = handed_over

    for contract in (deployment.staking, deployment.escrow, deployment.slasher, deployment.hub):
        for name, role in _admin_roles(contract).items():
            assert not contract.hasRole(role, deployer), f"deployer kept {name} on {contract.contract_type.name}"
            assert contract.hasRole(role, governance), f"governance lacks {name} on {contract.contract_type.name}"


def test_deploy__separate_governance__only_governance_can_govern(handed_over, governance):
    deployer, deployment = handed_over
    hub = deployment.hub

    with ape.reverts(hub.AccessControlUnauthorizedAccount) as info:
        hub.setThreshold(1, sender=deployer)
    # ape.reverts skips its checks for undecoded errors and unknown input names: check both here.
    assert isinstance(info.value, hub.AccessControlUnauthorizedAccount)
    assert info.value.inputs == {"account": deployer.address, "neededRole": hub.GOVERNOR_ROLE()}

    hub.setThreshold(1, sender=governance)
    assert hub.threshold() == 1


def test_deploy__governance_is_deployer_spelled_lowercase__keeps_admin(accounts, treasury, oracles):
    deployer = accounts[8]

    deployment = deploy_protocol(
        deployer, governance=deployer.address.lower(), treasury=treasury.address, oracles=[o.address for o in oracles]
    )

    hub = deployment.hub
    assert hub.hasRole(hub.GOVERNOR_ROLE(), deployer)
    assert hub.hasRole(hub.DEFAULT_ADMIN_ROLE(), deployer)


def test_deploy__explicit_threshold_zero__rejected_not_defaulted(accounts, treasury, oracles, reverts, project):
    # Regression: `threshold or default` used to turn an explicit 0 into the default 2.
    deployer = accounts[8]
    with reverts(project.AttestationHub.ThresholdOutOfRange, min=1, max=3, threshold=0):
        deploy_protocol(deployer, treasury=treasury.address, oracles=[o.address for o in oracles], threshold=0)
