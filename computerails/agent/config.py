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

    [jobs]                                  # per-job work (off unless enabled)
    enabled = true
    spec_dir = "specs"                      # where clients publish specs (default <data_dir>/specs)
    min_unit_price = { mUSD = "0.10" }      # least price per unit, per token (address or symbol)
    max_duration = 86400                    # seconds from now to a job's deadline, at most
    capacity = 4                            # jobs held at once

    [housekeeping]                          # claims, stake top-ups, jail warnings
    top_up_budget = "500"                   # staking-token units the agent may add by itself
    unjail_after_downtime = true

Nested values take ``__`` in the environment: ``COMPUTERAILS_AGENT_JOBS__ENABLED=true``,
``COMPUTERAILS_AGENT_JOBS__MIN_UNIT_PRICE='{"mUSD": "0.10"}'`` (JSON for tables and lists).

Amounts (``price``, ``min_escrow``, ``native_price``) are token units, read as decimals and
converted with the token's decimals once the agent knows the token.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from computerails import workloads
from computerails.addresses import parse_address
from computerails.agent.jobs import AcceptPolicy
from computerails.service import settings as service
from computerails.service.settings import ServiceSettings, finite

ENV_PREFIX = "COMPUTERAILS_AGENT_"
DATABASE_FILE = "agent.sqlite"
JOBS_DATABASE_FILE = "jobs.sqlite"


def _token_amounts(v: dict[str, Decimal]) -> dict[str, Decimal]:
    for token, amount in v.items():
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{token}: must be a finite number at least 0")
    return v


class HousekeepingSettings(BaseModel):
    """The ``[housekeeping]`` section: claims, stake top-ups, unjailing and the jail-risk
    warnings (:mod:`computerails.agent.housekeeping`). Durations are seconds; stake amounts are
    staking-token units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: float = Field(30.0, ge=0)  # seconds between passes; 0 turns housekeeping off
    heartbeat: float = Field(5.0, gt=0)  # seconds between alive marks
    heartbeat_tolerance: float = Field(20.0, gt=0)  # a longer gap between marks is an outage

    # ── claims ──
    claim_interval: float = Field(3_600.0, ge=0)  # seconds between looks at the claimable balances
    claim_value_per_gas: Decimal = Field(Decimal(5), gt=0)  # a priced token's claim must pay this × its gas
    min_claim: dict[str, Decimal] = {}  # least balance worth a claim, for tokens without a price

    # ── jail warnings ──
    downtime_warn_bps: int = Field(5_000, ge=1, le=10_000)  # share of the SLA's allowed downtime that warns
    job_deadline_warn: float = Field(600.0, ge=0)  # warn this long before a held job's deadline

    # ── stake ──
    top_up_budget: Decimal = Field(Decimal(0), ge=0)  # the most stake the agent adds by itself; 0: never
    target_free_stake: Decimal | None = Field(None, ge=0)  # keep at least this free (backs collections)
    unjail_after_downtime: bool = False  # leave a jail that only downtime caused, once stake allows

    @field_validator("min_claim")
    @classmethod
    def _amounts(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return _token_amounts(v)

    @field_validator("claim_value_per_gas", "top_up_budget", "target_free_stake")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        return finite(v)

    @model_validator(mode="after")
    def _tolerance(self) -> HousekeepingSettings:
        if self.heartbeat_tolerance <= self.heartbeat:
            raise ValueError("heartbeat_tolerance: must be longer than heartbeat")
        return self


class JobsSettings(BaseModel):
    """The ``[jobs]`` section: the agent's unattended per-job work
    (:class:`~computerails.agent.jobs.JobRunner`). Off unless ``enabled``; amounts are token
    units per token, keyed by the token's address or symbol; durations are seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    spec_dir: Path | None = None  # where clients publish job specs; default <data_dir>/specs
    result_dir: Path | None = None  # the result store served at /v1/results; default <data_dir>/results

    # ── accept policy ──
    min_unit_price: dict[str, Decimal] = {}  # tokens not listed are refused
    max_duration: float = Field(86_400.0, gt=0)  # seconds from now to a job's deadline, at most
    capacity: int = Field(4, ge=1)  # jobs accepted and not yet settled at once
    kinds: frozenset[str] = frozenset(workloads.JOB_TYPES)  # job types run here
    max_units: int | None = Field(None, ge=1)  # most units of work one job may take

    # ── the loop ──
    poll_interval: float = Field(2.0, gt=0)  # seconds between passes
    confirmations: int = Field(0, ge=0)  # blocks a JobCreated must be buried under

    @field_validator("min_unit_price")
    @classmethod
    def _amounts(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return _token_amounts(v)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: frozenset[str]) -> frozenset[str]:
        unknown = sorted(v - set(workloads.JOB_TYPES))
        if unknown:
            raise ValueError(f"unknown job types {unknown}; known: {list(workloads.JOB_TYPES)}")
        if not v:
            raise ValueError("name at least one job type")
        return v

    @model_validator(mode="after")
    def _priced(self) -> JobsSettings:
        if self.enabled and not self.min_unit_price:
            raise ValueError('min_unit_price: name at least one token (e.g. { mUSD = "0.10" }) to accept jobs')
        return self

    def policy(self) -> AcceptPolicy:
        """The runner's :class:`~computerails.agent.jobs.AcceptPolicy`."""
        return AcceptPolicy(
            min_unit_price=self.min_unit_price,
            max_duration=timedelta(seconds=self.max_duration),
            capacity=self.capacity,
            kinds=self.kinds,
            max_units=self.max_units,
            claim_interval=None,  # the agent's housekeeping claims (and tells the runner)
        )


