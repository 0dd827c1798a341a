"""The agent's settings and start-up errors, without a chain: TOML plus environment overrides,
validation in one line naming every field, the keystore password from env or file, and the
one-line `error:` of both entry points."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import tomllib
from eth_account import Account

from computerails.agent.config import load_settings
from computerails.agent.serve import main as provider_main
from computerails.cli import main
from computerails.errors import AgentConfigError
from tests.support.agent import write_config

KEY = "0x" + "42" * 32


@pytest.fixture
def config(tmp_path):
    keyfile = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=1_000)
    (tmp_path / "key.json").write_text(json.dumps(keyfile))
    return write_config(
        tmp_path / "agent.toml",
        deployment="deployments/31337.json",
        keystore=str(tmp_path / "key.json"),
        data_dir=str(tmp_path / "data"),
        price="0.01",
        port=8700,
    )


def test_load__toml_then_env_overrides(config, monkeypatch):
    monkeypatch.setenv("COMPUTERAILS_AGENT_PORT", "8801")
    monkeypatch.setenv("COMPUTERAILS_AGENT_SAFETY_MARGIN_BPS", "500")

    settings = load_settings(config)

    assert (settings.port, settings.safety_margin_bps, settings.price) == (8801, 500, Decimal("0.01"))
    assert (settings.host, settings.database) == ("127.0.0.1", config.parent / "data" / "agent.sqlite")


def test_load__missing_and_invalid_fields__one_error_names_each(tmp_path):
    path = write_config(tmp_path / "agent.toml", safety_margin_bps=20_000, price="-1", token="0x1234")

    with pytest.raises(AgentConfigError) as info:
        load_settings(path)

    message = str(info.value)
    assert "\n" not in message
    for field in ("deployment", "keystore", "data_dir", "price", "safety_margin_bps", "token"):
        assert field in message


def test_load__unknown_key__refused(config):
    config.write_text(config.read_text() + "colect_interval = 5\n")

    with pytest.raises(AgentConfigError, match="colect_interval"):
        load_settings(config)


def test_load__missing_file__refused(tmp_path):
    with pytest.raises(AgentConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_private_key__password_from_env_or_file(config, monkeypatch, tmp_path):
    monkeypatch.setenv("COMPUTERAILS_PASSWORD", "pw")
    assert load_settings(config).private_key() == bytes.fromhex(KEY[2:])

    (tmp_path / "password").write_text("pw\n")
    monkeypatch.delenv("COMPUTERAILS_PASSWORD")
    assert load_settings(config, password_file=tmp_path / "password").private_key() == bytes.fromhex(KEY[2:])


def test_private_key__wrong_or_missing_password__refused(config, monkeypatch):
    monkeypatch.delenv("COMPUTERAILS_PASSWORD", raising=False)
    with pytest.raises(AgentConfigError, match="COMPUTERAILS_PASSWORD"):
        load_settings(config).private_key()

    monkeypatch.setenv("COMPUTERAILS_PASSWORD", "not it")
    with pytest.raises(AgentConfigError, match="wrong password"):
        load_settings(config).private_key()


def test_entry_points__bad_config__one_error_line(tmp_path, capsys):
    path = write_config(tmp_path / "agent.toml", price="0.01")

    assert provider_main(["--config", str(path)]) == 1
    assert main(["provider", "serve", "--config", str(path)]) == 1

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: AgentConfigError: invalid agent settings:") for line in lines)


def test_load__jobs_section__off_by_default_toml_and_env(config, monkeypatch, tmp_path):
    assert load_settings(config).jobs.enabled is False
    path = write_config(
        tmp_path / "jobs.toml",
        **tomllib.loads(config.read_text()),
        jobs={"enabled": True, "min_unit_price": {"mUSD": "0.10"}, "kinds": ["matmul"], "max_units": 50},
    )
    monkeypatch.setenv("COMPUTERAILS_AGENT_JOBS__CAPACITY", "2")
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__MIN_CLAIM", '{"mUSD": "5"}')

    settings = load_settings(path)

    policy = settings.jobs.policy()
    assert settings.jobs.enabled and (policy.capacity, policy.max_units) == (2, 50)
    assert (policy.min_unit_price, policy.kinds) == ({"mUSD": Decimal("0.10")}, frozenset({"matmul"}))
    assert policy.claim_interval is None  # the housekeeping claims for the runner
    assert settings.housekeeping.min_claim == {"mUSD": Decimal(5)}
    assert (settings.spec_dir, settings.result_dir) == (tmp_path / "data" / "specs", tmp_path / "data" / "results")
    assert settings.jobs_database == tmp_path / "data" / "jobs.sqlite"


def test_load__jobs_invalid__one_error_names_each(config, monkeypatch):
    monkeypatch.setenv("COMPUTERAILS_AGENT_JOBS__ENABLED", "true")
    with pytest.raises(AgentConfigError, match="min_unit_price: name at least one token"):
        load_settings(config)

    monkeypatch.setenv("COMPUTERAILS_AGENT_JOBS__CAPACITY", "0")
    monkeypatch.setenv("COMPUTERAILS_AGENT_JOBS__KINDS", '["sorting"]')
    monkeypatch.setenv("COMPUTERAILS_AGENT_JOBS__POLL_INTERVAL", "-1")
    with pytest.raises(AgentConfigError) as info:
        load_settings(config)

    message = str(info.value)
    assert "\n" not in message
    for field in ("jobs.capacity", "jobs.kinds", "jobs.poll_interval"):
        assert field in message


def test_load__housekeeping_section__defaults_env_and_one_error_naming_each(config, monkeypatch):
    defaults = load_settings(config).housekeeping
    assert (defaults.interval, defaults.top_up_budget, defaults.unjail_after_downtime) == (30.0, Decimal(0), False)
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__TOP_UP_BUDGET", "250.5")
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__UNJAIL_AFTER_DOWNTIME", "true")
    settings = load_settings(config).housekeeping
    assert (settings.top_up_budget, settings.unjail_after_downtime) == (Decimal("250.5"), True)

    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__TOP_UP_BUDGET", "-1")
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__DOWNTIME_WARN_BPS", "0")
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__MIN_CLAIM", '{"mUSD": "NaN"}')
    with pytest.raises(AgentConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert "\n" not in message
    for field in ("housekeeping.top_up_budget", "housekeeping.downtime_warn_bps", "housekeeping.min_claim"):
        assert field in message

    for name in ("TOP_UP_BUDGET", "DOWNTIME_WARN_BPS", "MIN_CLAIM"):
        monkeypatch.delenv(f"COMPUTERAILS_AGENT_HOUSEKEEPING__{name}")
    monkeypatch.setenv("COMPUTERAILS_AGENT_HOUSEKEEPING__HEARTBEAT", "30")
    with pytest.raises(AgentConfigError, match="heartbeat_tolerance: must be longer than heartbeat"):
        load_settings(config)
