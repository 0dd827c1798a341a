"""Preconditions raise the named SDK exception before anything is sent (the nonce stays)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from computerails import Attestation, Signature, UptimeReport, eip712, errors
from tests.support.sdk import RESULT, SPEC, finish_sla_epoch, raises_unsent, warp, warp_to


def _att(rails, job, **overrides):
    fields = dict(
        job_id=job.id, provider=job.provider, success=True, units=10, result_hash=RESULT, deadline=rails.now() + 3_600
    )
    return Attestation(**{**fields, **overrides})


def _jail(w3, relayer_rails, provider, oracle_keys):
    report = UptimeReport(provider=provider, epoch=finish_sla_epoch(w3, relayer_rails), uptime_bps=0)
    relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))


# ───────────────────────── client ─────────────────────────


def test_create_job__no_tokens__insufficient_balance(client_rails, registered_provider):
    with raises_unsent(client_rails, errors.InsufficientBalance, match="holds 0 mUSD, needs 10"):
        client_rails.client.create_job(registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC)


def test_create_job__payment_none_without_allowance__insufficient_allowance(client_rails, registered_provider, faucet):
    faucet(client_rails, usd=100)
    with raises_unsent(client_rails, errors.InsufficientAllowance, match="may pull 0 mUSD .* needs 10"):
        client_rails.client.create_job(
            registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC, payment="none"
        )


@pytest.mark.parametrize(
    "deadline",
    [timedelta(0), timedelta(seconds=-60), timedelta(days=30, seconds=1)],
    ids=["now", "past", "beyond_max_duration"],
)
def test_create_job__deadline_out_of_range__invalid_deadline(client_rails, registered_provider, faucet, deadline):
    faucet(client_rails, usd=100)
    with raises_unsent(client_rails, errors.InvalidDeadline):
        client_rails.client.create_job(registered_provider.address, "0.10", 100, deadline, SPEC)


def test_create_job__token_not_allowlisted__precondition_error(client_rails, registered_provider, faucet, stk):
    faucet(client_rails, usd=100, stake=100)
    with raises_unsent(client_rails, errors.PreconditionError, match="not an allowed payment token"):
        client_rails.client.create_job(registered_provider.address, 1, 1, timedelta(hours=2), SPEC, token=stk.address)


def test_create_job__zero_price__precondition_error(client_rails, registered_provider, faucet):
    faucet(client_rails, usd=100)
    with raises_unsent(client_rails, errors.PreconditionError, match="must both be positive"):
        client_rails.client.create_job(registered_provider.address, 0, 10, timedelta(hours=2), SPEC)


def test_cancel__other_client__not_allowed(other_client_rails, make_job):
    job = make_job()
    with raises_unsent(other_client_rails, errors.NotAllowed, match="only job 1's client"):
        other_client_rails.client.cancel(job.id)


def test_cancel__accepted_job__wrong_job_state(client_rails, accepted_job):
    with raises_unsent(client_rails, errors.WrongJobState, match="job 1 is accepted; cancel needs it open"):
        client_rails.client.cancel(accepted_job.id)


def test_dispute__open_job__wrong_job_state(client_rails, make_job):
    job = make_job()
    with raises_unsent(client_rails, errors.WrongJobState, match="dispute needs it attested"):
        client_rails.client.dispute(job.id)


def test_dispute__challenge_window_closed__wrong_job_state(w3, client_rails, attested_job, faucet):
    faucet(client_rails, usd=5)
    warp(w3, 3_600)
    with raises_unsent(client_rails, errors.WrongJobState, match="challenge window closed"):
        client_rails.client.dispute(attested_job.id)


def test_reclaim_expired__open_job__wrong_job_state(client_rails, make_job):
    job = make_job()
    with raises_unsent(client_rails, errors.WrongJobState, match="is open"):
        client_rails.client.reclaim_expired(job.id)


def test_reclaim_expired__at_deadline__too_early(w3, client_rails, accepted_job):
    warp_to(w3, int(accepted_job.deadline.timestamp()))  # the latest block at the deadline
    assert client_rails.now() == int(accepted_job.deadline.timestamp())
    with raises_unsent(client_rails, errors.TooEarly):
        client_rails.client.reclaim_expired(accepted_job.id)


def test_withdraw__nothing_claimable__nothing_claimable(client_rails):
    with raises_unsent(client_rails, errors.NothingClaimable, match="nothing claimable in mUSD"):
        client_rails.client.withdraw()


# ───────────────────────── provider ─────────────────────────


def test_register__below_min_stake__insufficient_stake(provider_rails, faucet):
    faucet(provider_rails, stake=5_000)
    with raises_unsent(provider_rails, errors.InsufficientStake, match="at least 1000 mCRS"):
        provider_rails.provider.register("ipfs://meta", Decimal("999.999999999999999999"))


def test_register__no_tokens__insufficient_balance(provider_rails):
    with raises_unsent(provider_rails, errors.InsufficientBalance):
        provider_rails.provider.register("ipfs://meta", 1_000)


def test_register__twice__precondition_error(registered_provider):
    with raises_unsent(registered_provider, errors.PreconditionError, match="already registered"):
        registered_provider.provider.register("ipfs://again", 1_000)


@pytest.mark.parametrize("call", ["stake", "request_unbond"])
def test_stake_and_unbond__unregistered__not_allowed(provider_rails, faucet, call):
    faucet(provider_rails, stake=100)
    with raises_unsent(provider_rails, errors.NotAllowed, match="not a registered provider"):
        getattr(provider_rails.provider, call)(10)


def test_request_unbond__more_than_free__insufficient_stake(registered_provider, accepted_job):
    with raises_unsent(registered_provider, errors.InsufficientStake, match="up to 1995"):
        registered_provider.provider.request_unbond("1995.000000000000000001")


def test_withdraw_unbonded__before_delay__too_early(w3, registered_provider):
    registered_provider.provider.request_unbond(100)
    warp(w3, 7 * 86_400 - 10)
    with raises_unsent(registered_provider, errors.TooEarly, match="unbonding ends at"):
        registered_provider.provider.withdraw_unbonded()


def test_accept__other_provider__not_allowed(other_provider_rails, make_job):
    job = make_job()
    with raises_unsent(other_provider_rails, errors.NotAllowed, match="is for provider"):
        other_provider_rails.provider.accept(job.id)


def test_accept__cancelled_job__wrong_job_state(client_rails, registered_provider, make_job):
    job = make_job()
    client_rails.client.cancel(job.id)
    with raises_unsent(registered_provider, errors.WrongJobState, match="is cancelled"):
        registered_provider.provider.accept(job.id)


def test_accept__after_accept_window__wrong_job_state(w3, registered_provider, make_job):
    job = make_job()
    warp(w3, 3_601)
    with raises_unsent(registered_provider, errors.WrongJobState, match="accept window closed"):
        registered_provider.provider.accept(job.id)


def test_accept__jailed__provider_jailed(w3, registered_provider, make_job, relayer_rails, oracle_keys):
    _jail(w3, relayer_rails, registered_provider.address, oracle_keys)
    job = make_job()
    with raises_unsent(registered_provider, errors.ProviderJailed, match="is jailed"):
        registered_provider.provider.accept(job.id)


def test_accept__collateral_above_free_stake__insufficient_stake(registered_provider, make_job):
    job = make_job(units=4_001, price=1)  # 4 001 mUSD escrow -> 2 000.5 collateral > 2 000 free
    with raises_unsent(registered_provider, errors.InsufficientStake, match="needs 2000.5 mCRS"):
        registered_provider.provider.accept(job.id)


def test_unjail__below_min_stake__insufficient_stake(w3, provider_rails, faucet, relayer_rails, oracle_keys):
    faucet(provider_rails, stake=1_000)
    provider_rails.provider.register("ipfs://meta", 1_000)
    _jail(w3, relayer_rails, provider_rails.address, oracle_keys)
    with raises_unsent(provider_rails, errors.InsufficientStake, match="top up to 1000"):
        provider_rails.provider.unjail()


def test_unjail__not_jailed__precondition_error(registered_provider):
    with raises_unsent(registered_provider, errors.PreconditionError, match="is not jailed"):
        registered_provider.provider.unjail()


# ───────────────────────── oracle ─────────────────────────


@pytest.fixture
def quorum(relayer_rails, accepted_job, oracle_keys):
    """(attestation, two valid oracle signatures) for the accepted job."""
    att = _att(relayer_rails, accepted_job)
    return att, relayer_rails.oracle.collect_signatures(att, oracle_keys)


def test_submit_attestation__same_signer_twice__invalid_signatures(relayer_rails, quorum):
    att, (a, b) = quorum
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="2 distinct oracles, got 1"):
        relayer_rails.oracle.submit_attestation(att, [a, a])
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="appears twice"):
        relayer_rails.oracle.submit_attestation(att, [a, b, a])


def test_submit_attestation__non_oracle_signer__invalid_signatures(relayer_rails, quorum):
    att, (a, _) = quorum
    stranger = relayer_rails.oracle.sign_attestation(att)  # the relayer is no oracle
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match=f"{stranger.signer} is not a current oracle"):
        relayer_rails.oracle.submit_attestation(att, [a, stranger])


def test_submit_attestation__signature_over_other_data__invalid_signatures(relayer_rails, quorum, oracle_keys):
    att, (a, _) = quorum
    other = relayer_rails.oracle.sign_attestation(att.model_copy(update={"units": 11}), oracle_keys[1])
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="wrong data or key"):
        relayer_rails.oracle.submit_attestation(att, [a, other])


def test_submit_attestation__too_few__invalid_signatures(relayer_rails, quorum):
    att, (a, _) = quorum
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="got 1"):
        relayer_rails.oracle.submit_attestation(att, [a])


def test_submit_attestation__high_s_twin__invalid_signatures(relayer_rails, quorum):
    att, (a, b) = quorum
    r, s, v = a.raw[:32], int.from_bytes(a.raw[32:64], "big"), a.raw[64]
    n = 2 * eip712.SECP256K1_HALF_N + 1
    twin = Signature(signer=a.signer, signature="0x" + (r + (n - s).to_bytes(32, "big") + bytes([55 - v])).hex())
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="upper half"):
        relayer_rails.oracle.submit_attestation(att, [twin, b])


def test_submit_attestation__expired_or_open_job__precondition_errors(relayer_rails, make_job, quorum, oracle_keys):
    att, sigs = quorum
    old = att.model_copy(update={"deadline": relayer_rails.now() - 1})
    with raises_unsent(relayer_rails, errors.PreconditionError, match="has passed"):
        relayer_rails.oracle.submit_attestation(old, relayer_rails.oracle.collect_signatures(old, oracle_keys))
    job = make_job()
    open_att = _att(relayer_rails, job)
    with raises_unsent(relayer_rails, errors.WrongJobState, match="is open"):
        relayer_rails.oracle.submit_attestation(
            open_att, relayer_rails.oracle.collect_signatures(open_att, oracle_keys)
        )


def test_submit_uptime_report__epoch_not_ended__precondition_error(relayer_rails, registered_provider, oracle_keys):
    report = UptimeReport(provider=registered_provider.address, epoch=relayer_rails.views.current_epoch(), uptime_bps=0)
    with raises_unsent(relayer_rails, errors.PreconditionError, match="has not ended"):
        relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))


def test_submit_attestation__oracle_set_changed_after_signing__stale_signatures_then_signs_current(
    connect, relayer_rails, quorum, oracle_keys
):
    """Issue 9, item 7: signatures made under an earlier oracle configuration are refused before
    anything is sent, and the SDK then signs under the current one by itself."""
    att, sigs = quorum
    signed = relayer_rails.oracle.prepare(att)
    assert signed.config_version == 1
    governance = connect(0)  # a direct governor on the test deployment
    governance.send(governance.hub.functions.setThreshold(2), "setThreshold")  # same threshold, new version

    with raises_unsent(
        relayer_rails, errors.StaleSignatures, match="signed under oracle configuration 1, the hub is at 2"
    ):
        relayer_rails.oracle.submit_attestation(signed, sigs)

    # the refusal refreshed the cached configuration: a statement left to the SDK is signed under 2
    assert relayer_rails.oracle.prepare(att).config_version == 2
    relayer_rails.oracle.submit_attestation(att, relayer_rails.oracle.collect_signatures(att, oracle_keys))
