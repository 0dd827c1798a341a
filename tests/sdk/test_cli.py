"""The `computerails` command line, driven through click's CliRunner (and once as a real process)."""

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from eth_utils import keccak

from computerails import JobStatus
from computerails.cli import cli
from tests.sdk.test_addresses import flip_case, mistype_digit
from tests.support.anvil import dev_key, free_port
from tests.support.sdk import (
    CLIENT,
    KEY_VAR,
    ORACLES,
    OTHER_CLIENT,
    PROVIDER,
    RELAYER,
    RESULT,
    SPEC,
    finish_sla_epoch,
    nonce_of,
    warp,
)


def _address(index):
    return Account.from_key(dev_key(index)).address


# ───────────────────────── deployments ─────────────────────────


def test_deployments_show__json_and_table__the_given_deployment(run, deployment_file):
    (shown,) = run(None, "deployments", "show")
    data = json.loads(deployment_file.read_text())
    assert (shown["chainId"], shown["contracts"], shown["tokens"]) == (31337, data["contracts"], data["tokens"])
    assert shown["source"] == str(deployment_file)

    text = run(None, "deployments", "show", as_json=False)
    assert "Chain 31337" in text and data["contracts"]["JobEscrow"] in text


# ───────────────────────── provider ─────────────────────────


def test_provider_register_stake_unbond_status__json__stake_figures(run, provider_rails, faucet):
    faucet(provider_rails, stake=5_000)

    registered = run(PROVIDER, "provider", "register", "--metadata-uri", "ipfs://cli", "--stake", "2000")
    staked = run(PROVIDER, "provider", "stake", "500.5")
    unbonding = run(PROVIDER, "--yes", "provider", "unbond", "100")
    status = run(None, "provider", "status", provider_rails.address)

    assert (registered["registered"], registered["staked"], registered["metadata_uri"]) == (True, "2000", "ipfs://cli")
    assert staked["staked"] == "2500.5"
    assert (unbonding["staked"], unbonding["unbonding"]) == ("2400.5", "100")
    assert status == unbonding
    assert status["unbonding_end"].endswith("Z")  # UTC


def test_provider_withdraw__after_unbonding_delay__payout(w3, run, registered_provider, stk):
    run(PROVIDER, "--yes", "provider", "unbond", "100")
    warp(w3, 7 * 86_400)

    payout = run(PROVIDER, "provider", "withdraw")

    assert (payout["amount"], payout["source"], payout["token"]["symbol"]) == ("100", "staking", "mCRS")
    assert registered_provider.views.wallet(registered_provider.address, stk.address) == Decimal(3_100)


def test_provider_accept__open_job__collateral_locked(run, make_job):
    job = make_job()

    accepted = run(PROVIDER, "provider", "accept", job.id)

    assert (accepted["status"], accepted["collateral"]) == ("accepted", "5")


def test_provider_claim__settled_job__paid_then_nothing(w3, run, attested_job, client_rails):
    warp(w3, 3_600)
    client_rails.send(client_rails.escrow.functions.settle(attested_job.id), "settle")

    (payout,) = run(PROVIDER, "provider", "claim")

    assert (payout["amount"], payout["source"], payout["token"]["symbol"]) == ("7.8", "escrow", "mUSD")
    assert run(PROVIDER, "provider", "claim") == []
    assert "Nothing to claim" in run(PROVIDER, "provider", "claim", as_json=False)


def test_provider_unjail__topped_up__active_again(run, accepted_job, relayer_rails, oracle_keys, registered_provider):
    relayer_rails.oracle.attest(accepted_job.id, success=False, units=0, result_hash=RESULT, signers=oracle_keys)
    assert registered_provider.provider.status().jailed

    status = run(PROVIDER, "provider", "unjail")

    assert (status["jailed"], status["active"], status["staked"]) == (False, True, "1995")


# ───────────────────────── client ─────────────────────────


def test_client_create_job_status_cancel_withdraw__json__full_refund(run, client_rails, registered_provider, faucet):
    faucet(client_rails, usd=100)

    job = run(
        CLIENT,
        "client",
        "create-job",
        "--provider",
        registered_provider.address,
        "--unit-price",
        "0.10",
        "--max-units",
        100,
        "--deadline",
        "2h",
        "--spec-hash",
        "0x" + SPEC.hex(),
    )
    one = run(CLIENT, "client", "status", job["id"])
    listed = run(CLIENT, "client", "status")
    cancelled = run(CLIENT, "--yes", "client", "cancel", job["id"])
    payout = run(CLIENT, "client", "withdraw")

    assert (job["id"], job["status"], job["escrow"], job["unit_price"]) == (1, "open", "10", "0.1")
    assert job["spec_hash"] == "0x" + SPEC.hex() and job["deadline"].endswith("Z")
    assert one["status"] == "open" and [j["id"] for j in listed] == [1]
    assert cancelled["status"] == "cancelled"
    assert (payout["amount"], payout["source"]) == ("10", "escrow")
    assert client_rails.views.wallet(client_rails.address) == Decimal(100)


