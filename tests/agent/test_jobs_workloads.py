"""Per-job workloads (computerails.workloads): canonical specs, their hash and CID, validation
with typed errors, deterministic results (also in a fresh process)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys

import pytest

from computerails import workloads
from computerails.content import cid_for, digest_of
from computerails.errors import InvalidJobSpec, UnknownJobType
from computerails.models import digits
from computerails.vouchers import keccak256

MATMUL = {"kind": "matmul", "size": 8, "seed": 7, "modulus": 65_521}
HASHCHAIN = {"kind": "hashchain", "iterations": 500, "seed": 11}


def digits_spec(n=3):
    return workloads.digits_spec([pixels for pixels, _ in digits.samples()[:n]])


def test_jobs_workloads__registry_has_three_types():
    assert workloads.kinds() == ("matmul", "hashchain", "digits")


def test_jobs_workloads_spec_bytes__canonical_and_hashed():
    raw = workloads.spec_bytes({"seed": 7, "modulus": 65_521, "kind": "matmul", "size": 8})
    assert raw == b'{"kind":"matmul","modulus":65521,"seed":7,"size":8}'
    assert workloads.spec_hash(MATMUL) == keccak256(raw)
    assert workloads.spec_cid(MATMUL) == cid_for(raw)
    assert workloads.parse_spec(raw) == MATMUL


def test_jobs_workloads_result_hash__sha256_digest_of_the_cid():
    result = workloads.compute(HASHCHAIN)
    assert workloads.result_hash(result) == hashlib.sha256(result).digest() == digest_of(cid_for(result))


def test_jobs_workloads_parse_spec__not_canonical__refused():
    with pytest.raises(InvalidJobSpec, match="canonical"):
        workloads.parse_spec(json.dumps(MATMUL, indent=1).encode())
    with pytest.raises(InvalidJobSpec, match="not UTF-8 JSON"):
        workloads.parse_spec(b"\xff{")


def test_jobs_workloads_matmul__known_product():
    spec = {"kind": "matmul", "size": 2, "seed": 1, "modulus": 7}
    gen = random.Random(1)
    a = [[gen.randrange(7) for _ in range(2)] for _ in range(2)]
    b = [[gen.randrange(7) for _ in range(2)] for _ in range(2)]
    c = [[sum(a[i][k] * b[k][j] for k in range(2)) % 7 for j in range(2)] for i in range(2)]
    assert workloads.compute(spec) == b"".join(v.to_bytes(4, "big") for row in c for v in row)
    assert workloads.units_of(MATMUL) == 8


def test_jobs_workloads_hashchain__iterated_keccak():
    digest = (11).to_bytes(8, "big")
    for _ in range(500):
        digest = keccak256(digest)
    assert workloads.compute(HASHCHAIN) == digest
    assert workloads.units_of(HASHCHAIN) == 50


def test_jobs_workloads_digits__labels_and_logits_per_image():
    samples = digits.samples()[:3]
    result = workloads.compute(digits_spec(3))
    assert result == b"".join(digits.infer(pixels).to_bytes() for pixels, _ in samples)
    assert len(result) == 3 * (1 + 4 * digits.CLASSES)
    assert workloads.units_of(digits_spec(3)) == 3


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ({"kind": "sorting"}, UnknownJobType, "unknown job type 'sorting'"),
        ({"size": 8}, UnknownJobType, "unknown job type None"),
        ([1, 2], InvalidJobSpec, "JSON object"),
        ({"kind": "matmul", "size": 8, "seed": 7}, InvalidJobSpec, "needs modulus"),
        ({**MATMUL, "extra": 1}, InvalidJobSpec, "no field extra"),
        ({**MATMUL, "size": 65}, InvalidJobSpec, "size is 65, outside 1..64"),
        ({**MATMUL, "size": True}, InvalidJobSpec, "must be an integer"),
        ({**HASHCHAIN, "iterations": 5}, InvalidJobSpec, "outside 10..1000000"),
        ({"kind": "digits", "model": "00" * 32, "images": [[0] * 64]}, InvalidJobSpec, "runs model"),
        ({"kind": "digits", "model": digits.WEIGHTS_SHA256, "images": []}, InvalidJobSpec, "1..256 images"),
        ({"kind": "digits", "model": digits.WEIGHTS_SHA256, "images": [[17] * 64]}, InvalidJobSpec, "images\\[0\\]"),
    ],
)
def test_jobs_workloads_validate__typed_refusals(spec, error, match):
    with pytest.raises(error, match=match):
        workloads.compute(spec)


def test_jobs_workloads__marketplace_uses_the_same_functions():
    from computerails import sim
    from computerails.sim import marketplace

    assert marketplace.compute is workloads.compute is sim.compute
    assert marketplace.make_spec is workloads.make_spec
    rng = random.Random(3)
    for _ in range(10):
        spec = workloads.make_spec(rng)
        assert workloads.validate(spec) == spec


FRESH = """
import json, sys
from computerails import workloads
from computerails.content import cid_for, digest_of
specs = json.loads(sys.stdin.read())
print(json.dumps([cid_for(workloads.compute(s)) for s in specs]))
"""


def test_jobs_workloads__same_spec_same_result_cid_in_a_fresh_process():
    specs = [MATMUL, HASHCHAIN, digits_spec(5)]
    here = [cid_for(workloads.compute(s)) for s in specs]
    there = subprocess.run(
        [sys.executable, "-c", FRESH], input=json.dumps(specs), capture_output=True, text=True, check=True
    )
    assert json.loads(there.stdout) == here
