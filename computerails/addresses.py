"""Addresses and 32-byte hashes typed or pasted by a user: one parser of each that the SDK and
the CLI share.

A mixed-case address carries an EIP-55 checksum: a typo in it almost always breaks the
checksum, so an address whose checksum is wrong is refused instead of normalised (otherwise
a client's payment would be locked in a job for whoever owns the mistyped address).
All-lower-case and all-upper-case addresses carry no checksum and are accepted, as every
wallet accepts them.

Addresses decoded from the chain (ABI results, events, receipts) need none of this: they
go through :func:`computerails._rpc.checksum`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NoReturn

from eth_utils import to_checksum_address

from computerails.errors import InvalidAddress

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@lru_cache(maxsize=4096)
def _parse(value: str, what: str) -> str:
    if not _HEX_ADDRESS.fullmatch(value):
        _refuse(value, what, "is not 20 bytes of hex: expected 0x followed by 40 hex digits")
    checksummed = to_checksum_address(value)
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and value != checksummed:
        _refuse(value, what, "has a wrong EIP-55 checksum: it is probably mistyped; copy it again from its source")
    return checksummed


def _refuse(value: object, what: str, problem: str) -> NoReturn:
    raise InvalidAddress(value, what, problem)


def parse_address(value: str, what: str = "") -> str:
    """The checksummed form of an address a user gave, after checking it.

    Args:
        value: ``0x`` and 40 hex digits: all lower case, all upper case, or mixed case with a
            valid EIP-55 checksum.
        what: what the address is for (``"provider"``, ``"token"``), named in the error
            message (``"provider address 0x... has a wrong EIP-55 checksum ..."``).

    Returns:
        The EIP-55 checksummed address.

    Raises:
        InvalidAddress: `value` is not 20 bytes of 0x-prefixed hex, or it is mixed case and
            its checksum is wrong. Nothing has been sent.
    """
    if not isinstance(value, str):
        _refuse(value, what, "is not 20 bytes of hex: expected a string of 0x followed by 40 hex digits")
    return _parse(value, what)


def parse_bytes32(value: Any, what: str, error: type[Exception] = ValueError) -> bytes:
    """32 bytes from bytes or hex (``0x`` optional): a spec or result hash, a collection id, a
    rewards root.

    Raises:
        `error` (ValueError by default): not hex, or not 32 bytes long; the message names `what`.
    """
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        text = str(value)
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise error(f"{what} {text!r} is not hex: expected 0x followed by 64 hex digits") from None
    if len(raw) != 32:
        raise error(f"{what} must be 32 bytes, got {len(raw)}")
    return raw