def test_client_create_job__spec_file_and_table_output__job_created(
    run, client_rails, registered_provider, faucet, tmp_path
):
    faucet(client_rails, usd=10)
    spec = tmp_path / "spec.yaml"
    spec.write_text("image: pytorch\n")

    text = run(
        CLIENT,
        "client",
        "create-job",
        "--provider",
        registered_provider.address,
        "--unit-price",
        "1",
        "--max-units",
        10,
        "--spec-file",
        spec,
        as_json=False,
    )

    assert "Job 1 created" in text
    assert client_rails.views.jobs()[0].spec_hash == "0x" + keccak(b"image: pytorch\n").hex()


def test_client_cancel__confirmation_declined__aborted_nothing_sent(anvil, deployment_file, make_job, client_rails):
    job = make_job()
    result = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "--rpc",
            anvil.url,
            "--deployment",
            str(deployment_file),
            "--private-key-env",
            KEY_VAR,
            "client",
            "cancel",
            str(job.id),
        ],
        input="n\n",
        env={KEY_VAR: dev_key(CLIENT)},
    )
    assert result.exit_code == 1 and "aborted" in result.stderr
    assert client_rails.views.job_status(job.id) is JobStatus.OPEN


def test_client_reclaim__deadline_passed__expired(w3, run, accepted_job):
    warp(w3, 7_201)

    job = run(CLIENT, "client", "reclaim", accepted_job.id)

    assert (job["status"], job["escrow"]) == ("expired", "10")


# ───────────────────────── oracle ─────────────────────────


def test_oracle_sign_attest_then_client_dispute__quorum_relayed(
    sign, run, tmp_path, accepted_job, client_rails, faucet
):
    files = [
        sign(i, "--job", accepted_job.id, "--units", 60, "--result-hash", "0x" + RESULT.hex()) for i in ORACLES[:2]
    ]
    first = json.loads(files[0].read_text())
    assert first["attestation"]["units"] == 60 and first["signature"]["signer"] == _address(ORACLES[0])

    relayed = run(RELAYER, "oracle", "attest", "--signed", files[0], "--signed", files[1])

    assert relayed["tx_hash"].startswith("0x") and relayed["gas_used"] > 0
    job = client_rails.views.job(accepted_job.id)
    assert (job.status, job.units) == (JobStatus.ATTESTED, 60)
    faucet(client_rails, usd=1)
    disputed = run(CLIENT, "--yes", "client", "dispute", accepted_job.id)
    assert (disputed["status"], disputed["dispute_bond"]) == ("disputed", "1")


def test_oracle_sign_report_uptime__below_sla__provider_jailed(sign, w3, run, registered_provider):
    epoch = finish_sla_epoch(w3, registered_provider)
    files = [
        sign(i, "--uptime-provider", registered_provider.address, "--epoch", epoch, "--uptime-bps", 9_000)
        for i in ORACLES[1:]
    ]

    run(RELAYER, "oracle", "report-uptime", "--signed", files[0], "--signed", files[1])

    status = registered_provider.provider.status()
    assert (status.jailed, status.staked) == (True, Decimal(1_900))
    assert registered_provider.views.is_reported(registered_provider.address, epoch)


# ───────────────────────── failures: one line, no traceback ─────────────────────────


def test_main__nothing_to_withdraw__sdk_error_line(fail):
    assert fail(CLIENT, "client", "withdraw").startswith("error: NothingClaimable: ")


def test_main__other_clients_job__not_allowed_line(fail, make_job):
    job = make_job()
    assert fail(OTHER_CLIENT, "--yes", "client", "cancel", job.id).startswith("error: NotAllowed: only job 1's client")


