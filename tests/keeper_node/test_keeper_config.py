"""The keeper's settings and start-up errors, without a chain: TOML plus environment overrides,
every problem in one line, and the one-line ``error:`` of both entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from computerails.cli import main
from computerails.errors import AgentConfigError
from computerails.keeper_node.config import load_settings
from tests.support.agent import write_config

KEY = "0x" + "42" * 32
SCRIPT = Path(sys.executable).parent / "computerails-keeper"


@pytest.fixture
def config(tmp_path):
    keyfile = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=1_000)
    (tmp_path / "key.json").write_text(json.dumps(keyfile))
    return write_config(
        tmp_path / "keeper.toml",
        deployment="deployments/31337.json",
        keystore=str(tmp_path / "key.json"),
        data_dir=str(tmp_path / "data"),
        native_price={"mUSD": "3000"},
        oracle_urls=["http://127.0.0.1:8801/"],
    )


def test_load__toml_then_env_overrides(config, monkeypatch):
    monkeypatch.setenv("COMPUTERAILS_KEEPER_INTERVAL", "2.5")
    monkeypatch.setenv("COMPUTERAILS_KEEPER_PARTIES", '["0x' + "ab" * 20 + '"]')

    settings = load_settings(config)

    assert (settings.interval, settings.port, settings.native_price) == (2.5, 8720, {"mUSD": Decimal(3000)})
    assert settings.oracle_urls == ("http://127.0.0.1:8801",)
    assert [p.lower() for p in settings.parties] == ["0x" + "ab" * 20]
    assert settings.database == config.parent / "data" / "keeper.sqlite"


def test_load__invalid_fields__one_error_names_each(tmp_path):
    path = write_config(
        tmp_path / "keeper.toml", interval=0, native_price={"mUSD": "-1"}, parties=["0x1234"], oracle_urls=["ftp://x"]
    )

    with pytest.raises(AgentConfigError) as info:
        load_settings(path)

    message = str(info.value)
    assert "\n" not in message
    for field in ("deployment", "keystore", "data_dir", "interval", "native_price", "parties", "oracle_urls"):
        assert field in message


def test_keeper_script__bad_config__one_error_line(tmp_path):
    path = write_config(tmp_path / "keeper.toml", interval=-1, max_batch=0)

    done = subprocess.run([str(SCRIPT), "--config", str(path)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: AgentConfigError: invalid keeper settings:")
    assert "interval" in line and "max_batch" in line and "keystore" in line


def test_cli_keeper_serve__missing_config__one_error_line(tmp_path, capsys):
    assert main(["keeper", "serve", "--config", str(tmp_path / "nope.toml")]) == 1

    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"error: AgentConfigError: config file {tmp_path / 'nope.toml'} does not exist"