class AgentSettings(ServiceSettings):
    """Everything the provider agent needs to serve and get paid (the chain, the key, ``host``,
    ``graceful_timeout`` and ``data_dir`` from :class:`~computerails.service.settings.ServiceSettings`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    # ── HTTP ──
    port: int = Field(8700, ge=0, le=65_535)  # 0: any free port (the bound address is logged)
    max_body_bytes: int = Field(16_384, gt=0)
    request_timeout: float = Field(10.0, gt=0)  # seconds to receive a request's body

    # ── payment terms ──
    payment: bool = True  # false: /v1/infer serves everyone free, no receipt (a benchmark baseline)
    price: Decimal = Field(gt=0)  # token units per request
    token: str | None = None  # default: the deployment's first payment token
    safety_margin_bps: int = Field(1_000, ge=0, le=10_000)
    cover_ttl: float = Field(2.0, ge=0)  # seconds a steady escrow view is reused; below the thaw periods
    min_escrow: Decimal = Field(Decimal(0), ge=0)  # token units

    # ── fault injection (demos and tests only) ──
    # N > 0: every Nth paid answer is wrong (another label), and its receipt signs it as given,
    # so the oracles' recomputation catches it; 0: the model's answers, always.
    wrong_answer_every: int = Field(0, ge=0)

    # ── collection policy ──
    collect_interval: float = Field(300.0, ge=0)  # seconds between rounds; 0 turns collection off
    min_value_per_gas: Decimal = Field(Decimal(1), gt=0)
    native_price: Decimal | None = Field(None, gt=0)  # token units per native coin; None: collect on thaws only
    receipt_timeout: float = Field(120.0, gt=0)  # seconds a round waits for a collection's receipt

    # ── per-job work ──
    jobs: JobsSettings = JobsSettings()

    # ── claims, stake, jail warnings ──
    housekeeping: HousekeepingSettings = HousekeepingSettings()

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        return None if v is None else parse_address(v, "token")

    @field_validator("price", "min_escrow", "native_price", "min_value_per_gas")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        return finite(v)

    @property
    def database(self) -> Path:
        """The agent's SQLite file (vouchers, receipts, the collection journal)."""
        return self.data_dir / DATABASE_FILE

    @property
    def jobs_database(self) -> Path:
        """The per-job runner's SQLite file (jobs and their stage, the block cursor)."""
        return self.data_dir / JOBS_DATABASE_FILE

    @property
    def spec_dir(self) -> Path:
        """Where the runner reads published job specs: ``[jobs] spec_dir`` or ``<data_dir>/specs``."""
        return self.jobs.spec_dir if self.jobs.spec_dir is not None else self.data_dir / "specs"

    @property
    def result_dir(self) -> Path:
        """The result store: ``[jobs] result_dir`` or ``<data_dir>/results``."""
        return self.jobs.result_dir if self.jobs.result_dir is not None else self.data_dir / "results"


def load_settings(path: str | Path | None = None, **overrides: Any) -> AgentSettings:
    """Read the settings from the TOML file `path`, the environment and `overrides`.

    Raises:
        AgentConfigError: the file is missing or not TOML, or a value is missing or invalid
            (all problems in one line).
    """
    return service.load_settings(AgentSettings, path, "agent settings", **overrides)
