"""computerails.devnet.deploy_protocol (what `ape run deploy` runs) on the in-process chain: role
wiring, parameters, the deployment file, the hand-over of every admin role to the timelock and
the safety rules it refuses to break. tests/scripts/ runs the script itself against an anvil."""

import json
import re

import pytest

from computerails import errors
from computerails.deployments import (
    PROTOCOL_CONTRACTS,
    Deployment,
    abi_hash,
    check_deployment,
    load_artifact,
    role_checks,
)
from computerails.devnet import (
    DEFAULT_PARAMS,
    InvalidParameters,
    collateral_rate,
    escrow_init_params,
    metered_init_params,
    rewards_init_params,
    verify_roles,
    write_deployment,
)
from tests.support.deployment import build_artifacts, through_timelock
from tests.support.deployment import deploy as deploy_protocol
from tests.support.protocol import STAKE, USD


def test_collateral_rate__usd6_stake18_half__carries_decimal_gap():
    # Rate = stake-token units per payment-token unit, scaled by 1e18. At 50% collateral and
    # 1 stake token per payment token, one 6-decimal payment unit (1e-6 USD) must lock
    # 0.5e-6 stake tokens = 0.5e12 units of an 18-decimal token: 5e11 * 1e18 = 5e29.
    # Without the 10**(18 - 6) decimal gap the rate would be 5e17 and lock a trillion times too little.
    assert collateral_rate(6, 18, 5_000) == 5 * 10**29


def test_collateral_rate__on_chain__ten_usd_lock_five_stake(escrow, usd):
    assert escrow.collateralFor(usd, 10 * USD) == 5 * STAKE
    assert escrow.paymentToken(usd).collateralRate == collateral_rate(6, 18, DEFAULT_PARAMS["collateral_bps"])


def test_deploy__roles_wired(deployment):
    staking, escrow, slasher, hub = deployment.staking, deployment.escrow, deployment.slasher, deployment.hub

    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), escrow)
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)
    assert escrow.hasRole(escrow.ATTESTER_ROLE(), hub)
    assert slasher.hasRole(slasher.REPORTER_ROLE(), hub)
    assert escrow.hasRole(escrow.ARBITRATOR_ROLE(), deployment.arbitrator)
    # Least privilege: nothing more than that.
    assert not staking.hasRole(staking.SLASHER_ROLE(), escrow)  # the escrow touches only its jobs' collateral
    assert not staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), slasher)
    assert not staking.hasRole(staking.SLASHER_ROLE(), hub)
    assert not escrow.hasRole(escrow.ATTESTER_ROLE(), deployment.governance)
    assert not slasher.hasRole(slasher.REPORTER_ROLE(), deployment.governance)
    # the uptime slasher declared its report window
    assert staking.reportWindow() == slasher.reportWindow() == 25 * 3_600


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
    ) == escrow_init_params(e)
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
    timelock_delay = s["unbonding_delay"] + 86_400  # the default: one day longer than the unbonding delay
    assert deployment.timelock.getMinDelay() == timelock_delay
    metered = deployment.metered
    assert (
        metered.feeBps(),
        metered.collectionInterval(),
        metered.disputeWindow(),
        metered.thawPeriod(),
        metered.signerThawPeriod(),
        metered.fraudPenaltyBps(),
        metered.fraudPayerShareBps(),
    ) == metered_init_params(DEFAULT_PARAMS["metered"])
    assert metered.treasury() == deployment.treasury
    assert (metered.staking(), metered.attestationHub()) == (staking.address, hub.address)
    assert metered.paymentTokenAllowed(usd)
    # 5 stake tokens (18 decimals) per mUSD (6 decimals) collected, WAD-scaled
    assert metered.stakeRatio(usd) == 5 * 10**30
    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), metered)
    assert deployment.params == {
        **DEFAULT_PARAMS,
        "timelock_delay": timelock_delay,
        "collateral_rates": {usd.address: 5 * 10**29},
        "stake_ratios": {usd.address: 5 * 10**30},
    }


