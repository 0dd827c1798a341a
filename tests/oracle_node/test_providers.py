"""The provider directory: registrations and URI changes read incrementally from the chain (a
cursor kept with the entries across a restart, pages of any size), the probe URL of a metadata
URI, and the SLA rule mirrored from UptimeSlasher, case by case (pure) and against the chain."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from computerails import UptimeReport
from computerails.devnet import dev_key
from computerails.oracle_node.probes import ProbeLog
from computerails.oracle_node.providers import ProviderDirectory, probe_url, sla_applies
from computerails.types import ProviderStatus
from tests.oracle_node.conftest import SPARE_PROVIDERS
from tests.support.agent import mint
from tests.support.sdk import FIRST_STAKE, ORACLES, RELAYER, finish_sla_epoch, warp

NEWCOMER = 14  # registers during the incremental test
LATE = 15  # registers in the newest block
JAILED = SPARE_PROVIDERS[4]


def set_uri(rails, uri: str) -> None:
    rails.send(rails.staking.functions.setMetadataURI(uri), "setMetadataURI")


def epoch_start(rails, epoch: int) -> int:
    return int(rails.slasher.functions.epochStart(epoch).call())


# ───────────────────────── reading the chain ─────────────────────────


def test_refresh__registration_and_uri_change__picked_up_incrementally(probe_connect, probe_register, tmp_path):
    store = ProbeLog(tmp_path / "probes.sqlite")
    directory = ProviderDirectory(probe_connect(), store=store)
    cursor = directory.refresh()
    newcomer = probe_connect(NEWCOMER)
    assert directory.entry(newcomer.address) is None

    probe_register(NEWCOMER, "http://127.0.0.1:8701/")
    after = directory.refresh(cursor)

    assert after > cursor
    entry = directory.entry(newcomer.address)
    assert entry is not None and entry.metadata_uri == "http://127.0.0.1:8701/"
    assert directory.url(newcomer.address) == "http://127.0.0.1:8701"
    known = len(directory.providers())

    set_uri(newcomer, "https://agent.example:8443/base")
    final = directory.refresh()  # from where the last call stopped

    assert final > after and len(directory.providers()) == known
    assert directory.url(newcomer.address) == "https://agent.example:8443/base"
    store.close()

    reopened = ProviderDirectory(probe_connect(), store=ProbeLog(tmp_path / "probes.sqlite"))  # a restart

    assert reopened.next_block == final  # resumes: nothing read again from the deployment's block
    assert reopened.providers() == directory.providers()


def test_refresh__one_block_pages__same_directory_as_one_page(probe_connect, provider_agent, impostor):
    whole = ProviderDirectory(probe_connect())
    paged = ProviderDirectory(probe_connect(), log_batch=1)

    assert whole.refresh() == paged.refresh()
    assert paged.providers() == whole.providers()
    assert {provider_agent[0].address, impostor[0].address} <= {e.address for e in paged.providers()}


def test_refresh__confirmations__the_newest_blocks_left_for_later(probe_connect, probe_register):
    directory = ProviderDirectory(probe_connect(), confirmations=1)
    directory.refresh()
    rails = probe_register(LATE, "http://127.0.0.1:8702")  # mined in the newest blocks

    directory.refresh()
    assert directory.entry(rails.address) is None
    set_uri(rails, "http://127.0.0.1:8702")  # one more block buries the registration
    directory.refresh()
    assert directory.entry(rails.address) is not None


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("http://127.0.0.1:8700", "http://127.0.0.1:8700"),
        ("https://node.example/agent/", "https://node.example/agent"),
        (" HTTP://10.0.0.1:80 ", "HTTP://10.0.0.1:80"),
        ("ipfs://bafy", None),
        ("127.0.0.1:8700", None),
        ("http://", None),
        ("", None),
        ("http://[::1", None),
    ],
)
def test_probe_url__only_http_urls_with_a_host(uri, url):
    assert probe_url(uri) == url


# ───────────────────────── the SLA rule (UptimeSlasher._markUnderSla) ─────────────────────────

T = 1_800_000_000


def status(**fields) -> ProviderStatus:
    values = (
        dict(
            address="0x" + "11" * 20,
            registered=True,
            jailed=False,
            active=True,
            staked=Decimal(1),
            locked=Decimal(0),
            free=Decimal(1),
            unbonding=Decimal(0),
            unbonding_end=None,
            sla_from=datetime.fromtimestamp(T, timezone.utc),
            total_slashed=Decimal(0),
            total_deposited=Decimal(1),
            metadata_uri="http://127.0.0.1:8700",
            claimable={},
        )
        | fields
    )
    return ProviderStatus(**values)


@pytest.mark.parametrize(
    ("fields", "start", "applies"),
    [
        ({}, T + 3_600, True),
        ({}, T, True),  # an epoch starting at sla_from is in
        ({}, T - 1, False),  # started before registration (or the last downtime unjail)
        ({"registered": False, "sla_from": None}, T + 3_600, False),
        ({"jailed": True, "jailed_for_downtime": True}, T + 3_600, False),  # SLA suspended
        ({"jailed": True}, T + 3_600, True),  # jailed for a failed job: the SLA still holds
        ({"left": True, "left_at": datetime.fromtimestamp(T + 7_200, timezone.utc)}, T + 3_600, True),  # left in it
        ({"left": True, "left_at": datetime.fromtimestamp(T + 7_200, timezone.utc)}, T + 7_200, False),
        ({"left": True, "left_at": datetime.fromtimestamp(T + 7_200, timezone.utc)}, T + 9_000, False),
    ],
    ids=[
        "after_sla_from",
        "at_sla_from",
        "before_sla_from",
        "not_registered",
        "jailed_for_downtime",
        "jailed_for_work",
        "left_during_epoch",
        "left_at_epoch_start",
        "left_before_epoch",
    ],
)
def test_sla_applies__the_chains_rule(fields, start, applies):
    assert sla_applies(status(**fields), start) is applies


def test_sla_applies__on_chain__registration_leave_and_downtime_jail(probe_connect, probe_register, probe_w3):
    rails = probe_register(JAILED, "http://127.0.0.1:8703")
    directory = ProviderDirectory(probe_connect())
    current = rails.views.current_epoch()
    assert not directory.sla_applies(rails.address, epoch_start(rails, current))  # registered during it
    assert directory.sla_applies(rails.address, epoch_start(rails, current + 1))

    relayer = probe_connect(RELAYER)
    report = UptimeReport(provider=rails.address, epoch=finish_sla_epoch(probe_w3, rails), uptime_bps=0)
    signatures = relayer.oracle.collect_signatures(report, [dev_key(i) for i in ORACLES])
    relayer.oracle.submit_uptime_report(report, signatures)
    jailed_in = rails.views.current_epoch()
    assert rails.views.provider(rails.address).jailed_for_downtime
    assert not directory.sla_applies(rails.address, epoch_start(rails, jailed_in + 1))  # suspended

    mint(rails, stake=FIRST_STAKE)
    rails.provider.stake(FIRST_STAKE)
    warp(probe_w3, 60)  # into the epoch: an unjail in its first second would start the SLA with it
    rails.provider.unjail()
    unjailed_in = rails.views.current_epoch()
    assert not directory.sla_applies(rails.address, epoch_start(rails, unjailed_in))  # began before the unjail
    assert directory.sla_applies(rails.address, epoch_start(rails, unjailed_in + 1))

    probe_w3.provider.make_request("evm_setNextBlockTimestamp", [epoch_start(rails, unjailed_in + 1) + 10])
    probe_w3.provider.make_request("evm_mine", [])
    rails.provider.leave()
    assert directory.sla_applies(rails.address, epoch_start(rails, unjailed_in + 1))  # left during it: still counts
    assert not directory.sla_applies(rails.address, epoch_start(rails, unjailed_in + 2))
