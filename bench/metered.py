"""Gas per paid request (issue 12): the metered path (one voucher collected per collection)
against the per-job path (createJob + accept + attestation + settle per request), from gas
measured in the same bench run, and what a request costs at an L2's and at Ethereum's gas price.

Pure arithmetic and tables: bench/run.py measures (``measure_metered``, ``measure_batches``) and
passes the figures in. A collection that pays for R requests costs its collect once, so its gas
per request is ``collect gas / R``; "with deposit" adds the payer's top-up that funded it;
"collectMany@50" is the per-voucher share of a 50-voucher ``collectMany``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Requests per collection the bench reports (issue 12).
SIZES = (1, 100, 10_000, 1_000_000)
#: Issue 12's target: at most this many gas per request at TARGET_REQUESTS requests per collection.
TARGET_REQUESTS = 10_000
TARGET_GAS_PER_REQUEST = 15
#: Gas prices of the cost table (issue 12: "an L2 at 0.01 gwei vs Ethereum at 10 gwei").
L2_GWEI = 0.01
L1_GWEI = 10.0
#: ETH's price in USD for the table's USD columns: an assumption, printed with the table.
ETH_USD = 3_000.0

GWEI_PER_ETH = 10**9


def per_request(gas: float, requests: int) -> float:
    """Gas per request of `gas` spent once for `requests` requests."""
    if requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    return gas / requests


def lifecycle_per_job(parts: Mapping[str, int], jobs: int) -> float:
    """Gas per job of a job lifecycle whose transactions for `jobs` jobs used `parts` gas in all."""
    return per_request(sum(parts.values()), jobs)


def cost(gas_per_request: float, gwei: float, eth_usd: float = ETH_USD) -> dict[str, float]:
    """What a request costs at a gas price of `gwei`: in gwei, ETH and USD (at `eth_usd`)."""
    in_gwei = gas_per_request * gwei
    eth = in_gwei / GWEI_PER_ETH
    return {"gwei": in_gwei, "eth": eth, "usd": eth * eth_usd}


def summarize(
    collections: Sequence[Mapping[str, Any]],
    per_job: Mapping[str, Mapping[str, Any]],
    *,
    eth_usd: float = ETH_USD,
) -> dict[str, Any]:
    """The per-request report from measured gas.

    `collections`: per size, ``requests``, ``collect_gas`` (the collect of a new collection's
    voucher carrying that request count), ``later_collect_gas`` (the next collect of the same
    collection, another `requests` requests on), ``deposit_gas`` (the payer's top-up of that
    collection's value), ``collect_many_gas`` and ``collect_many_vouchers``.
    `per_job`: ``"unbatched"`` and ``"batched"``, each ``jobs`` and ``parts`` (gas by transaction
    kind, for all those jobs).
    """
    jobs = {
        name: {
            "jobs": int(p["jobs"]),
            "parts": dict(p["parts"]),
            "gas_per_request": lifecycle_per_job(p["parts"], p["jobs"]),
        }
        for name, p in per_job.items()
    }
    rows = []
    for c in collections:
        r = int(c["requests"])
        many_per_voucher = c["collect_many_gas"] / c["collect_many_vouchers"]
        gpr = {
            "collect": per_request(c["collect_gas"], r),
            "collect_with_deposit": per_request(c["collect_gas"] + c["deposit_gas"], r),
            "later_collect": per_request(c["later_collect_gas"], r),
            "collect_many": per_request(many_per_voucher, r),
        }
        rows.append(
            {
                **{k: c[k] for k in ("requests", "collect_gas", "later_collect_gas", "deposit_gas")},
                "collect_many_gas": c["collect_many_gas"],
                "collect_many_vouchers": c["collect_many_vouchers"],
                "collect_many_per_voucher": many_per_voucher,
                "gas_per_request": gpr,
                # How many times cheaper a paid request is than a job, by the path's plain collect.
                "ratio_vs_job": {name: j["gas_per_request"] / gpr["collect"] for name, j in jobs.items()},
            }
        )
    at_target = next((row for row in rows if row["requests"] == TARGET_REQUESTS), None)
    target: dict[str, Any] = {"requests": TARGET_REQUESTS, "max_gas_per_request": TARGET_GAS_PER_REQUEST}
    if at_target is not None:
        measured = at_target["gas_per_request"]["collect"]
        target |= {"measured": measured, "pass": measured <= TARGET_GAS_PER_REQUEST}
    return {
        "collections": rows,
        "per_job": jobs,
        "target": target,
        "prices": {"l2_gwei": L2_GWEI, "l1_gwei": L1_GWEI, "eth_usd": eth_usd},
    }


def _gas(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _money(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}" if x >= 1 else f"{x:.2g}"


def _times(x: float) -> str:
    return f"{x:,.0f}x" if x >= 10 else f"{x:.1f}x"


def _requests(n: int) -> str:
    return f"{n:,} request{'' if n == 1 else 's'}"


def _parts(job: Mapping[str, Any]) -> str:
    n = job["jobs"]
    terms = " + ".join(f"{name} {gas:,}" for name, gas in job["parts"].items())
    return f"{terms} = {sum(job['parts'].values()):,} gas for {n:,} job{'' if n == 1 else 's'}"


def markdown(result: Mapping[str, Any]) -> str:
    rows, jobs, target, prices = result["collections"], result["per_job"], result["target"], result["prices"]
    unbatched, batched = jobs["unbatched"], jobs["batched"]
    lines = [
        "| Requests per collection | Metered: collect | + payer's deposit | collectMany@50, per voucher "
        f"| Next collect, same collection | Per job, one by one | Per job, batched by {batched['jobs']} "
        "| Job (batched) / metered |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        g = row["gas_per_request"]
        lines.append(
            f"| {row['requests']:,} | {_gas(g['collect'])} | {_gas(g['collect_with_deposit'])} "
            f"| {_gas(g['collect_many'])} | {_gas(g['later_collect'])} | {_gas(unbatched['gas_per_request'])} "
            f"| {_gas(batched['gas_per_request'])} | {_times(row['ratio_vs_job']['batched'])} |"
        )
    if "measured" in target:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines += [
            "",
            f"Target (issue 12): at most {target['max_gas_per_request']} gas per request at "
            f"{target['requests']:,} requests per collection: {_gas(target['measured'])}, **{verdict}**.",
        ]
    first = rows[0]
    lines += [
        "",
        "Gas per paid request, measured in this run: each row collects a real voucher carrying that request count "
        f"and its value (a new collection: {first['collect_gas']:,} gas at {_requests(first['requests'])}), then "
        "the next voucher of the same collection (as many requests again). The deposit is the payer's top-up of "
        "the collection's value. The per-job path pays one job per request: "
        f"{_parts(unbatched)} one by one; {_parts(batched)}. Neither path counts the provider's claim.",
        "",
        f"Cost per request on an L2 at {prices['l2_gwei']:g} gwei vs Ethereum at {prices['l1_gwei']:g} gwei "
        f"(USD at an assumed ETH price of ${prices['eth_usd']:,.0f}; execution gas only: an L2's L1 data fee "
        "is not included):",
        "",
        "| Path | Gas per request | L2: gwei | L2: USD | Ethereum: gwei | Ethereum: USD |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    entries: list[tuple[str, float]] = []
    for row in rows:
        g = row["gas_per_request"]
        entries.append((f"metered, {_requests(row['requests'])} per collection", g["collect"]))
        entries.append(
            (f"metered, {_requests(row['requests'])} per collection, with the deposit", g["collect_with_deposit"])
        )
    entries += [
        ("per job, one by one", unbatched["gas_per_request"]),
        (f"per job, batched by {batched['jobs']}", batched["gas_per_request"]),
    ]
    for label, gas in entries:
        l2 = cost(gas, prices["l2_gwei"], prices["eth_usd"])
        l1 = cost(gas, prices["l1_gwei"], prices["eth_usd"])
        lines.append(
            f"| {label} | {_gas(gas)} | {_money(l2['gwei'])} | {_money(l2['usd'])} | {_money(l1['gwei'])} "
            f"| {_money(l1['usd'])} |"
        )
    return "\n".join(lines)
