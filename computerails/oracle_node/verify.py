"""What an oracle node checks before it signs: a job's published result, recomputed from its
spec (:func:`verify_job`), and a metered answer, recomputed from its request
(:func:`recompute_receipt`). Both are deterministic, so every honest node signs the same
statement and the signatures aggregate.

A job's verdict:

- the provider has not published it yet (404), or cannot be reached: no verdict (asked again
  next pass; a job never published expires, and the keeper reclaims it);
- the published spec is not the job's (its keccak differs from the on-chain spec hash), is not a
  valid spec, or the result is not the recomputed bytes: **failure** (0 units, zero hash);
- the result bytes equal the recomputation: **success** with the spec's units (at most the
  job's ``max_units``) and the sha2-256 digest of the result's CID as the result hash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from computerails import workloads
from computerails.content import cid_for, digest_of, matches
from computerails.errors import ComputeRailsError, InvalidModelInput
from computerails.models import digits
from computerails.receipts import ResponseReceipt
from computerails.types import Job
from computerails.vouchers import keccak256

log = logging.getLogger("computerails.oracle.verify")

ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True)
class Verdict:
    """What the node signs about a job."""

    success: bool
    units: int
    result_hash: bytes
    reason: str


def verify_job(job: Job, spec_hash: bytes, provider_url: str, client: httpx.Client, max_bytes: int) -> Verdict | None:
    """Fetch the job's result and spec from its provider and recompute it (see the module
    docstring). None: nothing to judge yet."""
    base = provider_url.rstrip("/")
    try:
        answer = client.get(f"{base}/v1/jobs/{job.id}/result")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        published = answer.json()
        spec_raw = _fetch(client, f"{base}/v1/results/{published['spec_cid']}", max_bytes)
        result_raw = _fetch(client, f"{base}/v1/results/{published['result_cid']}", max_bytes)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.info("job %s: the provider's answer is not usable yet: %s", job.id, exc)
        return None
    if keccak256(spec_raw) != spec_hash:
        return _failure("the published spec is not the job's (its keccak differs from the spec hash)")
    try:
        spec = workloads.parse_spec(spec_raw)
        expected = workloads.compute(spec)
        units = workloads.units_of(spec)
    except ComputeRailsError as exc:
        return _failure(f"the job's spec cannot be run: {exc}")
    if not matches(str(published["result_cid"]), result_raw):
        return _failure("the result bytes do not hash to the CID they were served under")
    if result_raw != expected:
        return _failure("the published result differs from the recomputed one")
    return Verdict(True, min(units, job.max_units), digest_of(cid_for(expected)), "recomputed: equal")


def _fetch(client: httpx.Client, url: str, max_bytes: int) -> bytes:
    with client.stream("GET", url) as response:
        response.raise_for_status()
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise ValueError(f"{url} is larger than {max_bytes} bytes")
        return data


def _failure(reason: str) -> Verdict:
    return Verdict(False, 0, ZERO_HASH, reason)


def recompute_receipt(receipt: ResponseReceipt, pixels: list[int]) -> bytes | None:
    """The response hash the request of `receipt` really has, from `pixels`; None when the
    pixels are not the receipt's request (their hash differs) or are not a valid input."""
    try:
        if "0x" + digits.request_hash(pixels).hex() != receipt.request_hash:
            return None
        return digits.infer(pixels).response_hash
    except InvalidModelInput:
        return None
