"""`computerails rewards ...` and `provider claim --rewards` on the devnet deployment, one funded
distributor with one active root per module (tests/support/rewards.py `posted_root`)."""

from __future__ import annotations

from computerails.cli import main
from tests.support.rewards import STAKE, RewardsWorld
from tests.support.sdk import CLIENT, GOVERNANCE, OTHER_CLIENT, PROVIDER, RELAYER


def test_rewards_status__account__json_and_table(world: RewardsWorld, run):
    provider = world.accounts["provider"]

    status = run(None, "rewards", "status", "--account", provider)
    text = run(None, "rewards", "status", as_json=False)

    assert (status["active_root"]["root"], status["active_root"]["state"]) == (world.root, "active")
    assert (status["funded"], status["claimed"], status["account"]["recipient"]) == ("1000", "0", provider)
    assert world.root[:20] in text and "active" in text and "1000 mCRS" in text  # long values wrap


def test_rewards_claim__own_account__paid_then_nothing_claimable(world: RewardsWorld, run, fail):
    paid = run(PROVIDER, "rewards", "claim", "--rewards", world.path)
    again = fail(PROVIDER, "rewards", "claim", "--rewards", world.path)

    assert (paid["account"], paid["amount"], paid["cumulative"]) == (world.accounts["provider"], "30", "30")
    assert again.startswith("error: NothingClaimable: ") and "was paid 30 mCRS already" in again


def test_rewards_claim__several_accounts__claim_many_lists_the_skipped(world: RewardsWorld, run):
    run(CLIENT, "rewards", "claim", "--rewards", world.path)
    provider, client = world.accounts["provider"], world.accounts["client"]

    outcomes = run(RELAYER, "rewards", "claim", "--rewards", world.path, "--account", provider, "--account", client)
    text = run(
        RELAYER, "rewards", "claim", "--rewards", world.path, "--account", provider, "--account", client, as_json=False
    )

    assert [(o["account"], o["claim"] and o["claim"]["amount"]) for o in outcomes] == [(provider, "30"), (client, None)]
    assert outcomes[1]["error"]["name"] == "CumulativeAmountNotAboveClaimed"
    assert text.count("CumulativeAmountNotAboveClaimed") == 2  # both paid already now


def test_rewards_claim__pending_root_file__one_error_line(world: RewardsWorld, fail, tmp_path):
    pending = world.desk.post(world.amounts(provider=40 * STAKE), through=3).write(tmp_path / "root-3.json")

    line = fail(PROVIDER, "rewards", "claim", "--rewards", pending)

    assert line.startswith("error: RewardsRootNotActive: ") and f"the active root is {world.root}" in line


def test_rewards_verify__matching_root__ok(world: RewardsWorld, run):
    report = run(None, "rewards", "verify", world.root, "--rewards", world.path)
    text = run(None, "rewards", "verify", world.root, "--rewards", world.path, as_json=False)

    assert (report["ok"], report["state"], report["proofs_checked"], report["problems"]) == (True, "active", 3, [])
    assert text.rstrip().endswith("ok")


def test_rewards_verify__other_root__exit_1_each_problem_and_one_error_line(
    world: RewardsWorld, anvil, deployment_file, capsys
):
    other = "0x" + "ab" * 32
    options = ["--rpc", anvil.url, "--deployment", str(deployment_file)]
    capsys.readouterr()

    code = main(options + ["rewards", "verify", other, "--rewards", str(world.path)])
    out = capsys.readouterr()

    assert code == 1
    assert out.err.splitlines() == [f"error: the rewards file does not match root {other}: 2 problems"]
    problems = [line for line in out.out.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 2 and problems[0].startswith(f"problem: the file's root {world.root} is not {other}")


def test_rewards_recipient__set__claim_pays_it(world: RewardsWorld, run, connect):
    to = connect(OTHER_CLIENT).address

    mine = run(PROVIDER, "rewards", "recipient", to)
    paid = run(RELAYER, "rewards", "claim", "--rewards", world.path, "--account", world.accounts["provider"])

    assert (mine["address"], mine["recipient"]) == (world.accounts["provider"], to)
    assert (paid["recipient"], paid["amount"]) == (to, "30")


def test_rewards_fund__yes__reserve_grows(world: RewardsWorld, run, connect):
    funder = connect(GOVERNANCE)
    token = funder.erc20(funder.deployment.staking_token)
    funder.send(token.functions.mint(funder.address, 250 * STAKE), "mint")

    status = run(GOVERNANCE, "--yes", "rewards", "fund", "250")

    assert (status["funded"], status["balance"]) == ("1250", "1250")


def test_provider_claim__rewards_option__emission_row_from_rewards(world: RewardsWorld, run):
    payouts = run(PROVIDER, "provider", "claim", "--rewards", world.path)
    text = run(PROVIDER, "provider", "claim", "--rewards", world.path, as_json=False)

    assert [(p["source"], p["amount"], p["token"]["symbol"]) for p in payouts] == [("rewards", "30", "mCRS")]
    assert "Nothing to claim" in text
