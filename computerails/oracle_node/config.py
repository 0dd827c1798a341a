"""The oracle node's settings: a TOML file plus ``COMPUTERAILS_ORACLE_*`` environment overrides
(the chain, the keystore, ``host``, ``graceful_timeout`` and ``data_dir`` come from
:class:`~computerails.service.settings.ServiceSettings`).

Example ``oracle.toml``::

    rpc_url = "http://127.0.0.1:8545"
    deployment = "deployments/31337.json"
    keystore = "oracle-a.json"
    password_file = "oracle-a.password"
    data_dir = "oracle-a"
    port = 8800
    peers = [
        { address = "0x…B", url = "http://127.0.0.1:8801" },
        { address = "0x…C", url = "http://127.0.0.1:8802" },
    ]
    probes_per_epoch = 12
    transmit_delay = 10          # seconds each next transmitter in the schedule waits

    [rewards]                    # compute, sign, post and veto rewards roots (on by default)
    enabled = true
    report_uptime = true         # report every provider's median uptime, above the SLA too

    [shopper]                    # the node's own paid "mystery shopper" requests (off by default)
    enabled = true
    requests_per_epoch = 2       # per provider, at secret moments
    budget = "0.10"              # token units committed per epoch, all providers: vouchers and deposits
    deposit = "0"                # > 0: deposit this once per provider whose escrow does not cover a price
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from computerails.addresses import parse_address
from computerails.service import settings as service
from computerails.service.settings import ServiceSettings
from computerails.types import ZERO_ADDRESS

ENV_PREFIX = "COMPUTERAILS_ORACLE_"
DATABASE_FILE = "oracle.sqlite"
PROBE_DATABASE_FILE = "probes.sqlite"
SHOPPER_DATABASE_FILE = "shopper.sqlite"


class Peer(BaseModel):
    """Another oracle node: its address (an oracle of the hub) and where it listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    url: str

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        return parse_address(v, "peer address")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")


class ShopperSettings(BaseModel):
    """``[shopper]``: the node's own paid requests to providers' agents, recomputed
    (docs/ORACLE_NETWORK.md, "Jobs and receipts"). Amounts are token units of `token`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    requests_per_epoch: int = Field(2, ge=1, le=1_000)  # per provider, at secret moments of the epoch
    budget: Decimal = Field(Decimal("0.1"), gt=0)  # committed per epoch, all providers: vouchers and deposits
    max_price: Decimal | None = Field(None, gt=0)  # the most one request may cost (None: what the budget allows)
    deposit: Decimal = Field(Decimal(0), ge=0)  # > 0: deposited once per provider whose escrow lacks cover
    token: str | None = None  # default: the deployment's first payment token
    wallet: Path | None = None  # its SQLite file: slots, outcomes, vouchers (default: <data_dir>/shopper.sqlite)
    tick: float = Field(1.0, gt=0)  # seconds between looks for due shops
    max_lateness: float = Field(300.0, ge=0)  # a slot this late (the node was down) is skipped, not shopped
    timeout: float = Field(10.0, gt=0)  # seconds one request may take

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        return None if v is None else parse_address(v, "shopper.token")

    @field_validator("budget", "max_price", "deposit")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        return service.finite(v)

    @model_validator(mode="after")
    def _within_budget(self) -> ShopperSettings:
        if self.deposit > self.budget:
            raise ValueError("deposit: must not exceed budget (a deposit is committed within an epoch's budget)")
        if self.max_price is not None and self.max_price > self.budget:
            raise ValueError("max_price: must not exceed budget")
        return self


class RewardsSettings(BaseModel):
    """``[rewards]``: the rewards duty (docs/ORACLE_NETWORK.md, "Rewards roots"): the node indexes
    the deployment, computes each settled root, signs and posts it with its peers, and vetoes a
    pending root its own computation contradicts. Only when the deployment has a
    RewardsDistributor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Also report every provider's median uptime at or above the SLA (no slash, no relayer: the
    # nodes transmit it), so that the availability pool weighs each provider by its measured
    # uptime; off, only epochs below the SLA are reported and the others count as 100%.
    report_uptime: bool = True
    index_interval: float = Field(2.0, gt=0)  # seconds between index updates (its own loop)
    page: int = Field(2_000, ge=1)  # blocks per eth_getLogs of the node's indexer