def test_write_deployment__chain_id_json(deployment, tmp_path, chain):
    path = write_deployment(deployment.info, tmp_path / "deployments")

    assert path == tmp_path / "deployments" / f"{chain.chain_id}.json"
    written = json.loads(path.read_text())
    assert written["chainId"] == chain.chain_id
    assert written["contracts"] == {
        "ProviderStaking": deployment.staking.address,
        "JobEscrow": deployment.escrow.address,
        "UptimeSlasher": deployment.slasher.address,
        "AttestationHub": deployment.hub.address,
        "MeteredEscrow": deployment.metered.address,
        "RewardsDistributor": deployment.rewards.address,
    }
    assert written["tokens"] == {
        "staking": deployment.staking_token.address,
        "payment": [t.address for t in deployment.payment_tokens],
    }
    assert written["roles"]["oracles"] == deployment.oracles
    assert written["governance"] == {
        "timelock": deployment.timelock.address,
        "timelockDelay": deployment.timelock.getMinDelay(),
        "proposers": [deployment.governance],
        "guardian": deployment.guardian,
        "deployer": deployment.deployer,
    }
    assert written["deployBlock"] == deployment.deploy_block
    assert written["params"] == json.loads(json.dumps(deployment.params))
    assert re.fullmatch(r"[0-9a-f]{64}", written["abiHash"])
    assert written["abiHash"] == abi_hash({name: build_artifacts()(name)["abi"] for name in PROTOCOL_CONTRACTS})


def test_deploy__deploy_block__first_block_of_the_deployment(accounts, chain, treasury, oracles):
    head = chain.blocks.head.number

    deployment = deploy_protocol(accounts[8], treasury=treasury.address, oracles=[o.address for o in oracles])

    assert deployment.deploy_block == head + 1
    # Indexers may start at deployBlock: nothing of the protocol existed before it.
    assert chain.provider.get_code(deployment.staking_token.address, block_id=head) == b""
    assert chain.provider.get_code(deployment.staking_token.address) != b""


@pytest.fixture(scope="module")
def handed_over(accounts, governance, treasury, oracles):
    """A fresh production deployment by accounts[8]: governance (`governance`) proposes and
    executes through the timelock, which holds every admin and governor role. Made once per
    module: Ape reverts the chain to it after each test (a deployment takes 2 s in-process)."""
    deployer = accounts[8]
    deployment = deploy_protocol(
        deployer, governance=governance.address, treasury=treasury.address, oracles=[o.address for o in oracles]
    )
    return deployer, deployment


def _contracts(deployment):
    return (
        deployment.staking,
        deployment.escrow,
        deployment.slasher,
        deployment.hub,
        deployment.metered,
        deployment.rewards,
    )


def test_deploy__every_admin_role_behind_the_timelock__deployer_and_governance_hold_none(handed_over, governance):
    deployer, deployment = handed_over
    timelock = deployment.timelock

    for contract in _contracts(deployment):
        name = contract.contract_type.name
        for role in (contract.DEFAULT_ADMIN_ROLE(), contract.GOVERNOR_ROLE()):
            assert contract.hasRole(role, timelock), f"the timelock lacks a role on {name}"
            assert not contract.hasRole(role, deployer), f"the deployer kept a role on {name}"
            assert not contract.hasRole(role, governance), f"governance holds a role on {name} directly"
    for escrow in (deployment.escrow, deployment.metered):
        assert escrow.hasRole(escrow.PAUSER_ROLE(), governance)  # the guardian pauses at once
        assert not escrow.hasRole(escrow.PAUSER_ROLE(), deployer)
    rewards = deployment.rewards
    assert rewards.hasRole(rewards.GUARDIAN_ROLE(), governance)  # the guardian vetoes a bad root
    assert not rewards.hasRole(rewards.GUARDIAN_ROLE(), deployer)
    for role in ("PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE"):
        assert timelock.hasRole(getattr(timelock, role)(), governance), role
        assert not timelock.hasRole(getattr(timelock, role)(), deployer), role
    # self-administered: nobody can change the timelock without going through it
    assert timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), timelock)
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer)
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), governance)
    assert timelock.getMinDelay() > deployment.staking.unbondingDelay()


