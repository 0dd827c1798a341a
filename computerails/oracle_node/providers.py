"""The providers an oracle node probes, from the chain.

:class:`ProviderDirectory` reads ProviderStaking's ``ProviderRegistered`` and
``ProviderMetadataUpdated`` events incrementally (pages of ``log_batch`` blocks, from a block
cursor that a :class:`DirectoryStore` keeps with the entries, so a restart resumes), and keeps each
provider's latest metadata URI: the URL its agent serves on (``http://127.0.0.1:8700``). A URI
that is not an http(s) URL cannot be probed (:func:`probe_url` gives ``None``): its probes count
down.

Whether the uptime SLA applies to a provider in an epoch mirrors the chain's rule
(``UptimeSlasher._markUnderSla`` over ``ProviderStaking.uptimeStatus``): :func:`sla_applies`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from computerails.addresses import parse_address
from computerails.errors import PreconditionError
from computerails.rails import ComputeRails
from computerails.types import ProviderStatus

log = logging.getLogger("computerails.oracle_node.providers")


@dataclass(frozen=True)
class ProviderEntry:
    """A registered provider and its latest metadata URI."""

    address: str
    metadata_uri: str
    block: int  # the block of the event that set the URI


class DirectoryStore(Protocol):
    """Where the directory keeps its entries and cursor (:class:`~computerails.oracle_node.probes.ProbeLog`)."""

    def load_directory(self) -> tuple[dict[str, ProviderEntry], int | None]: ...

    def save_directory(self, entries: Iterable[ProviderEntry], next_block: int) -> None: ...


def probe_url(metadata_uri: str) -> str | None:
    """The base URL to probe for a metadata URI, or ``None`` when it is not an http(s) URL with
    a host (``ipfs://…``, a bare word, an empty string)."""
    try:
        parts = urlsplit(metadata_uri.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return metadata_uri.strip().rstrip("/")


def sla_applies(status: ProviderStatus, epoch_start: int) -> bool:
    """Whether the uptime SLA applies to the provider in the epoch starting at `epoch_start`
    (unix seconds), as the chain decides when a report arrives: registered; not jailed for
    downtime (the SLA is suspended until it unjails); the epoch starts at or after ``sla_from``
    (registration, or the last unjail from a downtime jail); and, if it left, before ``left_at``
    (the epoch it left in still counts).
    """
    if not status.registered or status.jailed_for_downtime:
        return False
    if status.sla_from is not None and epoch_start < int(status.sla_from.timestamp()):
        return False
    return status.left_at is None or epoch_start < int(status.left_at.timestamp())


class ProviderDirectory:
    """The registered providers and their metadata URIs, read from the chain.

    Args:
        rails: a connection (read-only is enough).
        store: where entries and the cursor are kept (default: memory only).
        start_block: the first block to read when the store has no cursor (default: the
            deployment's block).
        log_batch: blocks per ``eth_getLogs`` request.
        confirmations: blocks an event must be buried under before it is read.
    """

    def __init__(
        self,
        rails: ComputeRails,
        *,
        store: DirectoryStore | None = None,
        start_block: int | None = None,
        log_batch: int = 2_000,
        confirmations: int = 0,
    ) -> None:
        if log_batch < 1 or confirmations < 0:
            raise PreconditionError("log_batch must be at least 1 and confirmations at least 0")
        self.rails = rails
        self.store = store
        self.log_batch = log_batch
        self.confirmations = confirmations
        self._entries: dict[str, ProviderEntry] = {}
        cursor = None
        if store is not None:
            self._entries, cursor = store.load_directory()
        if cursor is None:
            cursor = start_block if start_block is not None else rails.deployment.deploy_block
        self.next_block: int = cursor

    def refresh(self, from_block: int | None = None) -> int:
        """Read registrations and URI changes from `from_block` (default: where the last call
        stopped) to the head less ``confirmations``, a page at a time; each page's entries and the
        cursor after it are stored together.

        Returns:
            The next block to read (also kept as ``next_block``).
        """
        start = self.next_block if from_block is None else from_block
        head = int(self.rails.w3.eth.block_number) - self.confirmations
        events = self.rails.staking.events
        for low in range(start, head + 1, self.log_batch):
            high = min(head, low + self.log_batch - 1)
            logs = [
                *events.ProviderRegistered().get_logs(from_block=low, to_block=high),
                *events.ProviderMetadataUpdated().get_logs(from_block=low, to_block=high),
            ]
            changed: dict[str, ProviderEntry] = {}
            for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
                address = parse_address(entry["args"]["provider"], "provider")
                changed[address] = ProviderEntry(address, str(entry["args"]["metadataURI"]), int(entry["blockNumber"]))
            for address, new in changed.items():
                if address not in self._entries:
                    log.info("provider %s registered: %s", address, new.metadata_uri)
                elif self._entries[address].metadata_uri != new.metadata_uri:
                    log.info("provider %s moved to %s", address, new.metadata_uri)
            self._entries.update(changed)
            if self.store is not None:
                self.store.save_directory(changed.values(), high + 1)
            self.next_block = high + 1
        self.next_block = max(self.next_block, start)
        return self.next_block

    def providers(self) -> list[ProviderEntry]:
        """Every provider seen, by address."""
        return [self._entries[a] for a in sorted(self._entries)]

    def entry(self, address: str) -> ProviderEntry | None:
        return self._entries.get(parse_address(address, "provider"))

    def url(self, address: str) -> str | None:
        """Where to probe the provider, or ``None`` (unknown, or its URI is not an http(s) URL)."""
        entry = self.entry(address)
        return None if entry is None else probe_url(entry.metadata_uri)

    def status(self, address: str) -> ProviderStatus:
        """The provider's state on chain now."""
        return self.rails.views.provider(address)

    def sla_applies(self, address: str, epoch_start: int) -> bool:
        """Whether the SLA applies to the provider in the epoch starting at `epoch_start` (reads
        the chain: :func:`sla_applies`)."""
        return sla_applies(self.status(address), epoch_start)
