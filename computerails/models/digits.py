"""A handwritten-digit classifier whose every answer anyone can recompute bit for bit.

The workload metered inference sells in the demo, and what an oracle re-runs to catch a wrong
answer: a 64 → 32 → 10 multilayer perceptron over scikit-learn's 8x8 digits (1,797 images, grey
levels 0..16), trained once in float64 and then quantized, so inference is integer arithmetic
only:

* layer 1: int8 weights, int32 bias, ``acc1 = pixels · W1 + b1`` in int32 (at most
  64 × 16 × 127 plus the bias: far inside int32);
* integer ReLU, then integer rescaling to a uint7 activation:
  ``h = clip((max(acc1, 0) × M + 2^(S−1)) >> S, 0, 127)`` with an int64 product, the fixed-point
  multiplier ``M`` and shift ``S`` stored with the weights (TFLite's requantization);
* layer 2: int8 weights, int32 bias, ``logits = h · W2 + b2`` in int32; the label is the first
  index of the largest logit.

No float is touched at inference, so the same request gives the same logits on any machine and
numpy version: that is what lets a provider's signed response hash be checked by recomputation.
Inference needs numpy only; training (:func:`train`) needs scikit-learn for the dataset and is
deterministic (fixed seed, float64, one BLAS thread), so ``python -m computerails.models``
reproduces the committed weights file byte for byte; ``tests/sdk/test_models.py`` checks that.

The weights ship as canonical JSON (``digits_weights.json``, sorted keys, no spaces) whose
sha256 is recorded here as :data:`WEIGHTS_SHA256` and checked at load
(:class:`~computerails.errors.ModelWeightsMismatch`). ``digits_samples.json`` holds held-out
images (never trained on) for demos.

Encodings (see :func:`request_bytes`, :meth:`InferenceResult.to_bytes`):

* request: the weights' sha256 (32 bytes: binds the model version) ‖ the 64 pixels, one byte each;
* response: the label (1 byte) ‖ the 10 logits as signed 32-bit big-endian integers.

``request_hash`` and ``response_hash`` are their keccak-256, as a response receipt signs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from computerails.errors import InvalidModelInput, ModelWeightsMismatch
from computerails.vouchers import keccak256

FORMAT = "computerails.models.digits/1"
PIXELS = 64
MAX_PIXEL = 16
HIDDEN = 32
CLASSES = 10
WEIGHTS_FILE = "digits_weights.json"
SAMPLES_FILE = "digits_samples.json"
#: sha256 of the committed weights file (hex): the model's identity, checked at every load.
WEIGHTS_SHA256 = "b2f4adb7a069f7620c4488f6314adac6687f09bae4b69b7b85062de692a4d601"

#: Training settings: changing any of them changes the weights (and so WEIGHTS_SHA256).
SEED = 12
TEST_FRACTION = 0.25
EPOCHS = 40
BATCH = 32
LEARNING_RATE = 0.005
SHIFT = 24  # fixed-point bits of the requantization multiplier
SAMPLES = 100  # held-out images shipped for demos

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class QuantizedWeights:
    """The integer model: int8 weights, int32 biases, the layer-1 requantization (M, S)."""

    w1: IntArray  # (64, 32), int8 range
    b1: IntArray  # (32,), int32 range
    multiplier: int  # M: activation = (relu(acc1) × M + 2^(S−1)) >> S
    shift: int  # S
    w2: IntArray  # (32, 10), int8 range
    b2: IntArray  # (10,), int32 range

    def to_json_bytes(self) -> bytes:
        """The canonical file bytes: sorted keys, no spaces, a final newline."""
        document = {
            "format": FORMAT,
            "layers": [PIXELS, HIDDEN, CLASSES],
            "w1": self.w1.tolist(),
            "b1": self.b1.tolist(),
            "multiplier": self.multiplier,
            "shift": self.shift,
            "w2": self.w2.tolist(),
            "b2": self.b2.tolist(),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> QuantizedWeights:
        document = json.loads(raw)
        if document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} weights file")
        return cls(
            w1=np.array(document["w1"], dtype=np.int64).reshape(PIXELS, HIDDEN),
            b1=np.array(document["b1"], dtype=np.int64).reshape(HIDDEN),
            multiplier=int(document["multiplier"]),
            shift=int(document["shift"]),
            w2=np.array(document["w2"], dtype=np.int64).reshape(HIDDEN, CLASSES),
            b2=np.array(document["b2"], dtype=np.int64).reshape(CLASSES),
        )


class InferenceResult(BaseModel):
    """One answer: the predicted digit and the integer logits it was chosen from."""

    model_config = ConfigDict(frozen=True)

    label: int
    logits: tuple[int, ...]

    def to_bytes(self) -> bytes:
        """Canonical response bytes: label (1 byte) ‖ each logit as int32, big-endian."""
        return bytes((self.label,)) + b"".join(v.to_bytes(4, "big", signed=True) for v in self.logits)

    @property
    def response_hash(self) -> bytes:
        """keccak-256 of :meth:`to_bytes`: what a provider's response receipt signs."""
        return keccak256(self.to_bytes())