def test_timelock__governance_grants_itself_slasher_directly__unauthorized_nothing_changes(
    handed_over, governance, reverts
):
    """Regression (issue 9, item 8): the admin could grant itself the slasher role and take all
    stake in one block."""
    _, deployment = handed_over
    staking = deployment.staking

    with reverts(
        staking.AccessControlUnauthorizedAccount, account=governance.address, neededRole=staking.DEFAULT_ADMIN_ROLE()
    ):
        staking.grantRole(staking.SLASHER_ROLE(), governance, sender=governance)
    with reverts(
        staking.AccessControlUnauthorizedAccount, account=governance.address, neededRole=staking.GOVERNOR_ROLE()
    ):
        staking.setTreasury(governance, sender=governance)

    assert not staking.hasRole(staking.SLASHER_ROLE(), governance)


def test_timelock__hostile_slasher_grant_scheduled__providers_exit_before_it_lands(
    handed_over, governance, provider, chain, reverts
):
    """Regression (issue 9, item 8): a hostile change is visible for longer than the unbonding
    delay, so a provider that sees it scheduled withdraws everything before it can take effect."""
    _, deployment = handed_over
    staking, timelock, stake_token = deployment.staking, deployment.timelock, deployment.staking_token
    stake_token.mint(provider, 5_000 * STAKE, sender=provider)
    stake_token.approve(staking, 5_000 * STAKE, sender=provider)
    staking.register("ipfs://p", 5_000 * STAKE, sender=provider)
    grant = staking.grantRole.encode_input(staking.SLASHER_ROLE(), governance.address)
    zero = b"\x00" * 32
    delay = timelock.getMinDelay()

    receipt = timelock.schedule(staking.address, 0, grant, zero, zero, delay, sender=governance)

    scheduled = receipt.events.filter(timelock.CallScheduled)[0]  # what a provider's watcher sees
    ready_at = receipt.timestamp + delay
    assert scheduled.target == staking.address
    with reverts(
        timelock.TimelockUnexpectedOperationState, operationId=scheduled.id, expectedStates=(1 << 2).to_bytes(32, "big")
    ):
        timelock.execute(staking.address, 0, grant, zero, zero, sender=governance)  # not ready yet
    # the provider reacts at once and is out before the change can land
    staking.requestUnbond(5_000 * STAKE, sender=provider)
    end = staking.providerInfo(provider).unbondingEnd
    assert end < ready_at
    chain.pending_timestamp = end
    staking.withdrawUnbonded(sender=provider)
    assert stake_token.balanceOf(provider) == 5_000 * STAKE
    chain.pending_timestamp = ready_at
    timelock.execute(staking.address, 0, grant, zero, zero, sender=governance)
    assert staking.hasRole(staking.SLASHER_ROLE(), governance)
    assert staking.slashableStake(provider) == 0  # nothing left to take


def test_timelock__guardian_pauses_at_once_without_the_timelock(handed_over, governance):
    _, deployment = handed_over
    escrow = deployment.escrow

    escrow.pause(sender=governance)
    assert escrow.paused()
    escrow.unpause(sender=governance)
    assert not escrow.paused()


def test_deploy__separate_guardian__pauser_role_goes_to_it(accounts, governance, treasury, oracles):
    deployer, guardian = accounts[8], accounts[12]
    deployment = deploy_protocol(
        deployer,
        governance=governance.address,
        guardian=guardian.address,
        treasury=treasury.address,
        oracles=[o.address for o in oracles],
    )
    for escrow in (deployment.escrow, deployment.metered):
        assert escrow.hasRole(escrow.PAUSER_ROLE(), guardian)
        assert not escrow.hasRole(escrow.PAUSER_ROLE(), governance)
        assert not escrow.hasRole(escrow.PAUSER_ROLE(), deployer)
    rewards = deployment.rewards
    assert rewards.hasRole(rewards.GUARDIAN_ROLE(), guardian)
    assert not rewards.hasRole(rewards.GUARDIAN_ROLE(), governance)
    assert not rewards.hasRole(rewards.GUARDIAN_ROLE(), deployer)


def test_deploy__rewards_distributor__on_the_hub_and_the_uptime_epochs(deployment):
    rewards, slasher = deployment.rewards, deployment.slasher
    (_, start, length, _), *_ = slasher.schedules()
    assert rewards.hub() == deployment.hub.address
    assert rewards.rewardToken() == deployment.staking_token.address
    assert (rewards.genesis(), rewards.epochLength()) == (start, length)
    assert tuple(rewards.params()) == rewards_init_params(deployment.params["rewards"])
    assert rewards.funded() == 0  # nothing is minted: a deployment funds it explicitly


