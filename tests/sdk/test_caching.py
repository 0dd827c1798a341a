"""Per-connection caches and the cheaper pre-send simulation: a cached value never makes the SDK
refuse a call on its own, a stale one only lets the simulation refuse it, and a simulation
bounded by a known gas limit falls back to eth_estimateGas whenever it fails."""

from datetime import timedelta
from decimal import Decimal

from computerails import Attestation, errors
from computerails.client import MAX_UINT
from tests.support.sdk import GOVERNANCE, RESULT, SPEC, raises_unsent, warp

RATE = 10**18  # 1 staking-token unit of collateral per payment-token unit


def _approve_all(rails, token):
    rails.send(rails.erc20(token.address).functions.approve(rails.escrow.address, MAX_UINT), "approve")


def _set_payment_token(connect, token, allowed):
    governance = connect(GOVERNANCE)
    governance.send(governance.escrow.functions.setPaymentToken(token, allowed, RATE), "setPaymentToken")


def test_create_job__token_disallowed_while_cached__simulation_refuses_nothing_sent(
    connect, client_rails, registered_provider, faucet, usd
):
    faucet(client_rails, usd=100)
    client_rails.client.create_job(
        registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC
    )  # caches "allowed"
    _set_payment_token(connect, usd.address, False)

    with raises_unsent(client_rails, errors.TokenNotAllowed):
        client_rails.client.create_job(registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC)
    assert client_rails.views.payment_token(usd.address)["allowed"] is True  # still the cached entry
    assert client_rails.views.payment_token(usd.address, fresh=True)["allowed"] is False
    uncached = connect(3, cache_ttl=0)
    with raises_unsent(uncached, errors.PreconditionError, match="not an allowed payment token"):
        uncached.client.create_job(registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC)


def test_create_job__token_allowed_after_cached_refusal__read_again_and_created(
    connect, client_rails, registered_provider, faucet, stk
):
    faucet(client_rails, usd=10, stake=10)
    with raises_unsent(client_rails, errors.PreconditionError, match="not an allowed payment token"):
        client_rails.client.create_job(registered_provider.address, 1, 2, timedelta(hours=2), SPEC, token=stk.address)
    _set_payment_token(connect, stk.address, True)

    job = client_rails.client.create_job(registered_provider.address, 1, 2, timedelta(hours=2), SPEC, token=stk.address)

    assert (job.token, job.escrow) == (stk, Decimal(2))


def test_create_job__learned_gas_limit_too_low__falls_back_to_estimate_and_sends(
    w3, client_rails, registered_provider, faucet, usd
):
    faucet(client_rails, usd=100)
    _approve_all(client_rails, usd)  # plain createJob, no permit
    client_rails.client.create_job(registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC)
    manager = client_rails.tx
    assert manager._limits  # learned from the first createJob's estimate
    for key in manager._limits:
        manager._limits[key] = 30_000  # far below what createJob needs: the bounded eth_call runs out of gas

    job = client_rails.client.create_job(registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC)

    sent = manager.sent[-1]
    assert sent.label == "createJob" and job.id == 2
    assert w3.eth.get_transaction(sent.tx_hash)["gas"] > sent.gas_used > 30_000
    assert max(manager._limits.values()) > sent.gas_used  # the estimate's limit replaced the bad one


def test_accept__learned_limit_then_paused__decoded_revert_nothing_sent(connect, registered_provider, make_job):
    registered_provider.provider.accept(make_job().id)  # learns the accept limit
    job = make_job()
    governance = connect(GOVERNANCE)
    governance.send(governance.escrow.functions.pause(), "pause")

    with raises_unsent(registered_provider, errors.EnforcedPause):
        registered_provider.provider.accept(job.id)


def test_submit_attestation__oracle_removed_while_cached__simulation_refuses_nothing_sent(
    connect, relayer_rails, make_job, registered_provider, oracle_keys
):
    first, second = (registered_provider.provider.accept(make_job().id) for _ in range(2))
    relayer_rails.oracle.attest(
        first.id, success=True, units=10, result_hash=RESULT, signers=oracle_keys
    )  # caches the set
    att = Attestation(
        job_id=second.id,
        provider=second.provider,
        success=True,
        units=10,
        result_hash=RESULT,
        deadline=relayer_rails.now() + 600,
    )
    signatures = relayer_rails.oracle.collect_signatures(att, oracle_keys)  # the first two oracles sign
    governance = connect(GOVERNANCE)
    governance.send(governance.hub.functions.removeOracle(signatures[0].signer), "removeOracle")

    # the removal bumped the oracle configuration: the old signatures are refused before sending,
    # whether the connection's cached configuration is stale or fresh
    with raises_unsent(relayer_rails, errors.StaleSignatures, match="configuration 1, the hub is at 2"):
        relayer_rails.oracle.submit_attestation(att, signatures)
    with raises_unsent(relayer_rails, errors.StaleSignatures, match="configuration 1, the hub is at 2"):
        connect(7, cache_ttl=0).oracle.submit_attestation(att, signatures)
    # signed again under the new configuration, the removed oracle's signature is named as such
    fresh = att.model_copy(update={"config_version": None})
    resigned = relayer_rails.oracle.collect_signatures(fresh, oracle_keys)
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="is not a current oracle"):
        relayer_rails.oracle.submit_attestation(fresh, resigned)


def test_create_job__clock_moved_since_last_read__deadline_from_the_new_clock(
    w3, client_rails, registered_provider, faucet, usd
):
    faucet(client_rails, usd=100)
    _approve_all(client_rails, usd)  # plain createJob: simulated along with the reads, from the last clock seen
    client_rails.client.create_job(registered_provider.address, "0.10", 10, timedelta(hours=2), SPEC)
    warp(w3, 1_000)  # the clock the connection saw last is stale now
    now = client_rails.now()
    client_rails._chain_time = now - 1_000  # as if that read had not happened

    job = client_rails.client.create_job(registered_provider.address, "0.10", 10, timedelta(hours=2), SPEC)

    assert int(job.deadline.timestamp()) == now + 7_200
    assert client_rails.views.job(job.id).deadline == job.deadline