def test_main__unknown_job__error_line(fail):
    assert fail(CLIENT, "client", "status", 999) == "error: job 999 does not exist"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--deadline", "soon", "--unit-price", "1"], "error: cannot read deadline 'soon'"),
        (["--deadline", "2h", "--unit-price", "abc"], "error: Invalid value for '--unit-price': 'abc' is not a number"),
        (["--deadline", "2h", "--unit-price", "1", "--max-units", "0"], "error: Invalid value for '--max-units'"),
    ],
    ids=["deadline", "unit_price", "max_units"],
)
def test_main__bad_create_job_input__error_line(fail, args, message):
    base = ["client", "create-job", "--provider", "0x" + "11" * 20, "--spec-hash", "0x" + SPEC.hex()]
    if "--max-units" not in args:
        base += ["--max-units", "1"]
    assert fail(CLIENT, *base, *args).startswith(message)


def test_main__amount_not_finite_or_huge__error_line(fail, registered_provider):
    assert fail(PROVIDER, "provider", "stake", "Infinity") == (
        "error: Invalid value for 'AMOUNT': 'Infinity' is not a finite number of a token's size"
    )
    assert fail(PROVIDER, "provider", "stake", "1e400000000").startswith(
        "error: Invalid value for 'AMOUNT': '1e400000000' is not a finite"
    )
    assert registered_provider.provider.status().staked == Decimal(2_000)


def test_main__key_env_unset__error_line(fail, anvil, deployment_file):
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--private-key-env", "CR_NOT_SET"]
    assert fail(None, "client", "withdraw", base=base) == "error: environment variable CR_NOT_SET is empty or unset"


def test_main__node_unreachable__error_line(fail, deployment_file):
    line = fail(
        None,
        "provider",
        "status",
        "0x" + "11" * 20,
        base=["--rpc", f"http://127.0.0.1:{free_port()}", "--deployment", str(deployment_file)],
    )
    assert line.startswith("error: RPCUnavailable: node http://127.0.0.1:") and "(connection refused)" in line


def test_main__signed_files_over_different_statements__error_line(sign, fail, run, tmp_path, accepted_job):
    a = sign(ORACLES[0], "--job", accepted_job.id, "--units", 1, "--result-hash", "0x" + RESULT.hex())
    b = sign(ORACLES[1], "--job", accepted_job.id, "--units", 2, "--result-hash", "0x" + RESULT.hex())
    assert fail(RELAYER, "oracle", "attest", "--signed", a, "--signed", b) == (
        "error: the signed files are over different statements"
    )
    assert fail(RELAYER, "oracle", "sign") == "error: give either --job or --uptime-provider"


# ───────────────────────── mistyped addresses: one line, nothing sent ─────────────────────────

CHECKSUM_WRONG = "has a wrong EIP-55 checksum: it is probably mistyped; copy it again from its source"


def _books(rails):
    """What a createJob sent by mistake would change: mined and pending nonce, wallet, job count."""
    pending = rails.w3.eth.get_transaction_count(rails.address, "pending")
    return nonce_of(rails), pending, rails.views.wallet(rails.address), rails.views.job_count()


@pytest.mark.parametrize("typo", [flip_case, mistype_digit], ids=["case_flipped", "digit_mistyped"])
def test_client_create_job__mistyped_checksum__one_error_line_nothing_sent(
    fail, client_rails, registered_provider, faucet, typo
):
    faucet(client_rails, usd=100)
    wrong = typo(registered_provider.address)
    before = _books(client_rails)

    line = fail(
        CLIENT,
        "--yes",
        "client",
        "create-job",
        "--provider",
        wrong,
        "--unit-price",
        "0.10",
        "--max-units",
        100,
        "--spec-hash",
        "0x" + SPEC.hex(),
    )

    assert line == f"error: Invalid value for '--provider': address {wrong} {CHECKSUM_WRONG}"
    assert _books(client_rails) == before == (before[0], before[0], Decimal(100), 0)


def test_client_create_job__mistyped_token__one_error_line_nothing_sent(
    fail, client_rails, registered_provider, faucet, usd
):
    faucet(client_rails, usd=100)
    before = _books(client_rails)

    line = fail(
        CLIENT,
        "client",
        "create-job",
        "--provider",
        registered_provider.address,
        "--unit-price",
        "0.10",
        "--max-units",
        100,
        "--spec-hash",
        "0x" + SPEC.hex(),
        "--token",
        flip_case(usd.address),
    )

    assert line == f"error: Invalid value for '--token': address {flip_case(usd.address)} {CHECKSUM_WRONG}"
    assert _books(client_rails) == before


def test_client_create_job__provider_all_lower_case__job_created(run, client_rails, registered_provider, faucet):
    faucet(client_rails, usd=10)

    job = run(
        CLIENT,
        "client",
        "create-job",
        "--provider",
        registered_provider.address.lower(),
        "--unit-price",
        "0.10",
        "--max-units",
        100,
        "--spec-hash",
        "0x" + SPEC.hex(),
    )

    assert (job["id"], job["provider"]) == (1, registered_provider.address)