def test_deploy__governance_spelled_lowercase__proposer_is_the_checksummed_address(accounts, treasury, oracles):
    deployer = accounts[8]

    deployment = deploy_protocol(
        deployer, governance=deployer.address.lower(), treasury=treasury.address, oracles=[o.address for o in oracles]
    )

    timelock = deployment.timelock
    assert deployment.governance == deployer.address
    assert timelock.hasRole(timelock.PROPOSER_ROLE(), deployer)
    assert not deployment.hub.hasRole(deployment.hub.GOVERNOR_ROLE(), deployer)


@pytest.mark.parametrize("delay", [7 * 86_400, 7 * 86_400 - 1])
def test_deploy__timelock_delay_not_above_unbonding_delay__refused_before_deploying(
    accounts, chain, treasury, oracles, delay
):
    head = chain.blocks.head.number

    with pytest.raises(InvalidParameters, match="must exceed the unbonding delay"):
        deploy_protocol(
            accounts[8],
            treasury=treasury.address,
            oracles=[o.address for o in oracles],
            params={"timelock_delay": delay},
        )

    assert chain.blocks.head.number == head  # nothing was sent


@pytest.mark.parametrize("uptime", [{"statute_epochs": 167}, {"epoch_length": 86_400, "statute_epochs": 6}])
def test_deploy__report_window_not_below_unbonding_delay__refused_before_deploying(
    accounts, chain, treasury, oracles, uptime
):
    """Regression (issue 9, item 5): the statute rule used to live only in the README."""
    head = chain.blocks.head.number

    with pytest.raises(InvalidParameters, match="must stay below the unbonding delay"):
        deploy_protocol(
            accounts[8], treasury=treasury.address, oracles=[o.address for o in oracles], params={"uptime": uptime}
        )

    assert chain.blocks.head.number == head


def test_verify_roles__escrow_lost_its_collateral_role__names_the_problem(handed_over, governance, chain):
    """Regression (issue 9, item 9): the deploy script (and `computerails deployments check`)
    checks that each contract holds the roles it needs."""
    _, deployment = handed_over
    staking = deployment.staking
    verify_roles(chain.provider.web3, deployment.info)  # healthy
    revoke = staking.revokeRole.encode_input(staking.COLLATERAL_MANAGER_ROLE(), deployment.escrow.address)
    through_timelock(deployment, governance, [(staking, revoke)])

    with pytest.raises(errors.DeploymentError) as failure:
        verify_roles(chain.provider.web3, deployment.info)

    problems = str(failure.value).splitlines()[1:]
    assert len(problems) == 1
    assert re.fullmatch(
        r"\s*JobEscrow 0x[0-9a-fA-F]{40} lacks COLLATERAL_MANAGER_ROLE on ProviderStaking: .*refund revert.*",
        problems[0],
    )


def test_deploy__explicit_threshold_zero__rejected_not_defaulted(accounts, treasury, oracles, reverts, project):
    # Regression: `threshold or default` used to turn an explicit 0 into the default 2.
    deployer = accounts[8]
    with pytest.raises(errors.ThresholdOutOfRange) as refused:
        deploy_protocol(deployer, treasury=treasury.address, oracles=[o.address for o in oracles], threshold=0)
    assert refused.value.args_dict == {"min": 1, "max": 3, "value": 0}


@pytest.mark.parametrize(
    "metered",
    [
        {"thaw_period": 3_600 + 86_400},  # equal to collection interval + dispute window
        {"signer_thaw_period": 3_600 + 86_400},
        {"collection_interval": 2 * 86_400, "dispute_window": 86_400},  # both defaults now too short
    ],
)
def test_deploy__metered_thaw_not_above_interval_plus_window__refused_before_deploying(
    accounts, chain, treasury, oracles, metered
):
    head = chain.blocks.head.number

    with pytest.raises(InvalidParameters, match="must exceed collection_interval \\+ dispute_window"):
        deploy_protocol(
            accounts[8], treasury=treasury.address, oracles=[o.address for o in oracles], params={"metered": metered}
        )

    assert chain.blocks.head.number == head  # nothing was sent


