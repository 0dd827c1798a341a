"""The keeper's job duties as a process against kp_anvil: jobs whose challenge window ended are
settled in one settleMany when their value is worth the gas (alone, or as their share of a batch
that goes anyway) or a watched party is in them; a job not worth it is left with the reason in
the log and /metrics; an accepted job past its deadline is reclaimed; another client's job left
open is not touched (its own is cancelled); a restart resumes from the block cursor instead of
scanning again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from computerails import JobStatus
from computerails.devnet import dev_key
from computerails.errors import AgentConfigError, AgentStateMismatch
from computerails.keeper_node.config import KeeperSettings
from computerails.keeper_node.duties import Keeper, token_prices
from computerails.keeper_node.metrics import KeeperMetrics
from computerails.keeper_node.store import KeeperStore
from tests.keeper_node.conftest import KEEPER, PRICES, mint, registered
from tests.support.sdk import CLIENT, ORACLES, OTHER_CLIENT, PROVIDER, RELAYER, RESULT, SPEC, warp
from tests.support.wait import wait_until

HOUR = 3_600
OWN_JOB_PROVIDER = 15  # a provider only the cancel test uses


def settled_events(rails, job_ids) -> dict[int, str]:
    """Job id -> the hash of the transaction that settled it, from the escrow's logs."""
    escrow = rails.escrow.address
    logs = rails.w3.eth.get_logs({"address": escrow, "fromBlock": 0, "toBlock": "latest"})
    out = {}
    for entry in logs:
        for event in rails.abi["JobEscrow"].events["JobSettled"].logs({"logs": [entry]}, escrow):
            if event["jobId"] in job_ids:
                out[int(event["jobId"])] = "0x" + bytes(entry["transactionHash"]).hex()
    return out


def test_keeper__settles_in_one_batch__skips_not_worth_it__reclaims_expired__resumes_from_cursor(
    make_keeper, kp_connect, kp_w3
):
    provider = registered(kp_connect, PROVIDER)
    client, watched_client = kp_connect(CLIENT), kp_connect(OTHER_CLIENT)
    mint(client, usd=100)
    mint(watched_client, usd=1)
    day = timedelta(days=1)

    def job(rails, price: str, units: int, deadline: timedelta = day) -> int:
        return int(rails.client.create_job(provider.address, Decimal(price), units, deadline, SPEC).id)

    big = [job(client, "0.10", 100), job(client, "0.10", 100)]  # 10 mUSD each: worth a settle
    medium = job(client, "0.001", 100)  # 0.1 mUSD: not worth a settle alone, worth joining a batch
    tiny = job(client, "0.000001", 1)  # one raw unit: not worth even its share of a batch
    watched = job(watched_client, "0.000001", 1)  # as tiny, but its client is a watched party
    expiring = job(client, "0.10", 100, timedelta(minutes=10))
    unaccepted = job(client, "0.10", 10)
    for job_id in [*big, medium, tiny, watched, expiring]:
        provider.provider.accept(job_id)
    oracle = kp_connect(RELAYER).oracle
    for job_id in [*big, medium, tiny, watched]:
        oracle.attest(job_id, success=True, units=1, result_hash=RESULT, signers=[dev_key(i) for i in ORACLES])
    warp(kp_w3, 2 * HOUR)  # past the challenge windows (1 h), the expiring deadline and the accept window

    keeper = make_keeper(parties=[watched_client.address]).start()

    wait_until(lambda: keeper.metric("computerails_keeper_jobs_settled_total") == 4, "four jobs settled")
    wait_until(
        lambda: keeper.metric("computerails_keeper_jobs_reclaimed_total", 'how="reclaim"') == 1, "the expired job"
    )
    views = provider.views
    assert [views.job_status(i) for i in [*big, medium, watched]] == [JobStatus.SETTLED] * 4
    assert views.job_status(expiring) is JobStatus.EXPIRED
    assert views.job_status(tiny) is JobStatus.ATTESTED  # not worth the gas, nobody watches it
    assert views.job_status(unaccepted) is JobStatus.OPEN  # only its client may cancel it
    (batch,) = set(settled_events(provider, {*big, medium, watched}).values())  # one settleMany for all four
    assert keeper.metric("computerails_keeper_skipped_not_worth_gas_total", 'action="settle"') == 1
    assert keeper.metric("computerails_keeper_gas_spent_wei_total", 'action="settle"') > 0
    assert keeper.metric("computerails_keeper_gas_spent_wei_total", 'action="reclaim"') > 0
    # The pass that sent the settle and the reclaim scanned the chain before them: the cursor
    # reaches the head once a whole pass has begun after they were mined.
    passes = keeper.health()["passes"]
    wait_until(lambda: keeper.health()["passes"] >= passes + 2, "a whole pass after its own transactions")
    text = keeper.log.read_text()
    assert f"job {tiny} not worth settling (in a batch): moves 0.000001 mUSD; 16000 gas at" in text
    assert f"job {unaccepted} left alone: open past its accept window: only its client may cancel it" in text
    assert keeper.stop() == 0

    store = KeeperStore(keeper.config.parent / "data" / "keeper.sqlite")
    cursor = store.last_block()
    journal = [(e.action, e.status, e.tx_hash) for e in store.journal()]
    store.close()
    assert ("settle", "mined", batch) in journal and len(journal) == 2
    assert cursor is not None and cursor >= kp_w3.eth.get_block("latest")["number"] - 1

    keeper.start()  # resumes after the cursor: nothing scanned twice, nothing sent again
    wait_until(lambda: keeper.health()["passes"] >= 2, "two passes after the restart")
    assert "new job(s)" not in keeper.log.read_text()
    assert keeper.metric("computerails_keeper_jobs_settled_total") == 0
    assert keeper.stop() == 0


def test_token_prices__unknown_token__config_error_naming_the_known_ones(kp_connect):
    with pytest.raises(AgentConfigError, match=r"native_price: DOGE is none of the deployment's tokens \(mCRS, mUSD\)"):
        token_prices(kp_connect(), {"DOGE": Decimal("0.1")})


def test_store__written_for_another_chain__refused(tmp_path):
    store = KeeperStore(tmp_path / "keeper.sqlite")
    store.bind({"chain_id": "1", "escrow": "0xE"})
    store.bind({"chain_id": "1"})  # the same identity again: fine

    with pytest.raises(AgentStateMismatch, match="was written for chain_id 1, this agent runs with 31337"):
        store.bind({"chain_id": "31337"})
    store.close()


def test_keeper_pass__own_job_left_open__cancelled(kp_connect, kp_w3, kp_deployment_file, keeper_keystore, tmp_path):
    provider = registered(kp_connect, OWN_JOB_PROVIDER)
    own = kp_connect(KEEPER)  # the keeper is this job's client: only a client may cancel
    mint(own, usd=1)
    job_id = int(own.client.create_job(provider.address, Decimal("0.01"), 10, timedelta(days=1), SPEC).id)
    warp(kp_w3, 2 * HOUR)  # past the accept window (1 h)
    settings = KeeperSettings(
        deployment=str(kp_deployment_file), keystore=keeper_keystore[0], data_dir=tmp_path, native_price=PRICES
    )
    metrics = KeeperMetrics()
    store = KeeperStore(settings.database)
    keeper = Keeper(own, store, metrics, settings)

    report = keeper.run_once()

    assert report.cancelled == [job_id]
    assert own.views.job_status(job_id) is JobStatus.CANCELLED
    assert [(e.action, e.status) for e in store.journal()] == [("cancel", "mined")]
    assert metrics.jobs_reclaimed.labels("cancel")._value.get() == 1
    keeper.close()
    store.close()