# ───────────────────────────── inference (numpy only) ─────────────────────────────


def validate_pixels(pixels: Sequence[int] | npt.NDArray[Any]) -> IntArray:
    """The request as an int64 vector, or a typed refusal.

    Raises:
        InvalidModelInput: not 64 values, a value that is not an integer (floats and bools are
            refused, not rounded), or one outside 0..16.
    """
    raw = _plain_pixel_bytes(pixels)
    if raw is not None:
        return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    if isinstance(pixels, np.ndarray):
        if pixels.dtype.kind not in "iu":
            raise InvalidModelInput(f"pixels must be integers, got an array of {pixels.dtype}")
        values = [int(v) for v in pixels.reshape(-1)]
    else:
        if isinstance(pixels, (str, bytes)) or not isinstance(pixels, Sequence):
            raise InvalidModelInput(f"pixels must be a sequence of {PIXELS} integers, got {type(pixels).__name__}")
        values = []
        for i, v in enumerate(pixels):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InvalidModelInput(f"pixel {i} is {v!r}, not an integer")
            values.append(int(v))
    if len(values) != PIXELS:
        raise InvalidModelInput(f"expected {PIXELS} pixels (an 8x8 image), got {len(values)}")
    for i, v in enumerate(values):
        if not 0 <= v <= MAX_PIXEL:
            raise InvalidModelInput(f"pixel {i} is {v}, outside 0..{MAX_PIXEL}")
    return np.array(values, dtype=np.int64)


def _plain_pixel_bytes(pixels: Any) -> bytes | None:
    """A list of 64 plain ints within 0..MAX_PIXEL (what the agent's route hands over, already
    validated) as one byte each, checked in C (the bytes constructor and max) instead of value by
    value; None for anything else, which :func:`validate_pixels` then checks value by value (and
    names what is wrong)."""
    if type(pixels) is list and len(pixels) == PIXELS and set(map(type, pixels)) == {int}:
        try:
            raw = bytes(pixels)
        except ValueError:  # a value outside 0..255
            return None
        if max(raw) <= MAX_PIXEL:
            return raw
    return None


def _pixel_bytes(pixels: Sequence[int] | npt.NDArray[Any]) -> bytes:
    """The pixels one byte each, checked as :func:`validate_pixels` checks them."""
    raw = _plain_pixel_bytes(pixels)
    return raw if raw is not None else bytes(validate_pixels(pixels).tolist())