def test_provider_status_and_uptime_sign__mistyped_address__one_error_line_each(fail, registered_provider):
    wrong = flip_case(registered_provider.address)

    assert fail(None, "provider", "status", wrong) == (
        f"error: Invalid value for '[ADDRESS]': address {wrong} {CHECKSUM_WRONG}"
    )
    assert fail(ORACLES[0], "oracle", "sign", "--uptime-provider", wrong, "--epoch", 0, "--uptime-bps", 9_000) == (
        f"error: Invalid value for '--uptime-provider': address {wrong} {CHECKSUM_WRONG}"
    )
    assert fail(None, "provider", "status", "0x1234") == (
        "error: Invalid value for '[ADDRESS]': address 0x1234 is not 20 bytes of hex: expected 0x followed by 40 hex "
        "digits"
    )


def test_oracle_attest__signed_files_with_mistyped_provider__one_error_line_nothing_sent(
    sign, fail, run, tmp_path, accepted_job, relayer_rails
):
    files = [
        sign(i, "--job", accepted_job.id, "--units", 60, "--result-hash", "0x" + RESULT.hex()) for i in ORACLES[:2]
    ]
    wrong = flip_case(accepted_job.provider)
    for path in files:
        signed = json.loads(path.read_text())
        signed["attestation"]["provider"] = wrong
        path.write_text(json.dumps(signed))
    before = nonce_of(relayer_rails)

    line = fail(RELAYER, "oracle", "attest", "--signed", files[0], "--signed", files[1])

    assert line == f"error: Attestation: provider: provider address {wrong} {CHECKSUM_WRONG}"
    assert nonce_of(relayer_rails) == before
    assert relayer_rails.views.job_status(accepted_job.id) is JobStatus.ACCEPTED


# ───────────────────────── accounts ─────────────────────────


def _keystore(path: Path, index: int, password: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(dev_key(index), password, kdf="pbkdf2", iterations=2)))
    return path


def test_keystore__password_from_env__signs_as_its_account(run, anvil, deployment_file, tmp_path, registered_provider):
    keystore = _keystore(tmp_path / "provider.json", PROVIDER, "pw")
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--keystore", str(keystore)]

    status = run(None, "provider", "status", base=base, env={"COMPUTERAILS_PASSWORD": "pw"})

    assert (status["address"], status["staked"]) == (registered_provider.address, "2000")


def test_keystore__wrong_password__error_line(fail, anvil, deployment_file, tmp_path, monkeypatch):
    keystore = _keystore(tmp_path / "provider.json", PROVIDER, "pw")
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", "not-pw")
    line = fail(
        None,
        "provider",
        "status",
        base=["--rpc", anvil.url, "--deployment", str(deployment_file), "--keystore", str(keystore)],
    )
    assert line == f"error: wrong password for keystore {keystore}"


def test_account_alias__ape_accounts_folder__signs_as_its_account(
    run, anvil, deployment_file, tmp_path, monkeypatch, make_job
):
    monkeypatch.setenv("HOME", str(tmp_path))
    _keystore(tmp_path / ".ape" / "accounts" / "alice.json", CLIENT, "secret")
    job = make_job()  # created by the client key that alice's keystore holds
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--account", "alice"]

    jobs = run(None, "client", "status", base=base, env={"COMPUTERAILS_PASSWORD": "secret"})

    assert [(j["id"], j["client"]) for j in jobs] == [(job.id, _address(CLIENT))]


def test_account_alias__unknown_name__error_line(fail, anvil, deployment_file, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    line = fail(
        None, "client", "status", base=["--rpc", anvil.url, "--deployment", str(deployment_file), "--account", "bob"]
    )
    assert line.startswith(f"error: cannot read keystore {tmp_path}/.ape/accounts/bob.json")


# ───────────────────────── the installed executable ─────────────────────────


def test_executable__deployments_show_and_provider_status__json(anvil, deployment_file, registered_provider):
    exe = shutil.which("computerails") or str(Path(sys.executable).parent / "computerails")
    base = [exe, "--rpc", anvil.url, "--deployment", str(deployment_file), "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPUTERAILS_")}

    shown = subprocess.run(base + ["deployments", "show"], capture_output=True, text=True, timeout=60, env=env)
    status = subprocess.run(
        base + ["provider", "status", registered_provider.address], capture_output=True, text=True, timeout=60, env=env
    )

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["chainId"] == 31337
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["staked"] == "2000"
