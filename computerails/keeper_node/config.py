"""The keeper's settings: a TOML file plus ``COMPUTERAILS_KEEPER_*`` environment overrides.

Precedence, highest first: values passed in code (tests), the environment
(``COMPUTERAILS_KEEPER_INTERVAL=5``), the TOML file. Everything is checked at start-up and every
problem is reported at once, in one line naming each field
(:class:`~computerails.errors.AgentConfigError`).

Example ``keeper.toml``::

    rpc_url = "http://127.0.0.1:8545"
    deployment = "deployments/31337.json"
    keystore = "keeper-key.json"             # V3 keystore (computerails account new)
    password_file = "keeper-key.password"    # or the env var named by password_env
    data_dir = "keeper-data"
    port = 8720
    interval = 15                            # seconds between passes
    min_value_per_gas = "1"                  # value moved (or reward earned) per unit of gas cost
    native_price = { mUSD = "3000", mCRS = "3000" }   # token units one native coin is worth
    parties = ["0x..."]                      # jobs of these addresses are kept moving whatever the gas
    oracle_urls = ["http://127.0.0.1:8801"]  # oracle nodes serving GET /v1/reports

Tables and lists take JSON in the environment:
``COMPUTERAILS_KEEPER_NATIVE_PRICE='{"mUSD": "3000"}'``, ``COMPUTERAILS_KEEPER_PARTIES='["0x..."]'``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from computerails.addresses import parse_address
from computerails.service import settings as service
from computerails.service.settings import ServiceSettings, finite

ENV_PREFIX = "COMPUTERAILS_KEEPER_"
DATABASE_FILE = "keeper.sqlite"


class KeeperSettings(ServiceSettings):
    """Everything the keeper needs (the chain, the key, ``host``, ``graceful_timeout`` and
    ``data_dir`` from :class:`~computerails.service.settings.ServiceSettings`). Amounts are token
    units; durations are seconds."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    # ── HTTP ──
    port: int = Field(8720, ge=0, le=65_535)  # 0: any free port (the bound address is logged)

    # ── the loop ──
    interval: float = Field(15.0, gt=0)  # seconds between passes
    settle: bool = True  # settle jobs whose challenge window (or lapsed dispute) ended
    reclaim: bool = True  # reclaim expired jobs; cancel own jobs left open past the accept window
    relay: bool = True  # relay uptime reports naming the keeper, and claim its rewards
    max_batch: int = Field(50, ge=1)  # jobs per settleMany transaction, at most
    log_batch: int = Field(2_000, ge=1)  # blocks per eth_getLogs request
    receipt_timeout: float = Field(120.0, gt=0)  # seconds a pass waits for a journalled transaction

    # ── worth the gas ──
    min_value_per_gas: Decimal = Field(Decimal(1), gt=0)  # value (or reward) per unit of gas cost
    native_price: dict[str, Decimal] = {}  # token address or symbol -> token units per native coin
    parties: frozenset[str] = frozenset()  # jobs of these clients or providers move whatever the gas

    # ── uptime reports ──
    oracle_urls: tuple[str, ...] = ()  # oracle nodes whose GET /v1/reports the keeper polls
    oracle_timeout: float = Field(5.0, gt=0)  # seconds per request to an oracle node

    @field_validator("native_price")
    @classmethod
    def _prices(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for token, price in v.items():
            if not price.is_finite() or price <= 0:
                raise ValueError(f"{token}: must be a finite number above 0")
        return v

    @field_validator("parties")
    @classmethod
    def _parties(cls, v: frozenset[str]) -> frozenset[str]:
        return frozenset(parse_address(a, "parties") for a in v)

    @field_validator("oracle_urls")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return tuple(url.rstrip("/") for url in v)

    @field_validator("min_value_per_gas")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        return finite(v)

    @property
    def database(self) -> Path:
        """The keeper's SQLite file (the job cursor and the transaction journal)."""
        return self.data_dir / DATABASE_FILE


def load_settings(path: str | Path | None = None, **overrides: Any) -> KeeperSettings:
    """Read the settings from the TOML file `path`, the environment and `overrides`.

    Raises:
        AgentConfigError: the file is missing or not TOML, or a value is missing or invalid
            (all problems in one line).
    """
    return service.load_settings(KeeperSettings, path, "keeper settings", **overrides)
