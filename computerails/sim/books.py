"""The books of a deployment, read from the chain: where every raw unit of every token is, and
the checks that nothing was created or destroyed and that each contract holds exactly its parts.

:func:`holdings` reads, in batched JSON-RPC round trips, per token: the supply, the wallets of
the accounts named, the treasury, the three contracts' balances and what they owe (live jobs'
escrow and dispute bonds, claimable balances, metered accounts, active and unbonding stake).
:func:`check` compares two readings with what was minted in between. The network demo
(:mod:`computerails.sim.network`) ends with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from computerails import JobStatus
from computerails.rails import ComputeRails
from computerails.session import ERC20
from computerails.types import from_raw, to_raw


@dataclass
class Party:
    """A named account of a demo (a provider, a client, an oracle) and its SDK connection."""

    name: str
    key: str
    rails: ComputeRails

    @property
    def address(self) -> str:
        return self.rails.address


LIVE = {JobStatus.OPEN, JobStatus.ACCEPTED, JobStatus.ATTESTED, JobStatus.DISPUTED}


@dataclass(frozen=True)
class Parties:
    """Whose balances the books read.

    Args:
        wallets: every account holding tokens outside the contracts (not the treasury).
        treasury: the protocol's treasury.
        payers, providers: the metered escrow's accounts are read for every (payer, provider).
        job_ids: every job of the deployment.
    """

    wallets: Sequence[str]
    treasury: str
    payers: Sequence[str]
    providers: Sequence[str]
    job_ids: Sequence[int]

    @property
    def everyone(self) -> list[str]:
        return list(dict.fromkeys([*self.wallets, self.treasury]))


def holdings(rails: ComputeRails, parties: Parties) -> dict[str, dict[str, int]]:
    """Raw amounts per token address: supply, wallets, treasury, contracts and their parts."""
    escrow, staking = rails.escrow.address, rails.staking.address
    metered = rails.deployment.contracts.get("MeteredEscrow")
    tokens = [*rails.deployment.payment_tokens, rails.deployment.staking_token]
    everyone = parties.everyone
    requests: list[Any] = [rails.call("JobEscrow", escrow, "job", j) for j in parties.job_ids]
    for token in tokens:
        requests += [
            rails.call(ERC20, token, "totalSupply"),
            rails.call(ERC20, token, "balanceOf", parties.treasury),
            rails.call(ERC20, token, "balanceOf", escrow),
            rails.call(ERC20, token, "balanceOf", staking),
        ]
        requests += [rails.call(ERC20, token, "balanceOf", a) for a in parties.wallets]
        requests += [rails.call("JobEscrow", escrow, "claimable", a, token) for a in everyone]
        if metered is not None:
            requests.append(rails.call(ERC20, token, "balanceOf", metered))
            requests += [
                rails.call("MeteredEscrow", metered, "account", c, p, token)
                for c in parties.payers
                for p in parties.providers
            ]
            requests += [rails.call("MeteredEscrow", metered, "claimable", a, token) for a in everyone]
    requests += [rails.call("ProviderStaking", staking, "claimable", a) for a in everyone]
    requests += [
        rails.call("ProviderStaking", staking, "totalStaked"),
        rails.call("ProviderStaking", staking, "totalUnbonding"),
    ]
    answers = iter(rails.rpc.run(requests))

    def take(n: int) -> list[Any]:
        return [next(answers) for _ in range(n)]

    jobs = [rails.views.job_from_view(v) for v in take(len(parties.job_ids))]
    out: dict[str, dict[str, int]] = {}
    for token in tokens:
        supply, treasury, in_escrow, in_staking = take(4)
        wallets, claimable_escrow = sum(take(len(parties.wallets))), sum(take(len(everyone)))
        if metered is not None:
            (in_metered,) = take(1)
            accounts = sum(int(view[0]) for view in take(len(parties.payers) * len(parties.providers)))
            claimable_metered = sum(take(len(everyone)))
        else:
            in_metered = accounts = claimable_metered = 0
        mine = [j for j in jobs if j.token.address == token]
        out[token] = {
            "supply": supply,
            "wallets": wallets,
            "treasury": treasury,
            "escrow_contract": in_escrow,
            "staking_contract": in_staking,
            "metered_contract": in_metered,
            "job_escrow": sum(to_raw(j.escrow, j.token.decimals) for j in mine if j.status in LIVE),
            "dispute_bonds": sum(
                to_raw(j.dispute_bond, j.token.decimals) for j in mine if j.status is JobStatus.DISPUTED
            ),
            "claimable_escrow": claimable_escrow,
            "metered_accounts": accounts,
            "claimable_metered": claimable_metered,
        }
    claimable_staking = sum(take(len(everyone)))
    total_staked, total_unbonding = take(2)
    for token in tokens:
        is_stake = token == rails.deployment.staking_token
        out[token]["claimable_staking"] = claimable_staking if is_stake else 0
        out[token]["stake_active"] = total_staked if is_stake else 0
        out[token]["stake_unbonding"] = total_unbonding if is_stake else 0
    return out


def check(
    rails: ComputeRails,
    before: dict[str, dict[str, int]],
    after: dict[str, dict[str, int]],
    minted: dict[str, int],
    extra: Callable[[str], dict[str, bool]] = lambda _token: {},
) -> dict[str, Any]:
    """Per token symbol: the checks (name -> passed), ``pass``, and the changes as decimals.

    Args:
        before, after: two :func:`holdings` readings.
        minted: raw amounts minted per token address in between.
        extra: more checks per token address (e.g. the metered phase's own).
    """
    result: dict[str, Any] = {}
    for token, now in after.items():
        was = before[token]
        d = {k: now[k] - was[k] for k in now}
        parts = sum(
            d[k]
            for k in (
                "wallets",
                "treasury",
                "job_escrow",
                "dispute_bonds",
                "claimable_escrow",
                "claimable_staking",
                "metered_accounts",
                "claimable_metered",
                "stake_active",
                "stake_unbonding",
            )
        )
        checks = {
            "minted == supply change": minted.get(token, 0) == d["supply"],
            "supply change == wallets + escrow + stake + claimable + treasury": d["supply"] == parts,
            "escrow contract == jobs + bonds + claimable": d["escrow_contract"]
            == d["job_escrow"] + d["dispute_bonds"] + d["claimable_escrow"],
            "staking contract == active + unbonding + claimable": d["staking_contract"]
            == d["stake_active"] + d["stake_unbonding"] + d["claimable_staking"],
            "metered escrow == accounts + claimable": d["metered_contract"]
            == d["metered_accounts"] + d["claimable_metered"],
            **extra(token),
        }
        info = rails.token(token)
        result[info.symbol] = {
            "pass": all(checks.values()),
            "checks": checks,
            "minted": from_raw(minted.get(token, 0), info.decimals),
            **{k: from_raw(v, info.decimals) for k, v in d.items()},
        }
    return result


def passed(books: dict[str, Any]) -> bool:
    return all(b["pass"] for b in books.values())


def rows(books: dict[str, Any]) -> Iterable[dict[str, str]]:
    """One table row per check: token, check, PASS/FAIL."""
    for symbol, b in books.items():
        for name, ok in b["checks"].items():
            yield {"token": symbol, "check": name, "result": "PASS" if ok else "FAIL"}


def amount(raw: int, decimals: int) -> Decimal:
    return from_raw(raw, decimals)
