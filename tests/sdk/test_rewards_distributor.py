"""rails.rewards (the RewardsDistributor, issue 16) on the devnet deployment: status, claims
against a rewards file (path, loaded, http URL), claimMany, verify, recipient, funding, and the
provider's claim_rewards with emissions. One funded distributor with one active root per module
(tests/support/rewards.py `posted_root`); each test runs in its own snapshot on top of it."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import computerails
from computerails import errors
from computerails.rewards import RewardsFile, RewardsFileError, RewardsTree, Schedule
from computerails.rewards.distributor import RootState
from computerails.types import from_raw
from tests.support.rewards import STAKE, RewardsWorld
from tests.support.sdk import CLIENT, GOVERNANCE, OTHER_CLIENT, raises_unsent


@pytest.fixture(scope="module")
def served(world):
    """The world's rewards file served over HTTP on 127.0.0.1 (a free port): its URL."""
    handler = partial(_Quiet, directory=str(world.path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def _wallet(rails, address):
    return rails.views.wallet(address, rails.deployment.staking_token)


# ───────────────────────── status ─────────────────────────
# First in the module: it runs before the module's world (a funded distributor with a root) exists.


def test_status__before_any_root__reserve_and_schedule_without_roots(connect, readonly):
    funder = connect(GOVERNANCE)
    token = funder.erc20(funder.deployment.staking_token)
    funder.send(token.functions.mint(funder.address, 500 * STAKE), "mint")

    funded = funder.rewards.fund(Decimal(500))
    status = readonly.rewards.status()

    assert status == funded
    assert (status.funded, status.claimed, status.balance) == (Decimal(500), Decimal(0), Decimal(500))
    assert (status.active_root, status.latest_root, status.account) == (None, None, None)
    assert (status.token.symbol, status.fee_token.symbol) == ("mCRS", "mUSD")
    p = status.schedule
    mirror = Schedule(1_000 * STAKE, p.halving_epochs, 1_000 * 10**6, p.fee_window)
    assert (p.e0, p.fee_target, p.activation_delay.total_seconds()) == (Decimal(1_000), Decimal(1_000), 600)
    assert status.emission == from_raw(mirror.emission(status.current_epoch, 0), 18)
    assert (status.calculator.availability_bps, status.calculator.wash_cap_bps) == (5_000, 8_000)


def test_status__active_root__roots_and_account(world: RewardsWorld, readonly):
    provider = world.accounts["provider"]

    status = readonly.rewards.status(provider)

    assert status.active_root == status.latest_root
    active = status.active_root
    assert (active.root, active.total, active.through, active.state) == (world.root, Decimal(60), 2, RootState.ACTIVE)
    assert active.activates_at is not None and active.released >= Decimal(60)
    assert (status.funded, status.claimed, status.balance) == (Decimal(1_000), Decimal(0), Decimal(1_000))
    assert (status.account.address, status.account.claimed, status.account.recipient) == (provider, 0, provider)


def test_rewards__deployment_without_distributor__typed_error(anvil, deployment_file, tmp_path):
    data = json.loads(deployment_file.read_text())
    del data["contracts"]["RewardsDistributor"]
    older = tmp_path / "31337.json"
    older.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="other contract ABIs"):  # its ABI hash covers one contract more
        rails = computerails.connect(anvil.url, deployment=older)

    with pytest.raises(errors.NoRewardsDistributor, match="has no RewardsDistributor") as info:
        rails.rewards.status()
    assert isinstance(info.value, errors.DeploymentError) and info.value.source == str(older)


# ───────────────────────── claims ─────────────────────────


def test_claim__active_root__pays_cumulative_minus_claimed(world: RewardsWorld, provider_rails):
    me = provider_rails.address
    before = _wallet(provider_rails, me)

    first = provider_rails.rewards.claim(world.path)
    after_first = _wallet(provider_rails, me)
    second_file = world.desk.post(world.amounts(provider=45 * STAKE), through=3)
    world.desk.activate()
    second = provider_rails.rewards.claim(second_file)

    assert (first.account, first.recipient, first.amount, first.cumulative) == (me, me, Decimal(30), Decimal(30))
    assert after_first - before == Decimal(30)
    assert (second.amount, second.cumulative) == (Decimal(15), Decimal(45))  # 45 − the 30 claimed
    assert _wallet(provider_rails, me) - after_first == Decimal(15)
    assert provider_rails.rewards.account().claimed == Decimal(45)


def test_claim__twice__nothing_claimable_and_nothing_sent(world: RewardsWorld, provider_rails):
    provider_rails.rewards.claim(world.path)

    with raises_unsent(provider_rails, errors.NothingClaimable, match="was paid 30 mCRS already"):
        provider_rails.rewards.claim(world.path)


def test_claim__account_not_in_file__nothing_claimable(world: RewardsWorld, connect):
    stranger = connect(OTHER_CLIENT)
    with raises_unsent(stranger, errors.NothingClaimable, match="has no rewards in the file"):
        stranger.rewards.claim(world.path)


def test_claim__pending_root__root_not_active_names_the_active_one(world: RewardsWorld, provider_rails):
    pending = world.desk.post(world.amounts(provider=40 * STAKE), through=3)

    with raises_unsent(provider_rails, errors.RewardsRootNotActive, match="it is pending until") as info:
        provider_rails.rewards.claim(pending)

    e = info.value
    assert (e.root, e.active, e.state) == ("0x" + pending.root.hex(), world.root, "pending")
    assert e.activates_at == provider_rails.rewards.status().latest_root.activates_at.timestamp()


def test_claim__vetoed_root__root_not_active(world: RewardsWorld, provider_rails):
    vetoed = world.desk.post(world.amounts(provider=40 * STAKE), through=3)
    world.desk.veto(vetoed.root)

    with raises_unsent(provider_rails, errors.RewardsRootNotActive, match="vetoed and never activates") as info:
        provider_rails.rewards.claim(vetoed)
    assert (info.value.state, info.value.active) == ("vetoed", world.root)


def test_claim__file_of_an_earlier_root__root_not_active_superseded(world: RewardsWorld, provider_rails):
    world.desk.post(world.amounts(provider=40 * STAKE), through=3)
    world.desk.activate()

    with raises_unsent(provider_rails, errors.RewardsRootNotActive, match="a later root replaced it") as info:
        provider_rails.rewards.claim(world.path)
    assert info.value.state == "superseded" and info.value.active != world.root


def test_claim__root_never_posted__root_not_active_unknown(world: RewardsWorld, provider_rails):
    unknown = RewardsFile(
        world.file.chain_id, world.file.distributor, 2, RewardsTree.of(world.amounts(provider=31 * STAKE)), (0, 0)
    )

    with raises_unsent(provider_rails, errors.RewardsRootNotActive, match=f"the active root is {world.root}") as info:
        provider_rails.rewards.claim(unknown)
    assert info.value.state == "unknown"


def test_claim__other_distributor__file_mismatch(world: RewardsWorld, provider_rails):
    other = RewardsFile(world.file.chain_id, "0x" + "11" * 20, 2, world.file.tree, (0, 0))

    with raises_unsent(provider_rails, errors.RewardsFileMismatch) as info:
        provider_rails.rewards.claim(other)
    assert info.value.field == "distributor"


def test_claim__tampered_file__rewards_file_error_and_nothing_sent(world: RewardsWorld, provider_rails, tmp_path):
    doc = json.loads(world.path.read_text())
    provider = world.accounts["provider"]
    doc["claims"][provider]["amount"] = str(60 * STAKE)  # claim twice the tree's amount
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))

    with raises_unsent(provider_rails, RewardsFileError, match=f"claim for {provider} does not match the tree"):
        provider_rails.rewards.claim(tampered)