class DigitsModel:
    """The quantized classifier. Build it with :func:`load_model` (checks the weights' hash).

    Args:
        weights: the integer weights.
        weights_sha256: their file's sha256 (hex), bound into every request's bytes.
    """

    def __init__(self, weights: QuantizedWeights, weights_sha256: str) -> None:
        self.weights = weights
        self.weights_sha256 = weights_sha256
        self._model_id = bytes.fromhex(weights_sha256)
        # The layers as int32 once, not on every request (int32 accumulation, as trained).
        self._w1, self._b1, self._w2, self._b2 = (
            a.astype(np.int32) for a in (weights.w1, weights.b1, weights.w2, weights.b2)
        )

    def __repr__(self) -> str:
        return f"DigitsModel(weights_sha256={self.weights_sha256})"

    def request_bytes(self, pixels: Sequence[int] | npt.NDArray[Any]) -> bytes:
        """Canonical request bytes: the weights' sha256 ‖ the 64 pixels, one byte each.

        Raises:
            InvalidModelInput: see :func:`validate_pixels`.
        """
        return self._model_id + _pixel_bytes(pixels)

    def request_hash(self, pixels: Sequence[int] | npt.NDArray[Any]) -> bytes:
        """keccak-256 of :meth:`request_bytes`."""
        return keccak256(self.request_bytes(pixels))

    def logits_batch(self, pixels: IntArray) -> IntArray:
        """Integer logits of already validated images, shape (n, 64) -> (n, 10)."""
        w = self.weights
        acc1 = pixels.astype(np.int32) @ self._w1 + self._b1  # int32 accumulation
        relu = np.maximum(acc1, 0).astype(np.int64)
        hidden = np.clip((relu * w.multiplier + (1 << (w.shift - 1))) >> w.shift, 0, 127).astype(np.int32)
        logits = hidden @ self._w2 + self._b2
        return logits.astype(np.int64)

    def infer(self, pixels: Sequence[int] | npt.NDArray[Any]) -> InferenceResult:
        """Classify one 8x8 image.

        Raises:
            InvalidModelInput: see :func:`validate_pixels`.
        """
        logits = self.logits_batch(validate_pixels(pixels).reshape(1, PIXELS))[0]
        return InferenceResult(label=int(np.argmax(logits)), logits=tuple(int(v) for v in logits))


def _package_file(name: str) -> bytes:
    return resources.files("computerails.models").joinpath(name).read_bytes()


def weights_from_bytes(raw: bytes, *, expected_sha256: str = WEIGHTS_SHA256, source: str = WEIGHTS_FILE) -> DigitsModel:
    """A model from weights-file bytes, after checking their sha256.

    Raises:
        ModelWeightsMismatch: the bytes' sha256 is not `expected_sha256`.
    """
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected_sha256:
        raise ModelWeightsMismatch(source, expected_sha256, actual)
    return DigitsModel(QuantizedWeights.from_json_bytes(raw), actual)


@lru_cache(maxsize=1)
def load_model() -> DigitsModel:
    """The committed model (read and hash-checked once per process).

    Raises:
        ModelWeightsMismatch: the shipped weights file is not the one recorded in the code.
    """
    return weights_from_bytes(_package_file(WEIGHTS_FILE))


def infer(pixels: Sequence[int] | npt.NDArray[Any]) -> InferenceResult:
    """Classify one 8x8 image (64 integers in 0..16) with the committed model.

    Raises:
        InvalidModelInput: see :func:`validate_pixels`.
        ModelWeightsMismatch: see :func:`load_model`.
    """
    return load_model().infer(pixels)


def request_hash(pixels: Sequence[int] | npt.NDArray[Any]) -> bytes:
    """keccak-256 of the request's canonical bytes under the committed model."""
    return load_model().request_hash(pixels)


def response_hash(result: InferenceResult) -> bytes:
    """keccak-256 of the response's canonical bytes."""
    return result.response_hash


def dishonest_answer(result: InferenceResult) -> InferenceResult:
    """What a provider that skipped the work might return: a plausible but wrong answer (the
    runner-up label, with its logit raised above the true winner's). For the demo's cheater."""
    ranked = sorted(range(CLASSES), key=lambda i: (-result.logits[i], i))
    wrong = ranked[1]
    logits = list(result.logits)
    logits[wrong] = logits[ranked[0]] + 1
    return InferenceResult(label=wrong, logits=tuple(logits))


def samples() -> list[tuple[tuple[int, ...], int]]:
    """Held-out images shipped with the package, as (pixels, true label)."""
    document = json.loads(_package_file(SAMPLES_FILE))
    return [(tuple(item["pixels"]), int(item["label"])) for item in document["samples"]]


# ───────────────────────────── training (needs scikit-learn) ─────────────────────────────


@dataclass(frozen=True)
class Split:
    """The dataset split by :data:`SEED`: pixels as integers 0..16, labels 0..9."""

    train_x: IntArray
    train_y: IntArray
    test_x: IntArray
    test_y: IntArray


