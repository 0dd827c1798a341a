"""Devnet onboarding from the command line (issue 11): `devnet fund` gives test tokens and ether
on a devnet and refuses anything else, `devnet deploy` leaves a deployment on a node that keeps
running, `account new` writes a keystore that --keystore and --account (Ape's folder) unlock."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import HTTPProvider, Web3

from computerails.cli import cli
from computerails.devnet import dev_address, key_of_ape_account
from computerails.devnet.faucet import devnet_token_name, same_code
from tests.support.anvil import Anvil
from tests.support.sdk import KEY_VAR

NEWCOMER = Web3.to_checksum_address("0x" + "ab" * 20)
PASSWORD = "correct horse battery staple"
_NO_PASSWORD: dict[str, str | None] = {"COMPUTERAILS_PASSWORD": None}


@pytest.fixture(scope="module")
def other_chain():
    """An anvil that is not a devnet by chain id."""
    node = Anvil(extra_args=("--chain-id", "4242")).start()
    yield node
    node.stop()


def _w3(url):
    return Web3(HTTPProvider(url))


def _books(w3, address):
    """What funding changes: the dev deployer's nonce, the recipient's ether, the block number."""
    return w3.eth.get_transaction_count(dev_address(0)), w3.eth.get_balance(address), w3.eth.block_number


# ───────────────────────── devnet fund ─────────────────────────


def test_devnet_fund__devnet__test_tokens_and_ether(run, readonly):
    funded = run(None, "devnet", "fund", "0x" + "AB" * 20, "--usd", "12.5", "--eth", "1.5")

    usd, stk = readonly.token(), readonly.staking_token
    checksummed = NEWCOMER
    assert funded == {
        "address": checksummed,
        "chain_id": 31337,
        "given": {"mUSD": "12.5", "mCRS": "10000", "ETH": "1.5"},
        "balances": {"mUSD": "12.5", "mCRS": "10000", "ETH": "1.5"},
    }
    assert readonly.views.wallet(checksummed) == Decimal("12.5")
    assert readonly.read("ERC20Permit", stk.address, "balanceOf", checksummed) == 10_000 * 10**18
    assert usd.symbol == "mUSD"
    assert readonly.w3.eth.get_balance(checksummed) == 15 * 10**17


def test_devnet_fund__twice__adds_up(run):
    run(None, "devnet", "fund", NEWCOMER, "--usd", "1", "--stake", "0", "--eth", "1")
    funded = run(None, "devnet", "fund", NEWCOMER, "--usd", "2", "--stake", "0", "--eth", "1")
    assert funded["balances"] == {"mUSD": "3", "mCRS": "0", "ETH": "2"}


def test_devnet_fund__chain_not_a_devnet__refused_nothing_sent(fail, other_chain, deployment_file):
    w3 = _w3(other_chain.url)
    before = _books(w3, NEWCOMER)

    line = fail(None, "devnet", "fund", NEWCOMER, base=["--rpc", other_chain.url, "--deployment", str(deployment_file)])

    assert line == (
        "error: NotADevnet: chain 4242 is not a devnet (devnet chain ids: 1337, 31337): its tokens are not test "
        "tokens; get them from that network's own faucet"
    )
    assert _books(w3, NEWCOMER) == before


def test_devnet_fund__token_not_a_test_token__refused_nothing_sent(fail, anvil, w3, deployment_file, tmp_path):
    data = json.loads(deployment_file.read_text())
    impostor = data["contracts"]["JobEscrow"]  # has code, but is no test token
    data["tokens"]["payment"] = [impostor]
    forged = tmp_path / "31337.json"
    forged.write_text(json.dumps(data))
    before = _books(w3, NEWCOMER)

    line = fail(None, "devnet", "fund", NEWCOMER, base=["--rpc", anvil.url, "--deployment", str(forged)])

    assert line == (
        f"error: NotADevnet: the payment token {impostor} on chain 31337 is not one of the devnet's test tokens "
        "(MockUSD, MockStakeToken): refusing to mint"
    )
    assert _books(w3, NEWCOMER) == before


def test_devnet_fund__negative_amount__refused_nothing_sent(fail, w3):
    before = _books(w3, NEWCOMER)
    assert fail(None, "devnet", "fund", NEWCOMER, "--stake", "-5") == "error: --stake must not be negative, got -5"
    assert _books(w3, NEWCOMER) == before


def test_devnet_fund__keystore_and_no_address__funds_the_keystore_without_its_password(
    run, anvil, deployment_file, readonly, tmp_path
):
    path = tmp_path / "me.json"
    made = _new("--out", path, env={"COMPUTERAILS_PASSWORD": PASSWORD})
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--keystore", str(path)]

    # No password in the environment and no terminal: a prompt would abort the command.
    funded = run(None, "devnet", "fund", "--usd", "2", "--stake", "0", "--eth", "1", base=base, env=_NO_PASSWORD)

    assert funded["address"] == made["address"]
    assert readonly.views.wallet(made["address"]) == Decimal(2)


def test_devnet_fund__no_address_and_no_account__refused_nothing_sent(fail, w3):
    before = _books(w3, NEWCOMER)
    line = fail(None, "devnet", "fund")
    assert line == "error: give ADDRESS, or the account to fund with --keystore FILE or --account NAME"
    assert _books(w3, NEWCOMER) == before


def test_devnet_token_name__deployed_tokens_and_others__recognised(readonly):
    code = readonly.w3.eth.get_code
    assert devnet_token_name(bytes(code(readonly.token().address))) == "MockUSD"
    assert devnet_token_name(bytes(code(readonly.staking_token.address))) == "MockStakeToken"
    assert devnet_token_name(bytes(code(readonly.escrow.address))) is None
    assert devnet_token_name(b"") is None
    assert not same_code(b"\x60\x80\x00\x01", b"\x60\x80\x00\x02")  # a changed opcode is no immutable


# ───────────────────────── devnet deploy ─────────────────────────


def test_devnet_deploy__running_anvil__deployment_check_passes(run, tmp_path):
    with Anvil() as node:
        base = ["--rpc", node.url]
        deployed = run(None, "devnet", "deploy", "--out", tmp_path, base=base)
        path = Path(deployed["file"])

        check = run(None, "deployments", "check", base=base + ["--deployment", str(path)])
        funded = run(None, "devnet", "fund", NEWCOMER, base=base + ["--deployment", str(path)])

    written = json.loads(path.read_text())
    assert path == tmp_path / "31337.json"
    assert {**written["contracts"], "ProtocolTimelock": written["governance"]["timelock"]} == deployed["contracts"]
    assert check["ok"] is True and check["problems"] == []
    assert funded["balances"]["mUSD"] == "10000"


def test_devnet_deploy__chain_not_a_devnet__refused_nothing_sent(fail, other_chain, tmp_path):
    before = _books(_w3(other_chain.url), NEWCOMER)

    line = fail(None, "devnet", "deploy", "--out", tmp_path, base=["--rpc", other_chain.url])

    assert line.startswith("error: NotADevnet: chain 4242 is not a devnet")
    assert _books(_w3(other_chain.url), NEWCOMER) == before and not list(tmp_path.iterdir())


# ───────────────────────── account new ─────────────────────────


@pytest.fixture
def home(tmp_path, monkeypatch):
    """HOME in a temporary folder, so ~/.ape/accounts is the test's own."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("APE_DATA_FOLDER", raising=False)
    return tmp_path / "home"