def test_claim__http_url__fetched_and_paid(world: RewardsWorld, served, provider_rails):
    paid = provider_rails.rewards.claim(f"{served}/{world.path.name}")

    assert paid.amount == Decimal(30)
    with raises_unsent(provider_rails, RewardsFileError, match="HTTP 404"):
        provider_rails.rewards.claim(f"{served}/missing.json")


def test_claim__for_another_account__anyone_may_call(world: RewardsWorld, relayer_rails):
    other = world.accounts["other_provider"]

    paid = relayer_rails.rewards.claim(world.path, other)

    assert (paid.account, paid.recipient, paid.amount) == (other, other, Decimal(20))


def test_claim_many__one_account_paid_already__skipped_with_its_reason(world: RewardsWorld, connect, relayer_rails):
    client = world.accounts["client"]
    connect(CLIENT).rewards.claim(world.path)
    accounts = [world.accounts["provider"], client, world.accounts["other_provider"]]

    outcomes = relayer_rails.rewards.claim_many(world.path, accounts)

    assert [o.account for o in outcomes] == accounts
    assert [o.claim.amount if o.claim else None for o in outcomes] == [Decimal(30), None, Decimal(20)]
    skipped = outcomes[1].error
    assert isinstance(skipped, errors.CumulativeAmountNotAboveClaimed)
    assert skipped.args_dict == {"account": client, "claimed": 10 * STAKE, "cumulativeAmount": 10 * STAKE}
    assert relayer_rails.rewards.status().claimed == Decimal(60)


