"""The digits classifier (computerails.models.digits): accurate on held-out images, retrained to
the same bytes, integer-exact at inference, and strict about its input and its weights file."""

import hashlib

import numpy as np
import pytest

from computerails.errors import InvalidModelInput, ModelError, ModelWeightsMismatch
from computerails.models import digits
from computerails.vouchers import keccak256


@pytest.fixture(autouse=True)
def _revert_chain():
    """Overrides the SDK suite's snapshot fixture: nothing here touches a chain."""
    yield


@pytest.fixture(scope="module")
def split():
    return digits.dataset()


@pytest.fixture(scope="module")
def model():
    return digits.load_model()


def reference_logits(weights: digits.QuantizedWeights, pixels: list[int]) -> list[int]:
    """The same integer network in plain Python ints: no numpy, no floats."""
    w1, b1, w2, b2 = (weights.w1.tolist(), weights.b1.tolist(), weights.w2.tolist(), weights.b2.tolist())
    hidden = []
    for j in range(digits.HIDDEN):
        acc = sum(pixels[i] * w1[i][j] for i in range(digits.PIXELS)) + b1[j]
        assert -(2**31) <= acc < 2**31  # int32 accumulation cannot overflow
        level = (max(acc, 0) * weights.multiplier + (1 << (weights.shift - 1))) >> weights.shift
        hidden.append(min(max(level, 0), 127))
    return [sum(hidden[j] * w2[j][k] for j in range(digits.HIDDEN)) + b2[k] for k in range(digits.CLASSES)]


def test_accuracy__held_out_split__at_least_90_percent(model, split):
    accuracy = digits.accuracy(model, split.test_x, split.test_y)
    assert len(split.test_y) == 449 and len(split.train_y) == 1_348
    assert accuracy >= 0.90, accuracy
    assert accuracy == pytest.approx(0.9644, abs=0.0001)  # the committed model's figure


def test_train__from_scratch__reproduces_committed_weights_hash():
    raw = digits.train().to_json_bytes()
    assert hashlib.sha256(raw).hexdigest() == digits.WEIGHTS_SHA256


def test_samples_file__first_held_out_images(split):
    shipped = digits.samples()
    assert len(shipped) == digits.SAMPLES
    assert shipped == [(tuple(split.test_x[i].tolist()), int(split.test_y[i])) for i in range(digits.SAMPLES)]


def test_infer__every_held_out_image__equals_plain_integer_reference(model, split):
    batch = model.logits_batch(split.test_x)
    for pixels, logits in zip(split.test_x.tolist(), batch.tolist()):
        assert logits == reference_logits(model.weights, pixels)


def test_infer__repeated_and_across_input_types__same_bytes(model, split):
    pixels = split.test_x[0]
    first = digits.infer(pixels.tolist())
    assert digits.infer(pixels) == first
    assert digits.infer(tuple(int(v) for v in pixels)) == first
    assert digits.infer(pixels.astype(np.uint8)) == first
    assert first.to_bytes() == digits.infer(pixels.tolist()).to_bytes()
    assert first.label == int(np.argmax(first.logits)) and len(first.logits) == 10


def test_encodings__request_and_response_bytes_and_hashes(model, split):
    pixels = split.test_x[1].tolist()
    result = digits.infer(pixels)
    request = model.request_bytes(pixels)
    assert request == bytes.fromhex(digits.WEIGHTS_SHA256) + bytes(pixels)
    assert digits.request_hash(pixels) == keccak256(request)
    response = result.to_bytes()
    assert len(response) == 1 + 10 * 4 and response[0] == result.label
    assert [int.from_bytes(response[1 + 4 * k : 5 + 4 * k], "big", signed=True) for k in range(10)] == list(
        result.logits
    )
    assert digits.response_hash(result) == result.response_hash == keccak256(response)


def test_dishonest_answer__wrong_label_and_different_hash(split):
    for pixels in split.test_x[:20].tolist():
        honest = digits.infer(pixels)
        wrong = digits.dishonest_answer(honest)
        assert wrong.label != honest.label
        assert wrong.label == int(np.argmax(wrong.logits))
        assert wrong.response_hash != honest.response_hash


@pytest.mark.parametrize(
    ("pixels", "problem"),
    [
        ([0] * 63, "expected 64 pixels (an 8x8 image), got 63"),
        ([0] * 65, "expected 64 pixels (an 8x8 image), got 65"),
        ([0] * 63 + [17], "pixel 63 is 17, outside 0..16"),
        ([-1] + [0] * 63, "pixel 0 is -1, outside 0..16"),
        ([0.0] * 64, "pixel 0 is 0.0, not an integer"),
        ([True] + [0] * 63, "pixel 0 is True, not an integer"),
        (np.zeros(64, dtype=np.float64), "pixels must be integers, got an array of float64"),
        ("0" * 64, "pixels must be a sequence of 64 integers, got str"),
        (None, "pixels must be a sequence of 64 integers, got NoneType"),
    ],
)
def test_infer__bad_input__invalid_model_input(pixels, problem):
    with pytest.raises(InvalidModelInput) as info:
        digits.infer(pixels)
    assert info.value.problem == problem
    assert isinstance(info.value, ModelError) and isinstance(info.value, ValueError)


def test_load__edited_weights__weights_mismatch():
    raw = bytearray(digits._package_file(digits.WEIGHTS_FILE))
    raw[raw.index(b'"b2":[') + 6] ^= 1  # one digit of one bias
    with pytest.raises(ModelWeightsMismatch) as info:
        digits.weights_from_bytes(bytes(raw))
    assert info.value.expected == digits.WEIGHTS_SHA256
    assert info.value.actual == hashlib.sha256(bytes(raw)).hexdigest() != info.value.expected
    assert "python -m computerails.models" in str(info.value)