def _new(*args, env=None, input=None):
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["--json", "account", "new", *map(str, args)], env=env, input=input, catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_account_new__out_file__keystore_unlocks_with_keystore_option(
    fail, anvil, deployment_file, tmp_path, monkeypatch
):
    path = tmp_path / "keys" / "me.json"

    made = _new("--out", path, env={"COMPUTERAILS_PASSWORD": PASSWORD})

    keystore = json.loads(path.read_text())
    assert made == {"address": made["address"], "keystore": str(path), "use": f"--keystore {path}"}
    assert keystore["version"] == 3 and keystore["address"].lower() == made["address"][2:].lower()
    assert path.stat().st_mode & 0o777 == 0o600
    # A signing command unlocks it: the SDK then refuses the withdrawal as that account's.
    monkeypatch.setenv("CR_PW", PASSWORD)
    base = [
        "--rpc",
        anvil.url,
        "--deployment",
        str(deployment_file),
        "--keystore",
        str(path),
        "--password-env",
        "CR_PW",
    ]
    line = fail(None, "client", "withdraw", base=base)
    assert line == f"error: NothingClaimable: {made['address']} has nothing claimable in mUSD"


def test_account_new__name__ape_account_unlocks_with_account_option(fail, anvil, deployment_file, home, monkeypatch):
    made = _new("--name", "newcomer", env={"COMPUTERAILS_PASSWORD": PASSWORD})
    path = home / ".ape" / "accounts" / "newcomer.json"
    assert made["keystore"] == str(path) and made["use"] == "--account newcomer"

    # The CLI's --account NAME unlocks it (the SDK then names the account in its refusal) ...
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", PASSWORD)
    line = fail(
        None,
        "client",
        "withdraw",
        base=["--rpc", anvil.url, "--deployment", str(deployment_file), "--account", "newcomer"],
    )
    assert line == f"error: NothingClaimable: {made['address']} has nothing claimable in mUSD"
    # ... and so does Ape (its keyfile account over the same file, as scripts/ decrypt it).
    from ape_accounts.accounts import KeyfileAccount

    ape_account = KeyfileAccount(keyfile_path=path)
    assert ape_account.address == made["address"]
    key = key_of_ape_account(ape_account, lambda alias: PASSWORD)
    assert Account.from_key(key).address == made["address"]