def test_claim_many__account_not_in_file__refused_before_sending(world: RewardsWorld, relayer_rails):
    stranger = relayer_rails.address
    with raises_unsent(relayer_rails, errors.NothingClaimable, match=stranger):
        relayer_rails.rewards.claim_many(world.path, [world.accounts["provider"], stranger])


# ───────────────────────── verify ─────────────────────────


def test_verify__file_of_active_root__ok(world: RewardsWorld, readonly):
    report = readonly.rewards.verify(world.root, world.path)

    assert report.ok and report.problems == []
    assert (report.state, report.accounts, report.proofs_checked, report.total) == (RootState.ACTIVE, 3, 3, 60)
    status = readonly.rewards.status()
    assert report.released == status.latest_root.released


def test_verify__pending_root__ok_and_pending(world: RewardsWorld, readonly):
    pending = world.desk.post(world.amounts(provider=40 * STAKE), through=3)

    report = readonly.rewards.verify(pending.root, pending)

    assert report.ok and report.state is RootState.PENDING


def test_verify__other_root_and_total_above_release__each_problem(world: RewardsWorld, readonly):
    greedy = RewardsFile(
        world.file.chain_id, world.file.distributor, 2, RewardsTree.of(world.amounts(client=5_000 * STAKE)), (0, 0)
    )

    report = readonly.rewards.verify(world.root, greedy)

    assert not report.ok and report.state is RootState.ACTIVE
    assert len(report.problems) == 3, report.problems
    assert report.problems[0].startswith(f"the file's root 0x{greedy.root.hex()} is not {world.root}")
    assert report.problems[1].startswith("3 of 3 proofs do not check against the root")
    assert "is above the" in report.problems[2] and "the schedule released through epoch 1" in report.problems[2]


# ───────────────────────── recipient, provider claims ─────────────────────────


def test_recipient__set__claim_pays_the_recipient(world: RewardsWorld, provider_rails, relayer_rails, connect):
    to = connect(OTHER_CLIENT).address
    me = provider_rails.address
    before_me, before_to = _wallet(provider_rails, me), _wallet(provider_rails, to)

    mine = provider_rails.rewards.set_recipient(to)
    paid = relayer_rails.rewards.claim(world.path, me)

    assert (mine.address, mine.recipient) == (me, to)
    assert (paid.account, paid.recipient, paid.amount) == (me, to, Decimal(30))
    assert (_wallet(provider_rails, me), _wallet(provider_rails, to)) == (before_me, before_to + 30)
    assert provider_rails.rewards.set_recipient(None).recipient == me


def test_provider_claim_rewards__with_rewards__emission_payout_then_silently_none(world: RewardsWorld, provider_rails):
    payouts = provider_rails.provider.claim_rewards(rewards=world.path)
    again = provider_rails.provider.claim_rewards(rewards=world.path)

    assert [(p.source, p.amount, p.token.symbol) for p in payouts] == [("rewards", Decimal(30), "mCRS")]
    assert again == [] and provider_rails.provider.claim_rewards() == []


def test_provider_claim_rewards__pending_root__refused_before_any_claim(world: RewardsWorld, provider_rails):
    pending = world.desk.post(world.amounts(provider=40 * STAKE), through=3)

    with raises_unsent(provider_rails, errors.RewardsRootNotActive):
        provider_rails.provider.claim_rewards(rewards=pending)
