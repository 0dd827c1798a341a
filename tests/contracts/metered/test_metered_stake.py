"""Stake backs the answers: every collection locks `gross × stakeRatio` of the provider's free
stake in ProviderStaking for the dispute window (two buckets by release time), releases expired
locks as it goes, and refuses (collect) or skips (collectMany) a payment free stake cannot back.
Uptime slashes never eat the lock (issue 9's obligation rule)."""

from tests.support.metered import DISPUTE_WINDOW, STAKE, USD, stake_for


def release_of(timestamp):
    """The release time of a lock taken at `timestamp`: the second window boundary after it."""
    return (timestamp // DISPUTE_WINDOW + 2) * DISPUTE_WINDOW


def lock_of(metered, provider):
    v = metered.stakeLock(provider)
    return (v.current, v.currentRelease, v.previous, v.previousRelease)


def test_collect__locks_stake_for_fees_until_the_second_window_boundary(
    metered, staking, chain, client, provider, funded, make_voucher
):
    before = staking.providerInfo(provider).locked
    v, sig = make_voucher(client, provider, valueAggregate=4 * USD)
    receipt = metered.collect(v.args(), sig, sender=provider)
    when = chain.blocks.head.timestamp
    assert lock_of(metered, provider) == (stake_for(4 * USD), release_of(when), 0, 0)
    assert staking.providerInfo(provider).locked == before + stake_for(4 * USD) == 20 * STAKE
    assert [(e.amount, e.locked) for e in receipt.events.filter(staking.CollateralLocked)] == [
        (20 * STAKE, before + 20 * STAKE)
    ]
    assert release_of(when) - when >= DISPUTE_WINDOW  # held for at least the dispute window


def test_collect__same_window__adds_to_the_bucket(metered, staking, chain, client, provider, funded, make_voucher):
    for value in (1, 3):
        v, sig = make_voucher(client, provider, valueAggregate=value * USD)
        metered.collect(v.args(), sig, sender=provider)
    when = chain.blocks.head.timestamp
    current, release, previous, _ = lock_of(metered, provider)
    assert (current, previous) == (stake_for(3 * USD), 0)
    assert release == release_of(when)
    assert metered.stakeLock(provider).releasable == 0


def test_collect__next_window__moves_the_bucket_to_previous__then_releases_it_on_time(
    metered, staking, chain, client, provider, funded, make_voucher
):
    v1, s1 = make_voucher(client, provider, valueAggregate=1 * USD)
    metered.collect(v1.args(), s1, sender=provider)
    first_release = lock_of(metered, provider)[1]
    chain.pending_timestamp = first_release - 1  # the next window, the first lock still held
    v2, s2 = make_voucher(client, provider, valueAggregate=3 * USD)
    metered.collect(v2.args(), s2, sender=provider)
    assert lock_of(metered, provider) == (
        stake_for(2 * USD),
        first_release + DISPUTE_WINDOW,
        stake_for(USD),
        first_release,
    )
    chain.pending_timestamp = first_release
    v3, s3 = make_voucher(client, provider, valueAggregate=4 * USD)
    receipt = metered.collect(v3.args(), s3, sender=provider)
    released = [e.amount for e in receipt.events.filter(staking.CollateralReleased)]
    assert released == [stake_for(USD)]
    # the 2 USD lock becomes the previous bucket, the new 1 USD one the current
    assert lock_of(metered, provider) == (
        stake_for(USD),
        first_release + 2 * DISPUTE_WINDOW,
        stake_for(2 * USD),
        first_release + DISPUTE_WINDOW,
    )
    assert staking.providerInfo(provider).locked == stake_for(3 * USD)


def test_release_stake__anyone_after_the_window__frees_it(
    metered, staking, chain, client, provider, attacker, funded, make_voucher, reverts
):
    v, sig = make_voucher(client, provider, valueAggregate=2 * USD)
    metered.collect(v.args(), sig, sender=provider)
    with reverts(metered.NothingToRelease, provider=provider):
        metered.releaseStake(provider, sender=attacker)
    chain.pending_timestamp = lock_of(metered, provider)[1]
    chain.mine()
    assert metered.stakeLock(provider).releasable == stake_for(2 * USD)
    metered.releaseStake(provider, sender=attacker)
    assert lock_of(metered, provider) == (0, 0, 0, 0)
    assert staking.providerInfo(provider).locked == 0
    # and the stake is free again: the provider can unbond all of it
    staking.requestUnbond(staking.providerInfo(provider).staked, sender=provider)


def test_collect__free_stake_cannot_back_it__insufficient_free_stake(
    metered, staking, client, provider, funded, make_voucher, reverts
):
    free = staking.providerInfo(provider).free
    staking.requestUnbond(free - stake_for(USD), sender=provider)  # leaves stake for 1 USD
    v, sig = make_voucher(client, provider, valueAggregate=2 * USD)
    with reverts(staking.InsufficientFreeStake, free=stake_for(USD), requested=stake_for(2 * USD)):
        metered.collect(v.args(), sig, sender=provider)
    v1, s1 = make_voucher(client, provider, valueAggregate=USD)
    metered.collect(v1.args(), s1, sender=provider)  # what free stake covers is collectable


def test_collect_many__skips_what_free_stake_cannot_back__pays_the_rest(
    metered, staking, client, other_client, provider, fund, make_voucher, error_data
):
    fund(client, provider)
    fund(other_client, provider)
    free = staking.providerInfo(provider).free
    staking.requestUnbond(free - stake_for(3 * USD), sender=provider)
    a, sa = make_voucher(client, provider, valueAggregate=2 * USD)
    b, sb = make_voucher(other_client, provider, valueAggregate=2 * USD)
    c, sc = make_voucher(other_client, provider, collectionId=b"\x09" * 32, valueAggregate=USD)
    receipt = metered.collectMany([a.args(), b.args(), c.args()], [sa, sb, sc], sender=provider)
    (skip,) = receipt.events.filter(metered.VoucherSkipped)
    assert skip.index == 1
    assert skip.reason == error_data(staking.InsufficientFreeStake, free=stake_for(USD), requested=stake_for(2 * USD))
    assert staking.providerInfo(provider).locked == stake_for(3 * USD)
    assert metered.stakeLock(provider).current == stake_for(3 * USD)


def test_collect__unregistered_provider__no_stake_to_back_it(
    metered, staking, client, relayer, fund, make_voucher, reverts
):
    stranger = relayer
    fund(client, stranger)
    v, sig = make_voucher(client, stranger, valueAggregate=USD)
    with reverts(staking.InsufficientFreeStake, free=0, requested=stake_for(USD)):
        metered.collect(v.args(), sig, sender=stranger)


def test_collect__jailed_provider__still_paid_for_answers_served(
    metered, staking, governance, client, provider, funded, make_voucher
):
    staking.grantRole(staking.SLASHER_ROLE(), governance, sender=governance)
    staking.slash(provider, STAKE, "0x" + "00" * 20, 0, 0, sender=governance)
    assert staking.providerInfo(provider).jailed
    v, sig = make_voucher(client, provider, valueAggregate=USD)
    metered.collect(v.args(), sig, sender=provider)
    assert metered.stakeLock(provider).current == stake_for(USD)


def test_uptime_slash__never_eats_the_lock__shortfall_paid_when_it_is_released(
    metered, staking, chain, governance, treasury, client, provider, funded, make_voucher
):
    v, sig = make_voucher(client, provider, valueAggregate=2 * USD)
    metered.collect(v.args(), sig, sender=provider)
    locked = stake_for(2 * USD)
    staking.grantRole(staking.SLASHER_ROLE(), governance, sender=governance)
    staked = staking.providerInfo(provider).staked
    staking.slash(provider, staked, "0x" + "00" * 20, 0, 0, sender=governance)  # asks for everything
    info = staking.providerInfo(provider)
    assert (info.staked, info.locked, info.shortfall) == (locked, locked, locked)
    assert metered.stakeLock(provider).current == locked
    chain.pending_timestamp = metered.stakeLock(provider).currentRelease
    receipt = metered.releaseStake(provider, sender=client)
    assert [(e.amount, e.remaining) for e in receipt.events.filter(staking.ShortfallPaid)] == [(locked, 0)]
    info = staking.providerInfo(provider)
    assert (info.staked, info.locked, info.shortfall) == (0, 0, 0)


def test_collect__lock_past_96_bits__stake_lock_too_large(
    metered, governance, usd, client, provider, fund, make_voucher, reverts
):
    metered.setPaymentToken(usd, True, 2**120 - 1, sender=governance)
    fund(client, provider, 1_000_000 * USD)
    v, sig = make_voucher(client, provider, valueAggregate=1_000_000 * USD)
    lock = -(-1_000_000 * USD * (2**120 - 1) // 10**18)  # rounded up
    with reverts(metered.StakeLockTooLarge, max=2**96 - 1, value=lock):
        metered.collect(v.args(), sig, sender=provider)


def test_claim__treasury__takes_the_fees_accrued_per_token(
    metered, usd, treasury, client, provider, funded, make_voucher, reverts
):
    v, sig = make_voucher(client, provider, valueAggregate=40 * USD)
    metered.collect(v.args(), sig, sender=provider)
    fees = 40 * USD * 250 // 10_000
    assert metered.feesAccrued(usd) == metered.claimable(treasury, usd) == fees
    before = usd.balanceOf(treasury)
    metered.claim(usd, sender=treasury)
    assert usd.balanceOf(treasury) - before == fees
    assert metered.feesAccrued(usd) == metered.claimable(treasury, usd) == 0
    with reverts(metered.NothingToWithdraw, account=treasury, token=usd):
        metered.claim(usd, sender=treasury)


def test_collect__stake_ratio_below_one__tiny_payment_still_locks_stake_stranger_refused(
    metered, staking, governance, usd, client, relayer, provider, fund, make_voucher, reverts
):
    """The lock rounds up: with a ratio below 1e18 (a payment token with more decimals than the
    stake token) a 1-unit payment still locks 1 stake unit, so a provider without stake is never
    paid, however small the voucher."""
    metered.setPaymentToken(usd, True, 10**12, sender=governance)
    assert metered.stakeFor(usd, 1) == 1
    fund(client, relayer, USD)
    v, sig = make_voucher(client, relayer, valueAggregate=1)
    with reverts(staking.InsufficientFreeStake, free=0, requested=1):
        metered.collect(v.args(), sig, sender=relayer)
    fund(client, provider, USD)
    w, wsig = make_voucher(client, provider, valueAggregate=1)
    metered.collect(w.args(), wsig, sender=provider)
    assert metered.stakeLock(provider).current == 1
