"""An agent with ``payment = false`` (the baseline make bench measures payment's overhead
against): POST /v1/infer answers anyone, without a voucher, with the model's own answer and no
receipt."""

from __future__ import annotations

import pytest

from computerails import _http
from computerails.models import digits


@pytest.fixture(scope="module")
def free_agent(make_agent):
    process = make_agent(payment=False).start()
    yield process
    assert process.stop() == 0


@pytest.mark.parametrize("index", [0, 1, 2])
def test_infer__payment_off__200_label_and_logits_without_voucher_or_receipt(free_agent, index):
    pixels = list(digits.samples()[index][0])

    response = _http.post(f"{free_agent.url}/v1/infer", json={"pixels": pixels})

    assert response.status_code == 200
    expected = digits.infer(pixels)
    assert response.json() == {"label": expected.label, "logits": list(expected.logits)}


def test_infer__payment_off__invalid_body_still_422(free_agent):
    response = _http.post(f"{free_agent.url}/v1/infer", json={"pixels": [1, 2, 3]})

    assert response.status_code == 422
