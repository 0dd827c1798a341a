"""The role commands of issue 11 (job settle/show, arbitrator, provider/client jobs, oracle
pending/claim-reward, params, epoch) and the CLI's consistency rules: read-only commands need
no key, inputs are validated before any question, negative numbers are refused by name, and
every refused input is one `error:` line with nothing sent."""

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from computerails import JobStatus
from computerails.cli import cli
from tests.support.anvil import dev_key
from tests.support.sdk import (
    CLIENT,
    GOVERNANCE,
    KEY_VAR,
    ORACLES,
    PROVIDER,
    RELAYER,
    SPEC,
    finish_sla_epoch,
    nonce_of,
    warp,
)

ARBITRATOR = GOVERNANCE  # the devnet deploy makes governance the arbitrator


@pytest.fixture
def disputed_job(attested_job, client_rails, faucet):
    faucet(client_rails, usd=1)
    return client_rails.client.dispute(attested_job.id)


def _invoke(anvil, deployment_file, index, *args, stdin=None):
    """A CliRunner run that may fail or print to stderr (run/fail assert one or the other)."""
    options = ["--rpc", anvil.url, "--deployment", str(deployment_file)]
    env = {}
    if index is not None:
        options += ["--private-key-env", KEY_VAR]
        env[KEY_VAR] = dev_key(index)
    return CliRunner(mix_stderr=False).invoke(cli, options + [str(a) for a in args], input=stdin, env=env)


# ───────────────────────── job settle / show ─────────────────────────


def test_job_settle__one_job_after_challenge_window__settled(w3, run, attested_job, provider_rails):
    warp(w3, 3_600)

    (settled,) = run(RELAYER, "job", "settle", attested_job.id)

    assert (settled["job_id"], settled["provider_net"], settled["fee"], settled["refund"]) == (1, "7.8", "0.2", "2")
    assert provider_rails.views.job_status(attested_job.id) is JobStatus.SETTLED


def test_job_settle__several_jobs__one_settle_many(w3, run, make_job, registered_provider, relayer_rails, oracle_keys):
    for _ in range(2):
        job = registered_provider.provider.accept(make_job().id)
        relayer_rails.oracle.attest(job.id, success=True, units=10, result_hash=b"\x02" * 32, signers=oracle_keys)
    warp(w3, 3_600)

    text = run(RELAYER, "job", "settle", 1, 2, as_json=False)

    assert "Settled" in text and "0.975 mUSD" in text
    assert [relayer_rails.views.job_status(i) for i in (1, 2)] == [JobStatus.SETTLED] * 2


def test_job_settle__challenge_window_open__one_line_names_command_nothing_sent(fail, attested_job, relayer_rails):
    before = nonce_of(relayer_rails)

    line = fail(RELAYER, "job", "settle", attested_job.id)

    assert line.startswith(f"error: TooEarly: job {attested_job.id} can be settled from ")
    assert line.endswith(f"run `computerails job settle {attested_job.id}` then")
    assert nonce_of(relayer_rails) == before


@pytest.mark.parametrize(
    "ids, message",
    [
        (["-3"], "error: Invalid value for 'JOB_ID...': -3 is negative"),
        (["0"], "error: Invalid value for 'JOB_ID...': 0 is not in the range x>=1."),
        (["x"], "error: Invalid value for 'JOB_ID...': 'x' is not a valid integer range."),
        ([], "error: Missing argument 'JOB_ID...'."),
    ],
    ids=["negative", "zero", "not_a_number", "none"],
)
def test_job_settle__bad_ids__one_line_nothing_sent(fail, relayer_rails, ids, message):
    before = nonce_of(relayer_rails)
    assert fail(RELAYER, "job", "settle", *ids) == message
    assert nonce_of(relayer_rails) == before


def test_job_show__no_key__spec_hash_and_status(run, attested_job):
    shown = run(None, "job", "show", attested_job.id)
    text = run(None, "job", "show", attested_job.id, as_json=False)

    assert (shown["status"], shown["spec_hash"]) == ("attested", "0x" + SPEC.hex())
    assert "attested" in text and "JobStatus" not in text and "10 mUSD" in text and "5 mCRS" in text


# ───────────────────────── arbitrator ─────────────────────────


def test_arbitrator_disputes__no_key__listed_with_bond(run, disputed_job):
    (dispute,) = run(None, "arbitrator", "disputes")
    text = run(None, "arbitrator", "disputes", as_json=False)

    assert (dispute["job_id"], dispute["bond"], dispute["lapsed"]) == (disputed_job.id, "1", False)
    assert "1 mUSD" in text


