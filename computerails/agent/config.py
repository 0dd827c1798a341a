"""The provider agent's settings: a TOML file plus ``COMPUTERAILS_AGENT_*`` environment overrides.

Precedence, highest first: values passed in code (tests), the environment
(``COMPUTERAILS_AGENT_PORT=8701``), the TOML file. Everything is checked at start-up and every
problem is reported at once, one line, naming the field (:class:`~computerails.errors.AgentConfigError`).

Example ``agent.toml``::

    rpc_url = "http://127.0.0.1:8545"
    deployment = "deployments/31337.json"
    keystore = "provider-key.json"          # V3 keystore (computerails account new)
    password_file = "provider-key.password"  # or the env var named by password_env
    data_dir = "agent-data"
    port = 8700
    price = "0.01"                          # token units per request
    native_price = "3000"                   # token units one native coin (ETH) is worth
    collect_interval = 300                  # seconds between collection rounds (0: never)

Amounts (``price``, ``min_escrow``, ``native_price``) are token units, read as decimals and
converted with the token's decimals once the agent knows the token.
"""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from computerails.addresses import parse_address
from computerails.errors import AgentConfigError, InvalidAddress
from computerails.vouchers import validation_problems

ENV_PREFIX = "COMPUTERAILS_AGENT_"
DATABASE_FILE = "agent.sqlite"

#: The TOML file the next AgentSettings reads (set by :func:`load_settings`).
_toml_file: ContextVar[Path | None] = ContextVar("computerails_agent_toml", default=None)


class AgentSettings(BaseSettings):
    """Everything the provider agent needs to serve and get paid."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # ── chain and key ──
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: str = Field(description="deployments/<chainId>.json, or a chain id of the SDK's registry")
    keystore: Path = Field(description="the provider's V3 keystore file")
    password_env: str = Field("COMPUTERAILS_PASSWORD", description="env var holding the keystore password")
    password_file: Path | None = Field(None, description="a file holding the password (read if given)")

    # ── HTTP ──
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65_535)  # 0: any free port (the bound address is logged)
    max_body_bytes: int = Field(16_384, gt=0)
    request_timeout: float = Field(10.0, gt=0)  # seconds to receive a request's body
    graceful_timeout: float = Field(30.0, gt=0)  # seconds in-flight requests get on SIGTERM

    # ── state ──
    data_dir: Path

    # ── payment terms ──
    price: Decimal = Field(gt=0)  # token units per request
    token: str | None = None  # default: the deployment's first payment token
    safety_margin_bps: int = Field(1_000, ge=0, le=10_000)
    min_escrow: Decimal = Field(Decimal(0), ge=0)  # token units

    # ── collection policy ──
    collect_interval: float = Field(300.0, ge=0)  # seconds between rounds; 0 turns collection off
    min_value_per_gas: Decimal = Field(Decimal(1), gt=0)
    native_price: Decimal | None = Field(None, gt=0)  # token units per native coin; None: collect on thaws only
    receipt_timeout: float = Field(120.0, gt=0)  # seconds a round waits for a collection's receipt

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        return None if v is None else parse_address(v, "token")

    @field_validator("price", "min_escrow", "native_price", "min_value_per_gas")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not v.is_finite():
            raise ValueError("must be a finite number")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _toml_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def database(self) -> Path:
        """The agent's SQLite file (vouchers, receipts, the collection journal)."""
        return self.data_dir / DATABASE_FILE

    def password(self) -> str:
        """The keystore password: from :attr:`password_file` if set, else the env var
        :attr:`password_env` names.

        Raises:
            AgentConfigError: neither gives one.
        """
        if self.password_file is not None:
            try:
                return self.password_file.expanduser().read_text().rstrip("\r\n")
            except OSError as exc:
                raise AgentConfigError(f"password_file: cannot read {self.password_file}: {exc}") from None
        value = os.environ.get(self.password_env)
        if value is None:
            raise AgentConfigError(
                f"no keystore password: set the environment variable {self.password_env} or password_file"
            )
        return value

    def private_key(self) -> bytes:
        """The provider's key, decrypted from the keystore.

        Raises:
            AgentConfigError: the keystore is unreadable, not a V3 keystore, or the password is wrong.
        """
        path = self.keystore.expanduser()
        try:
            keyfile = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise AgentConfigError(f"keystore: cannot read {path}: {exc}") from None
        password = self.password()
        try:
            return bytes(Account.decrypt(keyfile, password))
        except ValueError:
            raise AgentConfigError(f"keystore: wrong password for {path}") from None
        except (KeyError, TypeError) as exc:
            raise AgentConfigError(f"keystore: {path} is not a V3 keystore ({type(exc).__name__} {exc})") from None


def load_settings(path: str | Path | None = None, **overrides: Any) -> AgentSettings:
    """Read the settings from the TOML file `path`, the environment and `overrides`.

    Raises:
        AgentConfigError: the file is missing or not TOML, or a value is missing or invalid
            (all problems in one line).
    """
    toml = None if path is None else Path(path).expanduser()
    if toml is not None and not toml.is_file():
        raise AgentConfigError(f"config file {toml} does not exist")
    token = _toml_file.set(toml)
    try:
        return AgentSettings(**overrides)
    except ValidationError as exc:
        raise AgentConfigError(f"invalid agent settings: {validation_problems(exc)}") from None
    except InvalidAddress as exc:
        raise AgentConfigError(f"invalid agent settings: {exc}") from None
    except ValueError as exc:  # the TOML file does not parse
        raise AgentConfigError(f"config file {toml}: {exc}") from None
    finally:
        _toml_file.reset(token)
