"""Content addressing (computerails.content): CIDv1, raw codec, sha2-256, base32, checked
against multiformats and against a multihash built by hand from the spec."""

from __future__ import annotations

import base64
import hashlib

import pytest
from multiformats import CID

from computerails import content
from computerails.errors import InvalidCid

#: CIDs of b"" and b"hello" as IPFS gives them (`ipfs add --raw-leaves --cid-version 1`).
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
HELLO_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


def by_hand(data: bytes) -> str:
    """CIDv1 from the multiformats specs, without the library: multibase prefix ``b`` (base32,
    lower case, no padding) of varint(1) ‖ varint(0x55 raw) ‖ varint(0x12 sha2-256) ‖
    varint(32) ‖ digest."""
    binary = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


@pytest.mark.parametrize(("data", "expected"), [(b"", EMPTY_CID), (b"hello", HELLO_CID)])
def test_content_cid_for__known_vectors(data, expected):
    assert content.cid_for(data) == expected
    assert by_hand(data) == expected
    assert str(CID.decode(expected)) == expected


@pytest.mark.parametrize("data", [b"", b"hello", bytes(range(256)) * 40])
def test_content_digest_of__is_the_sha256_on_chain(data):
    cid = content.cid_for(data)
    assert content.digest_of(cid) == hashlib.sha256(data).digest()
    assert content.cid_from_digest(content.digest_of(cid)) == cid
    assert content.matches(cid, data) and not content.matches(cid, data + b"x")


def test_content_normalize__other_multibase__same_base32():
    other = str(CID.decode(HELLO_CID).set(base="base58btc"))
    assert other != HELLO_CID
    assert content.normalize(other) == HELLO_CID


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"bafk", "expected a string"),
        ("", "not a CID"),
        ("not-a-cid", "not a CID"),
        (HELLO_CID[:-2], "not a CID"),
        ("QmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4", "CIDv0"),
        (str(CID("base32", 1, "dag-pb", ("sha2-256", hashlib.sha256(b"x").digest()))), "codec dag-pb"),
        (str(CID("base32", 1, "raw", ("sha2-512", hashlib.sha512(b"x").digest()))), "hash sha2-512"),
    ],
)
def test_content_parse_cid__refuses_other_cids(value, problem):
    with pytest.raises(InvalidCid, match=problem) as info:
        content.parse_cid(value)
    assert info.value.cid == value
    assert isinstance(info.value, ValueError)


def test_content_cid_from_digest__wrong_length__refused():
    with pytest.raises(InvalidCid, match="32 bytes"):
        content.cid_from_digest(b"\x00" * 31)
