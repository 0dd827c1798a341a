"""Views: read-only state, typed (Decimal amounts, aware UTC datetimes, JobStatus)."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from eth_account import Account

from computerails import JobStatus, UptimeReport
from tests.support.sdk import RESULT, finish_sla_epoch, warp


def test_job__attested__typed_fields(readonly, attested_job, usd):
    job = readonly.views.job(attested_job.id)

    assert job.status is JobStatus.ATTESTED and job.token == usd
    assert all(isinstance(v, Decimal) for v in (job.unit_price, job.escrow, job.collateral, job.dispute_bond))
    assert (job.unit_price, job.escrow, job.collateral, job.units) == (Decimal("0.1"), Decimal(10), Decimal(5), 80)
    assert all(t.tzinfo is timezone.utc for t in (job.deadline, job.challenge_ends))
    assert job.accept_by is None and job.dispute_ends is None  # timers not in force in this state
    assert readonly.views.job_status(attested_job.id) is JobStatus.ATTESTED


def test_job__unknown_id__key_error_and_status_none(readonly):
    with pytest.raises(KeyError, match="job 99 does not exist"):
        readonly.views.job(99)
    assert readonly.views.job_status(99) is JobStatus.NONE
    assert readonly.views.job_count() == 0


def test_jobs__filtered_by_client_and_provider__matching_subsets(
    readonly, make_job, client_rails, other_client_rails, registered_provider, other_provider_rails
):
    a = make_job()
    b = make_job(provider=other_provider_rails.address)
    c = make_job(rails=other_client_rails)

    assert readonly.views.job_count() == 3
    assert [j.id for j in readonly.views.jobs()] == [a.id, b.id, c.id]
    assert [j.id for j in readonly.views.jobs(client=client_rails.address)] == [a.id, b.id]
    assert [j.id for j in readonly.views.jobs(provider=registered_provider.address)] == [a.id, c.id]
    assert [
        j.id for j in readonly.views.jobs(client=client_rails.address.lower(), provider=other_provider_rails.address)
    ] == [b.id]
    client_rails.client.cancel(a.id)
    assert readonly.views.jobs(client=client_rails.address)[0].status is JobStatus.CANCELLED  # current state


def test_jobs_by_id__given_order__one_batch_equals_single_reads_and_unknown_id_key_error(
    readonly, make_job, client_rails, registered_provider
):
    a, b, c = make_job(), make_job(), make_job()
    client_rails.client.cancel(b.id)

    read = readonly.views.jobs_by_id([c.id, a.id, b.id])

    assert read == [readonly.views.job(c.id), readonly.views.job(a.id), readonly.views.job(b.id)]
    assert [j.status for j in read] == [JobStatus.OPEN, JobStatus.OPEN, JobStatus.CANCELLED]
    assert readonly.views.jobs_by_id([]) == []
    assert readonly.views.jobs_by_id([a.id, c.id, a.id]) == [read[1], read[0], read[1]]  # a repeated id: read once
    with pytest.raises(KeyError, match="does not exist"):
        readonly.views.jobs_by_id([a.id, 99])


def test_provider__unbonding__figures_and_utc_end(readonly, registered_provider, accepted_job):
    registered_provider.provider.request_unbond(100)

    status = readonly.views.provider(registered_provider.address.lower())

    assert status.address == registered_provider.address
    assert (status.staked, status.locked, status.free, status.unbonding) == (
        Decimal(1_900),
        Decimal(5),
        Decimal(1_895),
        Decimal(100),
    )
    assert status.unbonding_end == datetime.fromtimestamp(readonly.now() + 7 * 86_400, tz=timezone.utc)
    assert (status.registered, status.active, status.total_deposited) == (True, True, Decimal(2_000))


def test_claimable__settled_job__provider_client_treasury_shares(
    w3, readonly, attested_job, client_rails, registered_provider, usd, stk
):
    warp(w3, 3_600)
    client_rails.send(client_rails.escrow.functions.settle(attested_job.id), "settle")
    treasury = readonly.deployment.roles["treasury"]

    assert readonly.views.claimable(registered_provider.address) == {usd: Decimal("7.8"), stk: Decimal(0)}
    assert readonly.views.claimable(client_rails.address) == {usd: Decimal(2), stk: Decimal(0)}
    assert readonly.views.claimable(treasury)[usd] == Decimal("0.2")
    assert readonly.views.claimable_raw(registered_provider.address) == {
        usd: {"escrow": 7_800_000, "metered": 0},
        stk: {"staking": 0, "escrow": 0},
    }


def test_wallet_and_balances__funded_client__by_symbol(readonly, client_rails, faucet, make_job, usd, stk):
    faucet(client_rails, usd=50, stake=3)
    job = make_job()
    client_rails.client.cancel(job.id)

    assert readonly.views.wallet(client_rails.address) == Decimal(50)
    assert readonly.views.wallet(client_rails.address, stk.address) == Decimal(3)
    assert readonly.views.balances(client_rails.address) == {
        "mUSD": {"wallet": Decimal(50), "claimable": Decimal(10)},
        "mCRS": {"wallet": Decimal(3), "claimable": Decimal(0)},
    }


def test_payment_tokens__local_deployment__mock_usd_allowed(readonly, usd, stk):
    assert readonly.views.payment_tokens() == [usd]
    assert (usd.symbol, usd.decimals, stk.symbol, stk.decimals) == ("mUSD", 6, "mCRS", 18)
    assert readonly.views.payment_token(usd.address.lower()) == {
        "id": 0,
        "registered": True,
        "allowed": True,
        "collateral_rate": 5 * 10**29,
    }
    assert readonly.views.payment_token(stk.address) == {
        "id": 0,
        "registered": False,
        "allowed": False,
        "collateral_rate": 0,
    }


def test_params__local_deployment__documented_defaults(readonly, oracle_keys):
    params = readonly.views.params()

    assert params["escrow"] == {
        "fee_bps": 250,
        "accept_window": 3_600,
        "challenge_window": 3_600,
        "dispute_timeout": 3 * 86_400,
        "max_job_duration": 30 * 86_400,
        "dispute_bond_bps": 1_000,
        "client_slash_share_bps": 5_000,
        "treasury": readonly.deployment.roles["treasury"],
        "paused": False,
    }
    assert params["staking"] == {
        "min_stake": 1_000 * 10**18,
        "unbonding_delay": 7 * 86_400,
        "treasury": readonly.deployment.roles["treasury"],
    }
    assert (
        params["uptime"]
        == readonly.views.uptime_params()
        == {
            "epoch_length": 3_600,
            "statute_epochs": 24,
            "sla_bps": 9_500,
            "uptime_slash_bps": 500,
            "uptime_slash_cap": 500 * 10**18,
            "relayer_reward_bps": 1_000,
            "relayer_reward_cap": 10 * 10**18,
        }
    )
    assert (
        params["oracles"]
        == readonly.views.oracle_set()
        == {
            "oracles": [Account.from_key(k).address for k in oracle_keys],
            "threshold": 2,
            "config_version": 1,
        }
    )


def test_current_epoch_and_is_reported__after_one_epoch__advances(
    w3, readonly, relayer_rails, registered_provider, oracle_keys
):
    start = readonly.views.current_epoch() + 1  # the first epoch fully after the registration
    assert finish_sla_epoch(w3, readonly) == start
    assert readonly.views.current_epoch() == start + 1
    assert not readonly.views.is_reported(registered_provider.address, start)

    report = UptimeReport(provider=registered_provider.address, epoch=start, uptime_bps=10_000)
    relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))

    assert readonly.views.is_reported(registered_provider.address, start)
    assert not readonly.views.is_reported(registered_provider.address, start + 1)


def test_totals__stake_unbonding_slash_proceeds__protocol_wide(
    readonly, registered_provider, other_provider_rails, faucet, accepted_job, relayer_rails, oracle_keys
):
    faucet(other_provider_rails, stake=1_500)
    other_provider_rails.provider.register("ipfs://other", 1_500)
    registered_provider.provider.request_unbond(300)
    relayer_rails.oracle.attest(accepted_job.id, success=False, units=0, result_hash=RESULT, signers=oracle_keys)

    # 2 000 + 1 500 staked, 300 unbonding, the 5-token collateral slashed: half to the client
    # (claimable), half to the treasury (claimable too)
    assert readonly.views.totals() == {"staked": Decimal(3_195), "unbonding": Decimal(300), "claimable": Decimal(5)}