def test_account_new__prompted_password__asked_twice(tmp_path):
    path = tmp_path / "me.json"
    made = _new("--out", path, env={"COMPUTERAILS_PASSWORD": None}, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert Account.from_key(Account.decrypt(path.read_text(), PASSWORD)).address == made["address"]


def test_account_new__imported_key__same_address(tmp_path):
    key = "0x" + "42" * 32
    made = _new(
        "--out", tmp_path / "k.json", "--import-key-env", KEY_VAR, env={KEY_VAR: key, "COMPUTERAILS_PASSWORD": "x"}
    )
    assert made["address"] == Account.from_key(key).address


def test_account_new__file_exists__refused_untouched(fail, tmp_path, monkeypatch):
    path = tmp_path / "me.json"
    path.write_text("precious")
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", PASSWORD)

    line = fail(None, "account", "new", "--out", path, base=[])

    assert line == f"error: {path} exists already: refusing to overwrite a keystore (choose another name)"
    assert path.read_text() == "precious"
    assert (
        fail(None, "account", "new", base=[]) == "error: give exactly one of --name NAME (an Ape account) or --out FILE"
    )
    assert fail(None, "account", "new", "--name", "../evil", base=[]).startswith("error: account name '../evil' may")


# ───────────────────────── account address ─────────────────────────


def test_account_address__keystore__printed_without_its_password(run, tmp_path):
    path = tmp_path / "me.json"
    made = _new("--out", path, env={"COMPUTERAILS_PASSWORD": PASSWORD})
    base = ["--keystore", str(path)]

    assert run(None, "account", "address", base=base, as_json=False, env=_NO_PASSWORD) == made["address"] + "\n"
    assert run(None, "account", "address", base=base, env=_NO_PASSWORD) == {"address": made["address"]}


def test_account_address__keystore_without_address_field__unlocked_for_it(run, tmp_path):
    path = tmp_path / "bare.json"
    keyfile = Account.encrypt("0x" + "42" * 32, PASSWORD)
    del keyfile["address"]
    path.write_text(json.dumps(keyfile))

    shown = run(None, "account", "address", base=["--keystore", str(path)], env={"COMPUTERAILS_PASSWORD": PASSWORD})

    assert shown == {"address": Account.from_key("0x" + "42" * 32).address}


def test_account_address__no_account__refused(fail):
    line = fail(None, "account", "address", base=[])
    assert line == "error: no account: pass --keystore FILE, --account NAME or (devnets) --private-key-env VAR"


def test_devnet_add_oracle__keystore__joins_the_quorum_config_moves_on_then_refused_twice(
    run, fail, anvil, deployment_file, readonly, tmp_path
):
    path = tmp_path / "oracle.json"
    made = _new("--out", path, env={"COMPUTERAILS_PASSWORD": PASSWORD})
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--keystore", str(path)]
    before = readonly.views.oracle_set()

    added = run(None, "devnet", "add-oracle", "--threshold", 3, base=base, env=_NO_PASSWORD)

    assert added["oracle"] == made["address"]
    assert added["oracles"] == before["oracles"] + [made["address"]]
    assert (added["threshold"], added["config_version"]) == (3, before["config_version"] + 2)  # one per change
    assert readonly.oracle.oracles() == added["oracles"]
    line = fail(None, "devnet", "add-oracle", made["address"])
    assert line == f"error: {made['address']} is already an oracle of the hub at {readonly.hub.address}"


def test_devnet_add_oracle__threshold_above_the_oracles__refused_nothing_changed(fail, readonly):
    before = readonly.views.oracle_set()
    line = fail(None, "devnet", "add-oracle", NEWCOMER, "--threshold", 9)
    assert line == f"error: --threshold 9 exceeds the {len(before['oracles']) + 1} oracles there will be"
    assert readonly.views.oracle_set() == before