@pytest.mark.parametrize("flag, status", [("--upheld", "failed"), ("--rejected", "settled")])
def test_arbitrator_resolve__arbitrator__job_ends_as_ruled(run, disputed_job, flag, status):
    job = run(ARBITRATOR, "--yes", "arbitrator", "resolve", disputed_job.id, flag)
    assert job["status"] == status
    assert run(None, "arbitrator", "disputes") == []


def test_arbitrator_resolve__not_arbitrator__one_line_nothing_sent(fail, disputed_job, relayer_rails):
    before = nonce_of(relayer_rails)
    line = fail(RELAYER, "--yes", "arbitrator", "resolve", disputed_job.id, "--upheld")
    assert line.startswith("error: NotAllowed: ") and "ARBITRATOR_ROLE" in line
    assert nonce_of(relayer_rails) == before


def test_arbitrator_resolve__no_ruling_flag__one_line(fail, disputed_job):
    assert fail(ARBITRATOR, "arbitrator", "resolve", disputed_job.id) == (
        "error: say how: --upheld (for the client) or --rejected (for the provider)"
    )


def test_arbitrator_resolve__lapsed__one_line_names_job_settle(w3, fail, disputed_job, connect):
    warp(w3, 3 * 86_400 + 1)
    rails = connect(ARBITRATOR)
    before = nonce_of(rails)

    line = fail(ARBITRATOR, "arbitrator", "resolve", disputed_job.id, "--rejected")

    assert line.startswith("error: WrongJobState: ")
    assert line.endswith(f"it can only be settled now: run `computerails job settle {disputed_job.id}`")
    assert nonce_of(rails) == before


def test_arbitrator_resolve__settled_job__refused_before_asking(fail, w3, attested_job, relayer_rails, connect):
    warp(w3, 3_600)
    relayer_rails.keeper.settle(attested_job.id)
    before = nonce_of(connect(ARBITRATOR))

    line = fail(ARBITRATOR, "arbitrator", "resolve", attested_job.id, "--upheld")  # no --yes: a question would fail

    assert line == f"error: WrongJobState: job {attested_job.id} is settled; only a disputed job can be resolved"
    assert nonce_of(connect(ARBITRATOR)) == before


# ───────────────────────── discovery ─────────────────────────


def test_provider_jobs__no_key__grouped_by_stage(run, registered_provider, make_job, accepted_job):
    opened = make_job()

    groups = run(None, "provider", "jobs", registered_provider.address)
    text = run(None, "provider", "jobs", registered_provider.address, as_json=False)

    assert {stage: [j["id"] for j in jobs] for stage, jobs in groups.items()} == {
        "to accept": [opened.id],
        "awaiting attestation": [accepted_job.id],
    }
    assert "to accept (1)" in text and "awaiting attestation (1)" in text


def test_provider_jobs__own_key__settleable_and_ended_with_all(w3, run, attested_job, make_job, client_rails):
    cancelled = make_job()
    client_rails.client.cancel(cancelled.id)
    warp(w3, 3_600)

    groups = run(PROVIDER, "provider", "jobs")
    everything = run(PROVIDER, "provider", "jobs", "--all")

    assert list(groups) == ["settleable"] and groups["settleable"][0]["id"] == attested_job.id
    assert [j["id"] for j in everything["ended"]] == [cancelled.id]


def test_client_jobs__no_key_and_own__same_groups(run, make_job, client_rails):
    job = make_job()

    assert run(None, "client", "jobs", client_rails.address) == run(CLIENT, "client", "jobs")
    assert run(CLIENT, "client", "jobs")["to accept"][0]["id"] == job.id


def test_client_status__one_job_no_key__spec_hash_shown(run, make_job):
    job = make_job()

    shown = run(None, "client", "status", job.id)
    text = run(None, "client", "status", job.id, as_json=False)

    assert shown["spec_hash"] == "0x" + SPEC.hex() and shown["status"] == "open"
    folded = "".join(text.replace("│", " ").split())  # long values wrap inside the table's column
    assert "0x" + SPEC.hex() in folded and "JobStatus" not in text and "open" in text


def test_oracle_pending__no_key__accepted_jobs_and_epochs(w3, run, accepted_job, make_job):
    make_job()  # open: not awaiting attestation

    pending = run(None, "oracle", "pending")
    text = run(None, "oracle", "pending", as_json=False)

    assert [j["id"] for j in pending["awaiting_attestation"]] == [accepted_job.id]
    assert pending["epochs"]["current"]["epoch"] >= 0
    assert "Jobs awaiting attestation (1)" in text and "Current epoch" in text


