"""The voucher's wire format between a paying client and a provider agent: the request header
that carries a signed voucher, and the scheme its 402 terms name. The payer's client
(:mod:`computerails.pay_client`) and the agent (:mod:`computerails.agent.payment`) both use it;
neither imports the other."""

from __future__ import annotations

import base64
import binascii
import json

from computerails.errors import InvalidVoucher
from computerails.vouchers import Voucher, signed_from_json, signed_to_json

__all__ = ["SCHEME", "VOUCHER_HEADER", "decode_voucher_header", "encode_voucher_header"]

#: The request header carrying the signed voucher: ``signed_to_json``'s JSON, plain or base64.
VOUCHER_HEADER = "X-Payment-Voucher"
SCHEME = "computerails-voucher"


def encode_voucher_header(voucher: Voucher, signature: bytes) -> str:
    """The header value a payer sends: base64 (standard alphabet) of the compact JSON
    ``{"voucher": {...}, "signature": "0x..."}``."""
    text = json.dumps(signed_to_json(voucher, signature), separators=(",", ":"), sort_keys=True)
    return base64.b64encode(text.encode()).decode()


def decode_voucher_header(value: str) -> tuple[Voucher, bytes]:
    """The voucher and signature in a header value: plain JSON (starts with ``{``) or base64 of it.

    Raises:
        InvalidVoucher: neither form, or not a signed voucher.
    """
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidVoucher(f"{VOUCHER_HEADER} is neither JSON nor base64 of JSON") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidVoucher(f"{VOUCHER_HEADER} does not hold JSON") from None
    return signed_from_json(data)
