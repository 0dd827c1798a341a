"""Content addressing: CIDv1 for job specs and results, computed with ``multiformats``.

Every piece of per-job content (a spec's canonical bytes, a result's bytes) is addressed by a
CIDv1 with the ``raw`` codec (0x55) and a sha2-256 multihash, written in base32 (``bafkrei...``):
the form IPFS and Filecoin use for a single block of raw bytes, so a result stored here can be
pinned there unchanged.

On chain a job's result hash is the CID's sha2-256 digest (:func:`digest_of`), 32 bytes: an
oracle that recomputes the result attests ``result_hash = digest_of(cid_for(result))`` and anyone
holding the bytes can check them against the chain.

    >>> cid_for(b"hello")
    'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq'
    >>> digest_of(cid_for(b"hello")).hex()[:16]
    '2cf24dba5fb0a30e'
"""

from __future__ import annotations

import hashlib

from multiformats import CID, multihash

from computerails.errors import InvalidCid

#: The multicodec of a block of raw bytes.
RAW_CODEC = "raw"
RAW_CODEC_CODE = 0x55
#: The multihash function (code 0x12, 32-byte digests).
HASH = "sha2-256"
HASH_CODE = 0x12
DIGEST_SIZE = 32


def cid_for(data: bytes) -> str:
    """The CIDv1 (raw codec, sha2-256, base32) of `data`."""
    return str(CID("base32", 1, RAW_CODEC, multihash.digest(bytes(data), HASH)))


def parse_cid(value: object) -> CID:
    """A CID string checked to be one this project makes: CIDv1, raw codec, sha2-256.

    Args:
        value: a CID in any multibase (``bafkrei...`` base32 is what :func:`cid_for` writes).

    Raises:
        InvalidCid: not a string, not a CID, or another version, codec or hash function.
    """
    if not isinstance(value, str):
        raise InvalidCid(value, f"expected a string, got {type(value).__name__}")
    try:
        cid = CID.decode(value)
    except Exception as e:  # multiformats raises several unrelated types (bases, KeyError, ValueError)
        raise InvalidCid(value, f"not a CID ({type(e).__name__}: {e})") from None
    if cid.version != 1:
        raise InvalidCid(value, f"CIDv{cid.version}; only CIDv1 is used")
    if cid.codec.code != RAW_CODEC_CODE:
        raise InvalidCid(value, f"codec {cid.codec.name}; only {RAW_CODEC} (0x55) is used")
    if cid.hashfun.code != HASH_CODE or len(cid.raw_digest) != DIGEST_SIZE:
        raise InvalidCid(value, f"hash {cid.hashfun.name}; only {HASH} is used")
    return cid


def normalize(value: object) -> str:
    """The canonical (base32) string of a valid CID, whatever multibase it came in.

    Raises:
        InvalidCid: see :func:`parse_cid`.
    """
    return str(parse_cid(value).set(base="base32"))


def digest_of(cid: str) -> bytes:
    """The CID's 32-byte sha2-256 digest: a job's on-chain result hash.

    Raises:
        InvalidCid: see :func:`parse_cid`.
    """
    return bytes(parse_cid(cid).raw_digest)


def cid_from_digest(digest: bytes) -> str:
    """The CID (raw codec, base32) whose sha2-256 digest is `digest` (an on-chain result hash).

    Raises:
        InvalidCid: `digest` is not 32 bytes.
    """
    if len(digest) != DIGEST_SIZE:
        raise InvalidCid("0x" + bytes(digest).hex(), f"a sha2-256 digest is {DIGEST_SIZE} bytes, got {len(digest)}")
    return str(CID("base32", 1, RAW_CODEC, multihash.wrap(bytes(digest), HASH)))


def matches(cid: str, data: bytes) -> bool:
    """Whether `data` is the content `cid` addresses (a sha2-256 compare, no CID encoding).

    Raises:
        InvalidCid: see :func:`parse_cid`.
    """
    return hashlib.sha256(data).digest() == digest_of(cid)


# multiformats builds its tables of bases, codecs and hash functions on first use, and two
# threads doing that at once can collide ("Raw encoding with name 'base32' already exists", seen
# with several clients publishing specs at once): build them here, once, at import.
parse_cid(cid_for(b""))