def test_params_and_epoch__no_key__units_and_windows(w3, run, readonly):
    finish_sla_epoch(w3, readonly)

    params = run(None, "params")
    text = run(None, "params", as_json=False)
    epoch = run(None, "epoch")
    epoch_text = run(None, "epoch", as_json=False)

    assert params["staking"]["min_stake"] == "1000" and params["uptime"]["uptime_slash_cap"] == "500"
    assert params["escrow"]["challenge_window"] == 3_600 and params["oracles"]["threshold"] == 2
    assert [t["symbol"] for t in params["payment_tokens"]] == ["mUSD"]
    assert "1000 mCRS" in text and "2.5 %" in text and "1:00:00" in text
    assert epoch["current"]["epoch"] == readonly.views.current_epoch() and epoch["reportable"]
    assert "Reportable epochs" in epoch_text


# ───────────────────────── claims say what is pending ─────────────────────────


def test_provider_claim__attested_job__says_when_and_which_command(w3, run, attested_job):
    text = run(PROVIDER, "provider", "claim", as_json=False)
    assert "Nothing to claim: 1 job settles after " in text
    assert f"run `computerails job settle {attested_job.id}` then" in text

    warp(w3, 3_600)
    text = run(PROVIDER, "provider", "claim", as_json=False)
    assert f"1 job can be settled now; run `computerails job settle {attested_job.id}`" in text


def test_client_withdraw__attested_job__one_line_says_what_is_pending(fail, attested_job, client_rails):
    before = nonce_of(client_rails)
    line = fail(CLIENT, "client", "withdraw")
    assert line.startswith("error: NothingClaimable: ")
    assert line.endswith(
        f"1 job settles after {_when(attested_job.challenge_ends)}; run `computerails job settle 1` then"
    )
    assert nonce_of(client_rails) == before