class OracleSettings(ServiceSettings):
    """Everything an oracle node needs to watch providers, agree with its peers and transmit."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    # ── HTTP ──
    port: int = Field(8800, ge=0, le=65_535)  # 0: any free port (the bound address is logged)
    max_body_bytes: int = Field(65_536, gt=0)

    # ── the network ──
    peers: list[Peer] = []
    gossip_ttl: float = Field(120.0, gt=0)  # seconds a message is fresh; older or later ones are refused
    gossip_interval: float = Field(5.0, gt=0)  # seconds between re-sends of the node's open messages
    peer_timeout: float = Field(3.0, gt=0)  # seconds a peer has to answer one message

    # ── uptime ──
    probes_per_epoch: int = Field(12, ge=3)
    min_probes: int = Field(3, ge=1)  # fewer counted probes: the node abstains for that provider
    probe_timeout: float = Field(2.0, gt=0)
    probe_tick: float = Field(1.0, gt=0)  # seconds between looks for due probes
    max_lateness: float = Field(10.0, ge=0)  # a slot probed later than this (the node was down) is not counted
    observe_grace: float = Field(30.0, ge=0)  # seconds after an epoch's end to gather observations
    uptime_relayer: str = ZERO_ADDRESS  # the relayer reports name (a keeper); zero: the treasury
    relayer_grace: float = Field(60.0, ge=0)  # a named relayer's head start before nodes transmit

    # ── jobs ──
    verify_jobs: bool = True
    fetch_timeout: float = Field(10.0, gt=0)  # seconds to fetch a job's result and spec
    max_fetch_bytes: int = Field(16 * 1024 * 1024, gt=0)

    # ── transmission ──
    transmit_delay: float = Field(10.0, ge=0)  # seconds per position in a round's transmitter schedule
    tick: float = Field(1.0, gt=0)  # seconds between passes of the node's loop
    receipt_timeout: float = Field(60.0, gt=0)
    max_batch: int = Field(20, ge=1)  # attestations in one submitAttestations

    # ── mystery shopper ──
    shopper: ShopperSettings = ShopperSettings()

    # ── rewards roots ──
    rewards: RewardsSettings = RewardsSettings()

    @field_validator("uptime_relayer")
    @classmethod
    def _relayer(cls, v: str) -> str:
        return parse_address(v, "uptime_relayer")

    @model_validator(mode="after")
    def _probes(self) -> OracleSettings:
        if self.min_probes > self.probes_per_epoch:
            raise ValueError("min_probes: must not exceed probes_per_epoch")
        if self.observe_grace <= self.max_lateness:
            raise ValueError("observe_grace: must exceed max_lateness (the last probes of an epoch settle first)")
        if len({p.address for p in self.peers}) != len(self.peers):
            raise ValueError("peers: an address is listed twice")
        return self

    @property
    def database(self) -> Path:
        """The node's SQLite file."""
        return self.data_dir / DATABASE_FILE

    @property
    def probe_database(self) -> Path:
        """The prober's SQLite file (slots, verdicts, the provider directory and its cursor)."""
        return self.data_dir / PROBE_DATABASE_FILE

    @property
    def shopper_wallet(self) -> Path:
        """The shopper's SQLite file: its slots, outcomes, deposits and the vouchers' cumulative
        figures (:class:`~computerails.pay_client.PayingAuth`'s wallet)."""
        return self.shopper.wallet or self.data_dir / SHOPPER_DATABASE_FILE


def load_settings(path: str | Path | None = None, **overrides: Any) -> OracleSettings:
    """Read the settings from the TOML file `path`, the environment and `overrides`.

    Raises:
        AgentConfigError: the file is missing or not TOML, or a value is missing or invalid
            (all problems in one line).
    """
    return service.load_settings(OracleSettings, path, "oracle settings", **overrides)
