"""Oracle nodes as real processes for the network tests: the package's launcher
(:mod:`computerails.devnet.oracle`, shared with the bench and the demo) over the devnet's oracle
keys, named by their dev key index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from computerails.devnet import dev_key
from computerails.devnet.oracle import LinkProcess, OracleProcess
from computerails.devnet.oracle import oracle_network as _oracle_network

__all__ = ["LinkProcess", "OracleProcess", "oracle_network"]


def oracle_network(
    folder: Path,
    rpc_url: str,
    deployment: Path,
    indices: tuple[int, ...],
    *,
    cuttable: int | None = None,
    **settings: Any,
) -> tuple[list[OracleProcess], LinkProcess | None]:
    """One node per dev key index, each naming all the others as peers (not started). With
    `cuttable` (a dev key index), that node's links go through a started :class:`LinkProcess`."""
    return _oracle_network(
        folder,
        rpc_url,
        deployment,
        [dev_key(i) for i in indices],
        cuttable=None if cuttable is None else indices.index(cuttable),
        **settings,
    )
