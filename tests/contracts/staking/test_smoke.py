from tests.conftest import STAKE


def test_register__first_stake__recorded(protocol, staking, provider):
    receipt = protocol.register(provider, 2_000 * STAKE)
    view = staking.providerInfo(provider)
    assert view.registered and not view.jailed
    assert view.staked == 2_000 * STAKE
    assert receipt.events.filter(staking.ProviderRegistered)[0].amount == 2_000 * STAKE


def test_job__happy_path__settles(protocol, escrow, attested_job, usd, registered_provider):
    protocol.warp(3_600)
    escrow.settle(attested_job, sender=registered_provider)
    assert escrow.jobStatus(attested_job) == 5
    assert escrow.claimable(registered_provider, usd) == 6 * 10**6 - 6 * 10**6 * 250 // 10_000