def test_deploy__metered_params_given__configured_on_chain(accounts, treasury, oracles):
    metered = {
        "fee_bps": 100,
        "collection_interval": 600,
        "dispute_window": 3_600,
        "thaw_period": 4_201,
        "signer_thaw_period": 7_200,
    }

    deployment = deploy_protocol(
        accounts[8], treasury=treasury.address, oracles=[o.address for o in oracles], params={"metered": metered}
    )

    m = deployment.metered
    assert (m.feeBps(), m.collectionInterval(), m.disputeWindow(), m.thawPeriod(), m.signerThawPeriod()) == (
        100,
        600,
        3_600,
        4_201,
        7_200,
    )
    assert deployment.params["metered"] == {**DEFAULT_PARAMS["metered"], **metered}


@pytest.mark.parametrize(
    ("name", "role", "problem"),
    [
        ("metered", "PAUSER_ROLE", r"\s*guardian 0x[0-9a-fA-F]{40} lacks PAUSER_ROLE on MeteredEscrow: .*pause.*"),
        (
            "rewards",
            "GUARDIAN_ROLE",
            r"\s*guardian 0x[0-9a-fA-F]{40} lacks GUARDIAN_ROLE on RewardsDistributor: .*veto.*",
        ),
    ],
)
def test_verify_roles__guardian_lost_a_role__names_the_problem(handed_over, governance, chain, name, role, problem):
    _, deployment = handed_over
    contract = getattr(deployment, name)
    revoke = contract.revokeRole.encode_input(getattr(contract, role)(), governance.address)
    through_timelock(deployment, governance, [(contract, revoke)])

    with pytest.raises(errors.DeploymentError) as failure:
        verify_roles(chain.provider.web3, deployment.info)

    problems = str(failure.value).splitlines()[1:]
    assert len(problems) == 1
    assert re.fullmatch(problem, problems[0])


def test_verify_roles__deployer_still_metered_governor__names_the_problem(handed_over, governance, chain):
    deployer, deployment = handed_over
    metered = deployment.metered
    grant = metered.grantRole.encode_input(metered.GOVERNOR_ROLE(), deployer.address)
    through_timelock(deployment, governance, [(metered, grant)])

    with pytest.raises(errors.DeploymentError) as failure:
        verify_roles(chain.provider.web3, deployment.info)

    problems = str(failure.value).splitlines()[1:]
    assert len(problems) == 1
    assert re.fullmatch(r"\s*deployer 0x[0-9a-fA-F]{40} still holds GOVERNOR_ROLE on MeteredEscrow: .*", problems[0])


def test_deployment_file_without_metered__loads_checks_and_keeps_its_abi_hash(handed_over, chain):
    """Files written before issue 12 record no MeteredEscrow: they still load, pass the check on
    the contracts they have, and their abiHash (over four contracts) still matches the SDK."""
    _, deployment = handed_over
    data = deployment.to_json()
    del data["contracts"]["MeteredEscrow"]
    old_abis = {name: load_artifact(name)["abi"] for name in PROTOCOL_CONTRACTS if name != "MeteredEscrow"}
    data["abiHash"] = abi_hash(old_abis)
    old = Deployment.model_validate(data)

    checks = role_checks(old)
    assert checks and not any(c.contract == "MeteredEscrow" for c in checks)
    contracts = {
        name: chain.provider.web3.eth.contract(address=old.contracts[name], abi=load_artifact(name)["abi"])
        for name in old.contracts
    }
    results, problems = check_deployment(old, lambda c, fn, args: getattr(contracts[c].functions, fn)(*args).call())
    assert problems == [] and all(r.ok for r in results)
    assert old.matches_sdk_abis()
    assert not Deployment.model_validate({**data, "abiHash": deployment.info.abi_hash}).matches_sdk_abis()


@pytest.mark.parametrize("delay", [0, 3_600, 7_200])  # the default uptime epoch is 3,600 s
def test_deploy__rewards_activation_delay_not_within_an_epoch__refused_before_deploying(
    accounts, chain, treasury, oracles, delay
):
    head = chain.blocks.head.number

    with pytest.raises(InvalidParameters, match="activation delay .* must be positive and below the epoch length"):
        deploy_protocol(
            accounts[8],
            treasury=treasury.address,
            oracles=[o.address for o in oracles],
            params={"rewards": {"activation_delay": delay}},
        )

    assert chain.blocks.head.number == head  # nothing was sent
