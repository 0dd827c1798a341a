"""Settings of a daemon: a TOML file plus ``<PREFIX>*`` environment overrides (pydantic-settings).

Precedence, highest first: values passed in code (tests), the environment, the TOML file. Every
problem is reported at once, in one line naming each field (:class:`~computerails.errors.AgentConfigError`).
A daemon's settings subclass :class:`ServiceSettings` with its own ``env_prefix`` and load with
:func:`load_settings`.
"""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from computerails.errors import AgentConfigError, InvalidAddress
from computerails.vouchers import validation_problems

#: The TOML file the next settings object reads (set by :func:`load_settings`).
_toml_file: ContextVar[Path | None] = ContextVar("computerails_service_toml", default=None)

S = TypeVar("S", bound="ServiceSettings")


def finite(v: Decimal | None) -> Decimal | None:
    """A field validator's check: no NaN or infinity."""
    if v is not None and not v.is_finite():
        raise ValueError("must be a finite number")
    return v


class ServiceSettings(BaseSettings):
    """The chain, the key and the listening address every daemon needs. Subclasses set
    ``model_config = SettingsConfigDict(env_prefix=..., env_nested_delimiter="__", extra="forbid",
    frozen=True)``."""

    # ── chain and key ──
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: str = Field(description="deployments/<chainId>.json, or a chain id of the SDK's registry")
    keystore: Path = Field(description="the operator's V3 keystore file")
    password_env: str = Field("COMPUTERAILS_PASSWORD", description="env var holding the keystore password")
    password_file: Path | None = Field(None, description="a file holding the password (read if given)")

    # ── HTTP ──
    host: str = "127.0.0.1"
    graceful_timeout: float = Field(30.0, gt=0)  # seconds in-flight requests get on SIGTERM

    # ── state ──
    data_dir: Path

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
        """The operator's key, decrypted from the keystore.

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


def load_settings(cls: type[S], path: str | Path | None = None, what: str = "settings", **overrides: Any) -> S:
    """Read `cls` from the TOML file `path`, the environment and `overrides`.

    Args:
        what: the daemon's name in messages ("agent settings").

    Raises:
        AgentConfigError: the file is missing or not TOML, or a value is missing or invalid
            (all problems in one line).
    """
    toml = None if path is None else Path(path).expanduser()
    if toml is not None and not toml.is_file():
        raise AgentConfigError(f"config file {toml} does not exist")
    token = _toml_file.set(toml)
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise AgentConfigError(f"invalid {what}: {validation_problems(exc)}") from None
    except InvalidAddress as exc:
        raise AgentConfigError(f"invalid {what}: {exc}") from None
    except ValueError as exc:  # the TOML file does not parse
        raise AgentConfigError(f"config file {toml}: {exc}") from None
    finally:
        _toml_file.reset(token)
