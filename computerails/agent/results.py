"""The provider's result store: content-addressed files on disk, one per CID.

A result is stored as ``<directory>/<cid>`` where ``cid`` is its CIDv1 (raw codec, sha2-256,
base32; :mod:`computerails.content`). Writes are atomic and durable: the bytes go to a temporary
file in the same directory, which is fsynced, renamed over the final name, and the directory is
fsynced, so a crash leaves either the whole file or none. Reads hash the bytes again and refuse a
file whose content no longer matches its name (:class:`~computerails.errors.ContentMismatch`).

The HTTP service serves ``GET /v1/results/{cid}`` from :meth:`ResultStore.get`; the job runner
writes with :meth:`ResultStore.put`. The same class stores published job specs: a spec's
bytes are addressed the same way (see :class:`computerails.agent.jobs.DirectorySpecSource`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from computerails._files import write_atomic
from computerails.content import cid_for, digest_of, normalize
from computerails.errors import ContentMismatch, ContentNotFound


class ResultStore:
    """Content-addressed bytes in one directory (created if missing). Thread- and
    process-safe: every write is a rename of a complete file, and two writers of one CID write
    the same bytes.

    Args:
        directory: where the files live.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.directory)!r})"

    def path_of(self, cid: str) -> Path:
        """The file that holds (or would hold) `cid`.

        Raises:
            InvalidCid: `cid` is not a CIDv1 of raw sha2-256 content; the name is never used
                as a path before this check, so no CID can point outside the directory.
        """
        return self.directory / normalize(cid)

    def put(self, data: bytes) -> str:
        """Store `data` durably; return its CID. Storing bytes already there is a no-op."""
        cid = cid_for(data)
        final = self.directory / cid
        if final.exists():
            return cid
        write_atomic(final, data)
        self._sync_directory()
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes stored under `cid`, after checking that they hash to it.

        Raises:
            InvalidCid: see :meth:`path_of`.
            ContentNotFound: nothing is stored under `cid`.
            ContentMismatch: the file's bytes are not the content `cid` names (changed on disk).
        """
        path = self.path_of(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ContentNotFound(normalize(cid), str(self.directory)) from None
        expected = normalize(cid)
        if hashlib.sha256(data).digest() != digest_of(expected):
            raise ContentMismatch(expected, cid_for(data), str(path))
        return data

    def has(self, cid: str) -> bool:
        """Whether a file is stored under `cid` (its content is checked by :meth:`get`).

        Raises:
            InvalidCid: see :meth:`path_of`.
        """
        return self.path_of(cid).is_file()

    def _sync_directory(self) -> None:
        """fsync the directory so the rename itself survives a power cut (POSIX)."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