def _when(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# ───────────────────────── relayer ─────────────────────────


def test_oracle_report_uptime_then_claim_reward__slash_said_and_reward_paid(
    sign, w3, run, tmp_path, registered_provider, relayer_rails
):
    epoch = finish_sla_epoch(w3, registered_provider)
    args = ["--uptime-provider", registered_provider.address, "--epoch", epoch, "--uptime-bps", 0]
    files = [sign(i, *args, "--relayer", relayer_rails.address) for i in ORACLES[:2]]

    text = run(RELAYER, "oracle", "report-uptime", "--signed", files[0], "--signed", files[1], as_json=False)
    paid = run(RELAYER, "oracle", "claim-reward")

    assert "slashed 100 mCRS; jailed for downtime" in text and "earns 10 mCRS" in text
    assert (paid["amount"], paid["token"]["symbol"]) == ("10", "mCRS")


def test_oracle_report_uptime__within_sla__json_outcome(sign, w3, run, tmp_path, registered_provider):
    epoch = finish_sla_epoch(w3, registered_provider)
    args = ["--uptime-provider", registered_provider.address, "--epoch", epoch, "--uptime-bps", 9_900]
    files = [sign(i, *args) for i in ORACLES[:2]]

    outcome = run(RELAYER, "oracle", "report-uptime", "--signed", files[0], "--signed", files[1])

    assert (outcome["slashed"], outcome["jailed"], outcome["uptime_bps"]) == ("0", False, 9_900)


def test_oracle_claim_reward__nothing__one_line_nothing_sent(fail, relayer_rails):
    before = nonce_of(relayer_rails)
    assert fail(RELAYER, "oracle", "claim-reward").startswith("error: NothingClaimable: ")
    assert nonce_of(relayer_rails) == before


# ───────────────────────── validate before asking ─────────────────────────


def test_provider_unbond__over_the_limit__limit_said_before_asking(fail, registered_provider):
    before = nonce_of(registered_provider)

    line = fail(PROVIDER, "provider", "unbond", "99999")  # no --yes: a question would fail differently

    assert line == "error: InsufficientStake: can unbond up to 2000 mCRS of free stake, asked 99999 mCRS"
    assert nonce_of(registered_provider) == before


def test_provider_unbond__asked__question_in_token_units(anvil, deployment_file, registered_provider):
    result = _invoke(anvil, deployment_file, PROVIDER, "provider", "unbond", "100", stdin="n\n")
    assert result.exit_code == 1 and "Unbond 100 mCRS?" in result.stderr


def test_client_dispute__settled_job__refused_before_asking(fail, w3, attested_job, client_rails):
    warp(w3, 3_600)
    client_rails.keeper.settle(attested_job.id)
    before = nonce_of(client_rails)

    line = fail(CLIENT, "client", "dispute", attested_job.id)

    assert line == f"error: WrongJobState: job {attested_job.id} is settled; dispute needs it attested"
    assert nonce_of(client_rails) == before


def test_client_dispute__asked__bond_in_token_units(anvil, deployment_file, attested_job, client_rails, faucet):
    faucet(client_rails, usd=1)
    result = _invoke(anvil, deployment_file, CLIENT, "client", "dispute", attested_job.id, stdin="n\n")
    assert result.exit_code == 1 and "posting a bond of 1 mUSD?" in result.stderr
    assert client_rails.views.job_status(attested_job.id) is JobStatus.ATTESTED


def test_provider_accept__jailed__one_line_names_cli_commands(fail, make_job, accepted_job, relayer_rails, oracle_keys):
    relayer_rails.oracle.attest(accepted_job.id, success=False, units=0, result_hash=b"\x02" * 32, signers=oracle_keys)
    job = make_job()

    line = fail(PROVIDER, "provider", "accept", job.id)

    assert line.endswith(
        "is jailed: top up with `computerails provider stake AMOUNT`, then run `computerails provider unjail`"
    )
    assert "()" not in line


# ───────────────────────── negative numbers ─────────────────────────


@pytest.mark.parametrize(
    "args, message",
    [
        (["provider", "stake", "-5"], "error: Invalid value for 'AMOUNT': -5 is negative"),
        (["--yes", "provider", "unbond", "-0.5"], "error: Invalid value for 'AMOUNT': -0.5 is negative"),
        (["provider", "accept", "-1"], "error: Invalid value for 'JOB_ID': -1 is negative"),
        (
            ["provider", "register", "--metadata-uri", "x", "--stake", "-5"],
            "error: Invalid value for '--stake': -5 is negative",
        ),
    ],
    ids=["stake", "unbond", "accept", "register"],
)
def test_negative_number__provider_commands__refused_by_name_nothing_sent(fail, registered_provider, args, message):
    before = nonce_of(registered_provider)
    assert fail(PROVIDER, *args) == message
    assert nonce_of(registered_provider) == before


def test_negative_number__create_job_price__refused_by_name(fail, client_rails, registered_provider):
    before = nonce_of(client_rails)
    line = fail(
        CLIENT,
        "client",
        "create-job",
        "--provider",
        registered_provider.address,
        "--unit-price",
        "-5",
        "--max-units",
        1,
        "--spec-hash",
        "0x" + SPEC.hex(),
    )
    assert line == "error: Invalid value for '--unit-price': -5 is negative"
    assert nonce_of(client_rails) == before


# ───────────────────────── create-job for a provider that cannot take it ─────────────────────────


def _create(provider, *extra):
    return [
        *extra,
        "client",
        "create-job",
        "--provider",
        provider,
        "--unit-price",
        "0.10",
        "--max-units",
        10,
        "--spec-hash",
        "0x" + SPEC.hex(),
    ]


def test_client_create_job__unregistered_provider_no_tty_no_yes__refused_one_line(fail, client_rails, faucet):
    faucet(client_rails, usd=1)
    stranger = "0x" + "22" * 20
    before = nonce_of(client_rails)

    line = fail(CLIENT, *_create(stranger))

    assert line == (
        f"error: {stranger} is not a registered provider: it cannot accept the job; pass --yes to go ahead anyway"
    )
    assert nonce_of(client_rails) == before and client_rails.views.job_count() == 0


def test_client_create_job__unregistered_provider_with_yes__warned_and_created(
    anvil, deployment_file, client_rails, faucet
):
    faucet(client_rails, usd=1)
    stranger = "0x" + "22" * 20

    result = _invoke(anvil, deployment_file, CLIENT, *_create(stranger, "--json", "--yes"))

    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"warning: {stranger} is not a registered provider")
    assert json.loads(result.stdout)["status"] == "open"


def test_client_create_job__jailed_provider__refused_one_line(
    fail, accepted_job, relayer_rails, oracle_keys, client_rails, faucet, registered_provider
):
    relayer_rails.oracle.attest(accepted_job.id, success=False, units=0, result_hash=b"\x02" * 32, signers=oracle_keys)
    faucet(client_rails, usd=1)

    line = fail(CLIENT, *_create(registered_provider.address))

    assert "is jailed: it cannot accept the job until it unjails; pass --yes" in line
    assert client_rails.views.job_count() == 1


def test_client_create_job__registered_provider__no_warning(run, client_rails, faucet, registered_provider):
    faucet(client_rails, usd=1)
    assert run(CLIENT, *_create(registered_provider.address))["escrow"] == "1"
    assert client_rails.views.wallet(client_rails.address) == Decimal(0)
