"""The keeper relays uptime reports as a process against kp_anvil, fetched from a stand-in oracle
node's ``GET /v1/reports``: a below-SLA report that names it is relayed exactly once even when the
process dies right after journalling the transaction (before its broadcast), and restarts; a
report naming another relayer, or one already on chain (relayed by someone else, naming this
keeper), is left alone; the rewards it earned are claimed; and a keeper killed with its relay
broadcast but not mined finds it after the restart instead of sending another."""

from __future__ import annotations

from web3.exceptions import TransactionNotFound

from computerails import Signature, UptimeReport
from computerails.keeper_node.duties import CRASH_EXIT_CODE, EXIT_AFTER_JOURNAL
from computerails.keeper_node.store import KeeperStore, report_subject
from tests.keeper_node.conftest import registered
from tests.support.keeper import ReportsServer, signed_report
from tests.support.sdk import RELAYER, finish_sla_epoch
from tests.support.wait import wait_until

MINE, OTHERS, DONE = 11, 12, 13  # providers: reported to this keeper, to another relayer, already reported
UNMINED = 14  # a provider whose report is in the pool when the keeper is killed


def reported_events(rails, provider: str, epoch: int) -> list[str]:
    """Hashes of the transactions that reported `provider` in `epoch`, from the slasher's logs."""
    slasher = rails.slasher.address
    codec = rails.abi["UptimeSlasher"].events["UptimeReported"]
    out = []
    for entry in rails.w3.eth.get_logs({"address": slasher, "fromBlock": 0, "toBlock": "latest"}):
        for event in codec.logs({"logs": [entry]}, slasher):
            if event["provider"] == provider and event["epoch"] == epoch:
                out.append("0x" + bytes(entry["transactionHash"]).hex())
    return out


def test_relay__report_naming_it__once_across_a_crash_after_journalling__others_ignored__reward_claimed(
    make_keeper, kp_connect, kp_w3, keeper_address, tmp_path
):
    mine, others, done = (registered(kp_connect, i) for i in (MINE, OTHERS, DONE))
    epoch = finish_sla_epoch(kp_w3, mine)
    relayer = kp_connect(RELAYER)
    already = signed_report(relayer, done.address, epoch, 0, keeper_address)  # relayed by someone else
    relayer.oracle.submit_uptime_report(
        UptimeReport.model_validate(already["report"]), [Signature.model_validate(s) for s in already["signatures"]]
    )
    server = ReportsServer(tmp_path / "reports.json", tmp_path)
    server.serve(
        [
            signed_report(relayer, mine.address, epoch, 0, keeper_address),
            signed_report(relayer, others.address, epoch, 0, relayer.address),
            already,
        ]
    )
    server.start()
    try:
        keeper = make_keeper(oracle_urls=[server.url])
        nonce = kp_w3.eth.get_transaction_count(keeper_address)

        crashed = keeper.launch(**{EXIT_AFTER_JOURNAL: "relay"})  # dies between journal and broadcast

        assert crashed.process is not None and crashed.process.wait(timeout=60) == CRASH_EXIT_CODE
        store = KeeperStore(keeper.config.parent / "data" / "keeper.sqlite")
        (entry,) = store.pending()
        assert (entry.action, entry.subject) == ("relay", report_subject(mine.address, epoch))
        assert reported_events(mine, mine.address, epoch) == []  # never broadcast
        assert kp_w3.eth.get_transaction_count(keeper_address) == nonce

        keeper.start()

        wait_until(lambda: keeper.metric("computerails_keeper_reports_relayed_total") == 1, "the relayed report")
        wait_until(lambda: keeper.metric("computerails_keeper_rewards_claimed_total") > 0, "the reward claimed")
        assert reported_events(mine, mine.address, epoch) == [entry.tx_hash]  # the journalled bytes, once
        journal = [(e.action, e.status) for e in store.journal()]
        store.close()
        assert journal == [("relay", "mined"), ("claim", "mined")]
        assert kp_w3.eth.get_transaction_count(keeper_address) == nonce + 2  # no second relay
        # the reward cap of both reports naming it: the one it relayed and the one relayed for it
        assert keeper.metric("computerails_keeper_rewards_claimed_total") == 2 * 10 * 10**18
        assert keeper.metric("computerails_keeper_reports_ignored_total", 'reason="other_relayer"') == 1
        assert keeper.metric("computerails_keeper_reports_ignored_total", 'reason="reported"') == 1
        assert not mine.views.is_reported(others.address, epoch)
        assert len(reported_events(mine, done.address, epoch)) == 1
        assert mine.views.provider(mine.address).jailed
        wait_until(lambda: keeper.health()["passes"] >= 3, "more passes")  # which send nothing more
        assert kp_w3.eth.get_transaction_count(keeper_address) == nonce + 2
        text = keeper.log.read_text()
        assert "broadcast again from the journal" in text
        assert f"report {report_subject(others.address, epoch)} ignored: names relayer {relayer.address}" in text
        assert keeper.stop() == 0
    finally:
        server.stop()


def test_relay__kill9_while_broadcast_and_unmined__restart_finds_it__one_transaction(
    make_keeper, kp_connect, kp_w3, keeper_address, tmp_path
):
    provider = registered(kp_connect, UNMINED)
    epoch = finish_sla_epoch(kp_w3, provider)
    server = ReportsServer(tmp_path / "reports.json", tmp_path)
    server.serve([signed_report(kp_connect(RELAYER), provider.address, epoch, 0, keeper_address)])
    server.start()
    keeper = make_keeper(oracle_urls=[server.url])
    store = KeeperStore(keeper.config.parent / "data" / "keeper.sqlite")
    nonce = kp_w3.eth.get_transaction_count(keeper_address)
    kp_w3.provider.make_request("evm_setAutomine", [False])
    try:
        keeper.start()
        (entry,) = wait_until(store.pending, "the journalled relay")
        wait_until(lambda: in_pool(kp_w3, entry.tx_hash), "the relay in the node's pool")
        keeper.kill()  # broadcast, not mined

        keeper.start()
        wait_until(lambda: keeper.health()["passes"] == 0 or None, "the restarted keeper in its first pass")
        kp_w3.provider.make_request("evm_mine", [])
        wait_until(lambda: keeper.metric("computerails_keeper_reports_relayed_total") == 1, "the outcome recorded")
    finally:
        kp_w3.provider.make_request("evm_setAutomine", [True])
    try:
        wait_until(lambda: keeper.metric("computerails_keeper_rewards_claimed_total") > 0, "the reward claimed")
        assert reported_events(provider, provider.address, epoch) == [entry.tx_hash]
        assert [(e.action, e.status) for e in store.journal()] == [("relay", "mined"), ("claim", "mined")]
        assert kp_w3.eth.get_transaction_count(keeper_address) == nonce + 2
        assert keeper.stop() == 0
    finally:
        store.close()
        server.stop()


def in_pool(kp_w3, tx_hash: str) -> bool:
    try:
        return kp_w3.eth.get_transaction(tx_hash) is not None
    except TransactionNotFound:
        return False
