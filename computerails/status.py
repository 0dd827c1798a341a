"""Job statuses: the escrow's state machine as a ``str`` Enum.

Public as :class:`computerails.types.JobStatus` (and ``computerails.JobStatus``). It lives in
this leaf module, which imports nothing of the package, because :mod:`computerails.errors`
decodes statuses in revert arguments and :mod:`computerails.types` needs
:mod:`computerails.addresses`, which raises :mod:`computerails.errors`' exceptions: with the
enum in ``types`` those three modules would import each other in a cycle.
"""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    """Where a job is in its life (see IJobEscrow's state machine)."""

    NONE = "none"
    OPEN = "open"
    ACCEPTED = "accepted"
    ATTESTED = "attested"
    DISPUTED = "disputed"
    SETTLED = "settled"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @classmethod
    def from_int(cls, value: int) -> JobStatus:
        return list(cls)[value]

    def to_int(self) -> int:
        return list(type(self)).index(self)

    @property
    def ended(self) -> bool:
        return self in (JobStatus.SETTLED, JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED)
