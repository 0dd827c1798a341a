"""Per-job workloads: the job types a provider can be paid to run, their canonical specs and
deterministic results.

A job's spec is a small JSON object whose ``kind`` names its type. Its canonical bytes
(:func:`spec_bytes`: sorted keys, no spaces, UTF-8) are what everybody hashes:

* keccak-256 of them is the ``specHash`` the client puts on chain when it creates the job
  (:func:`spec_hash`);
* their CID (:func:`spec_cid`) addresses them off chain, where the client publishes them for
  the provider and the oracles.

Each type computes its result bytes deterministically from the spec alone (integer arithmetic
only), so the provider and every oracle get the same bytes, and the same result CID, on any
machine. The job types:

``matmul``
    A seeded integer matrix product modulo a prime: ``{"kind": "matmul", "size": n,
    "seed": s, "modulus": p}``. A and B are drawn from ``random.Random(seed)``; the result is C =
    A·B mod p, row by row, each entry a 4-byte big-endian integer. Units: n³ / 64.
``hashchain``
    A keccak-256 hash chain: ``{"kind": "hashchain", "iterations": k, "seed": s}`` hashes the
    8-byte big-endian seed k times; the result is the last 32-byte digest. Units: k / 10.
``digits``
    Batch inference with the package's integer digits classifier (:mod:`computerails.models.digits`):
    ``{"kind": "digits", "model": "<weights sha256>", "images": [[64 pixels 0..16], ...]}``; the
    result is each image's label (1 byte) and 10 logits (int32, big-endian) in order. One unit
    per image. The spec names the weights' sha256 so an oracle knows which model to run.

Validation (:func:`validate`) refuses anything else with :class:`~computerails.errors.InvalidJobSpec`
(or :class:`~computerails.errors.UnknownJobType`) before any work is done.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from computerails.content import cid_for, digest_of
from computerails.errors import InvalidJobSpec, InvalidModelInput, UnknownJobType
from computerails.models import digits
from computerails.vouchers import keccak256

#: A spec as parsed from JSON: the ``kind`` and its type's fields.
Spec = dict[str, Any]

#: Largest canonical spec accepted (a digits batch of 256 images is about 40 kB).
MAX_SPEC_BYTES = 64 * 1024


@dataclass(frozen=True)
class JobType:
    """One kind of per-job work.

    Attributes:
        kind: the ``kind`` a spec of this type names.
        fields: the spec's fields besides ``kind``, each with a checker that raises
            :class:`~computerails.errors.InvalidJobSpec`.
        compute: the result bytes of a valid spec.
        units_of: the billable units of a valid spec (at least 1).
        describe: one line for people.
    """

    kind: str
    fields: Mapping[str, Callable[[str, Any], None]]
    compute: Callable[[Spec], bytes]
    units_of: Callable[[Spec], int]
    describe: str


# ───────────────────────────── field checks ─────────────────────────────


def _integer(low: int, high: int) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidJobSpec(f"{name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise InvalidJobSpec(f"{name} is {value}, outside {low}..{high}")

    return check


def _model(name: str, value: Any) -> None:
    if value != digits.WEIGHTS_SHA256:
        raise InvalidJobSpec(f"{name} is {value!r}; this package runs model {digits.WEIGHTS_SHA256}")


MAX_IMAGES = 256


def _images(name: str, value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_IMAGES:
        raise InvalidJobSpec(f"{name} must be a list of 1..{MAX_IMAGES} images")
    for i, pixels in enumerate(value):
        if not isinstance(pixels, list):
            raise InvalidJobSpec(f"{name}[{i}] must be a list of {digits.PIXELS} integers")
        try:
            digits.validate_pixels(pixels)
        except InvalidModelInput as e:
            raise InvalidJobSpec(f"{name}[{i}]: {e.problem}") from None


# ───────────────────────────── the workloads ─────────────────────────────


def _matmul(spec: Spec) -> bytes:
    n, p = spec["size"], spec["modulus"]
    gen = random.Random(spec["seed"])
    a = [[gen.randrange(p) for _ in range(n)] for _ in range(n)]
    b = [[gen.randrange(p) for _ in range(n)] for _ in range(n)]
    bt = list(zip(*b))
    c = [[sum(x * y for x, y in zip(row, col)) % p for col in bt] for row in a]
    return b"".join(v.to_bytes(4, "big") for row in c for v in row)


def _hashchain(spec: Spec) -> bytes:
    digest = int(spec["seed"]).to_bytes(8, "big")
    for _ in range(int(spec["iterations"])):
        digest = keccak256(digest)
    return bytes(digest)


def _digits(spec: Spec) -> bytes:
    model = digits.load_model()
    pixels = [digits.validate_pixels(image) for image in spec["images"]]
    return b"".join(model.infer(image).to_bytes() for image in pixels)


JOB_TYPES: dict[str, JobType] = {
    t.kind: t
    for t in (
        JobType(
            kind="matmul",
            fields={"size": _integer(1, 64), "seed": _integer(0, 2**64 - 1), "modulus": _integer(2, 65_521)},
            compute=_matmul,
            units_of=lambda spec: max(1, int(spec["size"]) ** 3 // 64),
            describe="seeded integer matrix product mod p; units = n^3 / 64",
        ),
        JobType(
            kind="hashchain",
            fields={"iterations": _integer(10, 1_000_000), "seed": _integer(0, 2**64 - 1)},
            compute=_hashchain,
            units_of=lambda spec: int(spec["iterations"]) // 10,
            describe="keccak-256 hash chain; units = iterations / 10",
        ),
        JobType(
            kind="digits",
            fields={"model": _model, "images": _images},
            compute=_digits,
            units_of=lambda spec: len(spec["images"]),
            describe="digits classifier over a batch of 8x8 images; one unit per image",
        ),
    )
}


def kinds() -> tuple[str, ...]:
    """The registered job types."""
    return tuple(JOB_TYPES)


# ───────────────────────────── specs ─────────────────────────────


def job_type(spec: Mapping[str, Any]) -> JobType:
    """The registered type a spec names.

    Raises:
        InvalidJobSpec: `spec` is not a JSON object.
        UnknownJobType: its ``kind`` names no registered type.
    """
    if not isinstance(spec, Mapping):
        raise InvalidJobSpec(f"a spec is a JSON object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in JOB_TYPES:
        raise UnknownJobType(kind, kinds())
    return JOB_TYPES[kind]


def validate(spec: Mapping[str, Any]) -> Spec:
    """The spec, checked: a known ``kind`` and exactly its type's fields, each in range.

    Returns:
        A plain-dict copy of the spec.

    Raises:
        InvalidJobSpec: a missing, extra or out-of-range field.
        UnknownJobType: see :func:`job_type`.
    """
    t = job_type(spec)
    wanted = set(t.fields) | {"kind"}
    missing, extra = sorted(wanted - set(spec)), sorted(set(spec) - wanted)
    if missing:
        raise InvalidJobSpec(f"a {t.kind} spec needs {', '.join(missing)}")
    if extra:
        raise InvalidJobSpec(f"a {t.kind} spec has no field {', '.join(extra)}")
    for name, check in t.fields.items():
        check(name, spec[name])
    return dict(spec)


def spec_bytes(spec: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a valid spec: JSON with sorted keys and no spaces, UTF-8.

    Raises:
        InvalidJobSpec, UnknownJobType: see :func:`validate`.
    """
    raw = json.dumps(validate(spec), sort_keys=True, separators=(",", ":")).encode()
    if len(raw) > MAX_SPEC_BYTES:
        raise InvalidJobSpec(f"the spec is {len(raw)} bytes; at most {MAX_SPEC_BYTES}")
    return raw