def dataset() -> Split:
    """scikit-learn's digits, split deterministically (a seeded permutation; the first
    :data:`TEST_FRACTION` held out)."""
    from sklearn.datasets import load_digits  # training and tests only

    digits = load_digits()
    x = digits.data.astype(np.int64)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    n_test = int(round(len(y) * TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return Split(train_x=x[train], train_y=y[train], test_x=x[test], test_y=y[test])


def _train_float(split: Split) -> tuple[npt.NDArray[np.float64], ...]:
    """Mini-batch Adam on softmax cross-entropy, float64, every random draw from :data:`SEED`."""
    rng = np.random.default_rng(SEED + 1)
    x = split.train_x.astype(np.float64) / MAX_PIXEL
    onehot = np.eye(CLASSES)[split.train_y]
    params = [
        rng.normal(0.0, np.sqrt(2.0 / PIXELS), (PIXELS, HIDDEN)),
        np.zeros(HIDDEN),
        rng.normal(0.0, np.sqrt(2.0 / HIDDEN), (HIDDEN, CLASSES)),
        np.zeros(CLASSES),
    ]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            xb, tb = x[idx], onehot[idx]
            w1, b1, w2, b2 = params
            pre = xb @ w1 + b1
            hidden = np.maximum(pre, 0.0)
            logits = hidden @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            d_logits = (probs - tb) / len(idx)
            d_hidden = (d_logits @ w2.T) * (pre > 0)
            grads = [xb.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0)]
            step += 1
            for i, g in enumerate(grads):
                first[i] = beta1 * first[i] + (1 - beta1) * g
                second[i] = beta2 * second[i] + (1 - beta2) * g * g
                m_hat = first[i] / (1 - beta1**step)
                v_hat = second[i] / (1 - beta2**step)
                params[i] = params[i] - LEARNING_RATE * m_hat / (np.sqrt(v_hat) + eps)
    return tuple(params)


def quantize(params: tuple[npt.NDArray[np.float64], ...], calibration: IntArray) -> QuantizedWeights:
    """int8 weights (symmetric, one scale per layer), int32 biases at the accumulator's scale,
    and the fixed-point multiplier mapping layer 1's largest activation on `calibration` to 127."""
    w1, b1, w2, b2 = params
    s1 = 127.0 / float(np.abs(w1).max())  # the float model sees pixels / 16: acc1 = 16·s1·pre
    w1q = np.round(w1 * s1).astype(np.int64)
    b1q = np.round(b1 * MAX_PIXEL * s1).astype(np.int64)
    acc1 = calibration @ w1q + b1q
    top = float(np.maximum(acc1, 0).max())
    multiplier = int(round(127.0 / top * (1 << SHIFT)))
    # The activation scale layer 2 sees: one float unit of hidden activation is a_scale levels.
    a_scale = multiplier / (1 << SHIFT) * MAX_PIXEL * s1
    s2 = 127.0 / float(np.abs(w2).max())
    w2q = np.round(w2 * s2).astype(np.int64)
    b2q = np.round(b2 * a_scale * s2).astype(np.int64)
    return QuantizedWeights(w1=w1q, b1=b1q, multiplier=multiplier, shift=SHIFT, w2=w2q, b2=b2q)


def train() -> QuantizedWeights:
    """Train and quantize from scratch; the same code and pinned numpy give the same bytes."""
    from threadpoolctl import threadpool_limits  # with scikit-learn: one BLAS thread, one summation order

    split = dataset()
    with threadpool_limits(limits=1):
        params = _train_float(split)
    return quantize(params, split.train_x)


def accuracy(model: DigitsModel, x: IntArray, y: IntArray) -> float:
    """The share of images `model` labels correctly."""
    predicted = np.argmax(model.logits_batch(x), axis=1)
    return float(np.mean(predicted == y))


def samples_bytes(split: Split) -> bytes:
    """The canonical samples file: the first :data:`SAMPLES` held-out images and their labels."""
    items = [
        {"pixels": split.test_x[i].tolist(), "label": int(split.test_y[i])}
        for i in range(min(SAMPLES, len(split.test_y)))
    ]
    document = {"format": FORMAT, "split_seed": SEED, "samples": items}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def write_files(folder: Path) -> str:
    """Train, write the weights and samples files into `folder`; return the weights' sha256."""
    raw = train().to_json_bytes()
    (folder / WEIGHTS_FILE).write_bytes(raw)
    (folder / SAMPLES_FILE).write_bytes(samples_bytes(dataset()))
    return hashlib.sha256(raw).hexdigest()
