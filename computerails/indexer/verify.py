"""Checking the index against the chain: every indexed provider's stake, every claimable balance
(JobEscrow, ProviderStaking, MeteredEscrow), every MeteredEscrow account, every job's status and,
when the deployment has a RewardsDistributor, every indexed account's claimed total and recipient
and the distributor's books (funded, claimed, and the reward tokens it holds = funded − claimed),
read with view calls at the index's own block (so a node that moved on since is not a
difference)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from computerails._rpc import Codec, Request, Rpc
from computerails.deployments import Deployment, load_artifact
from computerails.indexer import schema as s
from computerails.indexer.apply import TREASURY_KEY, ZERO
from computerails.indexer.rpc import IndexerError
from computerails.rails import ComputeRails, connect
from computerails.status import JobStatus

#: Requests per JSON-RPC batch.
BATCH = 200


@dataclass(frozen=True)
class Difference:
    """One value the index and the chain disagree on."""

    what: str  # provider, balance, escrow account, job
    key: str  # whose: an address, "payer/provider/token", a job id
    field: str
    indexed: Any
    chain: Any

    def __str__(self) -> str:
        return f"{self.what} {self.key} {self.field}: indexed {self.indexed}, chain {self.chain}"


@dataclass
class Report:
    """What :func:`verify` compared, and every difference it found."""

    block: int
    checked: int
    differences: list[Difference]

    @property
    def ok(self) -> bool:
        return not self.differences


#: providerInfo's fields in order, and the index column each one is (None: not compared).
_PROVIDER_FIELDS = (
    ("registered", None),
    ("jailed", "jailed"),
    ("jailedForDowntime", "jailed_for_downtime"),
    ("left", "left"),
    ("staked", "staked"),
    ("locked", "locked"),
    ("free", "free"),
    ("unbonding", "unbonding"),
    ("unbondingEnd", "unbonding_end"),
    ("shortfall", "shortfall"),
    ("slaFrom", "sla_from"),
    ("leftAt", "left_at"),
    ("totalSlashed", "total_slashed"),
    ("totalDeposited", "total_deposited"),
    ("metadataURI", "metadata_uri"),
)


def _run(rpc: Rpc, requests: list[Request]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(requests), BATCH):
        out.extend(rpc.run(requests[i : i + BATCH]))
    return out


def verify(engine: Engine, rpc_url: str, deployment: Deployment, rails: ComputeRails | None = None) -> Report:
    """Compares the index at `engine` with the chain's views at the index's last block.

    Raises:
        IndexerError: the index is empty (nothing indexed yet).
    """
    rails = rails or connect(rpc_url, deployment)
    with engine.connect() as conn:
        meta = {str(k): str(v) for k, v in conn.execute(select(s.meta.c.key, s.meta.c.value)).all()}
        if "cursor" not in meta or int(meta["cursor"]) < deployment.deploy_block:
            raise IndexerError("the index is empty: run `computerails index --until-head` first")
        block = int(meta["cursor"])
        providers = [dict(r) for r in conn.execute(select(s.providers)).mappings()]
        balances = [dict(r) for r in conn.execute(select(s.balances)).mappings()]
        accounts = [dict(r) for r in conn.execute(select(s.escrow_accounts)).mappings()]
        jobs = [(int(j), str(st)) for j, st in conn.execute(select(s.jobs.c.job_id, s.jobs.c.status)).all()]
        parties = {str(a) for (a,) in conn.execute(select(s.jobs.c.client))} | {
            str(a) for (a,) in conn.execute(select(s.jobs.c.provider))
        }
        rewards_accounts = [dict(r) for r in conn.execute(select(s.rewards_accounts)).mappings()]
        funded = sum(int(a) for (a,) in conn.execute(select(s.rewards_funding.c.amount)))
        claimed = sum(int(a) for (a,) in conn.execute(select(s.rewards_claims.c.amount)))
    abi = rails.abi
    contracts = deployment.contracts
    metered = contracts.get("MeteredEscrow")
    tokens = deployment.payment_tokens
    stake_token = deployment.staking_token

    def call(contract: str, fn: str, *args: Any) -> Request:
        return Rpc.call(contracts[contract], abi[contract][fn], *args, block=block)

    differences: list[Difference] = []

    # providers
    infos = _run(rails.rpc, [call("ProviderStaking", "providerInfo", p["address"]) for p in providers])
    for p, info in zip(providers, infos):
        for (_name, column), value in zip(_PROVIDER_FIELDS, info):
            if column is not None and p[column] != value:
                differences.append(Difference("provider", p["address"], column, p[column], value))

    # claimable balances: every account the index knows, in every token, from every contract
    indexed: dict[tuple[str, str, str], int] = {}
    for b in balances:
        indexed[(b["account"], b["token"], b["source"])] = int(b["amount"])
    treasury = {k[len(TREASURY_KEY) :]: v for k, v in meta.items() if k.startswith(TREASURY_KEY)}
    known = (
        {a for a, _, _ in indexed if a != ZERO} | {p["address"] for p in providers} | parties | set(treasury.values())
    )
    known |= {a["payer"] for a in accounts} | {a["provider"] for a in accounts}
    known.discard(ZERO)
    checks: list[tuple[tuple[str, str, str], int, Request]] = []
    for account in sorted(known):
        for token in tokens:
            checks.append(
                (
                    (account, token, "escrow"),
                    indexed.get((account, token, "escrow"), 0),
                    call("JobEscrow", "claimable", account, token),
                )
            )
            if metered:
                want = indexed.get((account, token, "metered"), 0)
                if account == treasury.get("MeteredEscrow"):
                    want += indexed.get((ZERO, token, "metered_fees"), 0)
                checks.append(((account, token, "metered"), want, call("MeteredEscrow", "claimable", account, token)))
        checks.append(
            (
                (account, stake_token, "staking"),
                indexed.get((account, stake_token, "staking"), 0),
                call("ProviderStaking", "claimable", account),
            )
        )
    values = _run(rails.rpc, [c for _, _, c in checks])
    for ((account, token, source), want, _), got in zip(checks, values):
        if want != int(got):
            differences.append(Difference("balance", f"{account}/{token}/{source}", "claimable", want, int(got)))

    # MeteredEscrow accounts
    if metered:
        views = _run(
            rails.rpc, [call("MeteredEscrow", "account", a["payer"], a["provider"], a["token"]) for a in accounts]
        )
        for a, view in zip(accounts, views):
            for column, value in zip(("balance", "thawing", "thaw_end"), view):
                if int(a[column]) != int(value):
                    key = f"{a['payer']}/{a['provider']}/{a['token']}"
                    differences.append(Difference("escrow account", key, column, int(a[column]), int(value)))

    # jobs
    statuses = _run(rails.rpc, [call("JobEscrow", "jobStatus", j) for j, _ in jobs])
    for (job_id, status), value in zip(jobs, statuses):
        chain = JobStatus.from_int(int(value)).value
        if status != chain:
            differences.append(Difference("job", str(job_id), "status", status, chain))

    checked = len(providers) * 13 + len(checks) + 3 * len(accounts) + len(jobs)
    distributor = contracts.get("RewardsDistributor")
    if distributor and "rewards:token" in meta:
        found, n = _verify_rewards(
            rails.rpc, distributor, meta["rewards:token"], block, rewards_accounts, funded, claimed
        )
        differences += found
        checked += n
    return Report(block=block, checked=checked, differences=differences)


def _verify_rewards(
    rpc: Rpc,
    distributor: str,
    token: str,
    block: int,
    accounts: list[dict[str, Any]],
    funded: int,
    claimed: int,
) -> tuple[list[Difference], int]:
    """Each indexed account's claimed total and recipient, and the distributor's books."""
    rd = Codec(load_artifact("RewardsDistributor")["abi"])
    erc20 = Codec(load_artifact("ERC20Permit")["abi"])
    requests = [
        Rpc.call(distributor, rd["funded"], block=block),
        Rpc.call(distributor, rd["totalClaimed"], block=block),
    ]
    requests.append(Rpc.call(token, erc20["balanceOf"], distributor, block=block))
    for a in accounts:
        requests.append(Rpc.call(distributor, rd["claimed"], a["account"], block=block))
        requests.append(Rpc.call(distributor, rd["recipientOf"], a["account"], block=block))
    values = _run(rpc, requests)
    differences: list[Difference] = []
    books = (("funded", funded), ("claimed", claimed), ("held (funded - claimed)", funded - claimed))
    for (name, want), got in zip(books, values[:3]):
        if want != int(got):
            differences.append(Difference("rewards", distributor, name, want, int(got)))
    for i, a in enumerate(accounts):
        chain_claimed, chain_recipient = values[3 + 2 * i], values[4 + 2 * i]
        if int(a["claimed"]) != int(chain_claimed):
            differences.append(
                Difference("rewards account", a["account"], "claimed", int(a["claimed"]), int(chain_claimed))
            )
        if str(a["recipient"]).lower() != str(chain_recipient).lower():
            differences.append(
                Difference("rewards account", a["account"], "recipient", a["recipient"], chain_recipient)
            )
    return differences, 3 + 2 * len(accounts)