def parse_spec(raw: bytes) -> Spec:
    """A spec from its published bytes, which must be exactly its canonical bytes (so that
    their keccak is the on-chain spec hash and their CID the address they were fetched by).

    Raises:
        InvalidJobSpec: too long, not UTF-8 JSON, not canonical, or invalid (see :func:`validate`).
        UnknownJobType: see :func:`job_type`.
    """
    if len(raw) > MAX_SPEC_BYTES:
        raise InvalidJobSpec(f"the spec is {len(raw)} bytes; at most {MAX_SPEC_BYTES}")
    try:
        spec = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidJobSpec(f"not UTF-8 JSON: {e}") from None
    if spec_bytes(spec) != raw:
        raise InvalidJobSpec("not in canonical form (sorted keys, no spaces): hash its spec_bytes() instead")
    return validate(spec)


def spec_hash(spec: Mapping[str, Any]) -> bytes:
    """keccak-256 of :func:`spec_bytes`: the ``specHash`` a job is created with."""
    return keccak256(spec_bytes(spec))


def spec_cid(spec: Mapping[str, Any]) -> str:
    """The CID of :func:`spec_bytes`: where the spec is published."""
    return cid_for(spec_bytes(spec))


def compute(spec: Mapping[str, Any]) -> bytes:
    """Run the workload; its result bytes (the same on every machine).

    Raises:
        InvalidJobSpec, UnknownJobType: see :func:`validate`.
    """
    valid = validate(spec)
    return JOB_TYPES[valid["kind"]].compute(valid)


def result_hash(result: bytes) -> bytes:
    """The on-chain result hash of result bytes: the sha2-256 digest of their CID
    (:func:`computerails.content.digest_of`), what a success attestation carries."""
    return digest_of(cid_for(result))


def units_of(spec: Mapping[str, Any]) -> int:
    """The billable units of the spec's work (at least 1).

    Raises:
        InvalidJobSpec, UnknownJobType: see :func:`validate`.
    """
    valid = validate(spec)
    return max(1, JOB_TYPES[valid["kind"]].units_of(valid))


def make_spec(rng: random.Random) -> Spec:
    """A random small matmul or hashchain spec (the demo marketplace's jobs)."""
    if rng.random() < 0.5:
        return {"kind": "matmul", "size": rng.choice([8, 12, 16, 20]), "seed": rng.getrandbits(32), "modulus": 65_521}
    return {"kind": "hashchain", "iterations": rng.choice([500, 1_000, 2_000]), "seed": rng.getrandbits(64)}


def digits_spec(images: list[list[int]] | list[tuple[int, ...]]) -> Spec:
    """A digits batch-inference spec for these images under the package's model.

    Raises:
        InvalidJobSpec: see :func:`validate`.
    """
    return validate({"kind": "digits", "model": digits.WEIGHTS_SHA256, "images": [list(i) for i in images]})
