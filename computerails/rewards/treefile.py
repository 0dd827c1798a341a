"""The rewards file: what ``computerails rewards compute`` writes and ``claim``/``verify`` read.

One JSON document per computed root: the tree in OpenZeppelin's ``standard-v1`` layout (the
JavaScript library loads the ``tree`` member unchanged), each account's cumulative amount and
proof, the root and its total, the epochs it covers, the fee figure of every epoch (what the
root post carries), and the calculator's per-epoch breakdown. Loading rebuilds the tree from its
values, so a file whose root, total, nodes or proofs were edited is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from computerails._files import write_atomic
from computerails.rewards.merkle import RewardsTree

FORMAT = "computerails-rewards-v1"


class RewardsFileError(ValueError):
    """A rewards file that cannot be used: unreadable, another format, or inconsistent."""


@dataclass(frozen=True)
class RewardsFile:
    """A computed rewards root over epochs 0 .. ``through`` − 1 of one distributor."""

    chain_id: int
    distributor: str
    through: int
    tree: RewardsTree
    fees: tuple[int, ...]  # the fee figure of every epoch 0 .. through − 1
    epochs: tuple[Mapping[str, Any], ...] = ()  # the calculator's breakdown, one entry per epoch
    params: Mapping[str, Any] = field(default_factory=dict)  # what the calculator ran with

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total(self) -> int:
        return self.tree.total

    def amount(self, account: str) -> int:
        """`account`'s cumulative amount, 0 when the tree does not name it."""
        return self.tree.amounts.get(account.lower(), 0)

    def fees_from(self, through: int) -> list[int]:
        """The fees a root post carries when the previous root covered `through` epochs."""
        if not 0 <= through <= self.through:
            raise RewardsFileError(f"the previous root covers {through} epochs; this file covers {self.through}")
        return list(self.fees[through:])

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chainId": self.chain_id,
            "distributor": to_checksum_address(self.distributor),
            "through": self.through,
            "root": "0x" + self.root.hex(),
            "total": str(self.total),
            "fees": [str(f) for f in self.fees],
            "params": dict(self.params),
            "epochs": [dict(e) for e in self.epochs],
            "claims": {
                to_checksum_address(a): {
                    "amount": str(v),
                    "proof": ["0x" + p.hex() for p in self.tree.proof(a)],
                }
                for a, v in self.tree.values
            },
            "tree": self.tree.dump(),
        }

    def write(self, path: str | Path) -> Path:
        """Write the file atomically (a reader never sees half of it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(self.document(), indent=1).encode())
        return path

    @classmethod
    def load(cls, path: str | Path) -> RewardsFile:
        """Read and check a rewards file.

        Raises:
            RewardsFileError: unreadable, another format, or its tree, root, total or proofs
                do not match its values.
        """
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise RewardsFileError(f"cannot read rewards file {path}: {e}") from None
        return cls.from_document(doc, str(path))

    @classmethod
    def from_document(cls, doc: Any, where: str = "the rewards document") -> RewardsFile:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise RewardsFileError(f"{where} is not a {FORMAT} document")
        try:
            tree_doc = doc["tree"]
            values = [(str(v["value"][0]), int(v["value"][1])) for v in tree_doc["values"]]
            tree = RewardsTree.of(values)
            loaded = cls(
                chain_id=int(doc["chainId"]),
                distributor=to_checksum_address(doc["distributor"]),
                through=int(doc["through"]),
                tree=tree,
                fees=tuple(int(f) for f in doc["fees"]),
                epochs=tuple(doc.get("epochs", ())),
                params=dict(doc.get("params", {})),
            )
            claims = doc["claims"]
            root, total, nodes = doc["root"], int(doc["total"]), list(tree_doc["tree"])
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise RewardsFileError(f"{where} is malformed: {e}") from None
        problems = _mismatches(loaded, root, total, nodes, claims)
        if problems:
            raise RewardsFileError(f"{where} is inconsistent: " + "; ".join(problems))
        return loaded


def _mismatches(f: RewardsFile, root: str, total: int, nodes: Sequence[str], claims: Any) -> list[str]:
    problems = []
    if root.lower() != "0x" + f.root.hex():
        problems.append(f"its root {root} is not the root of its values, 0x{f.root.hex()}")
    if total != f.total:
        problems.append(f"its total {total} is not the sum of its values, {f.total}")
    if [n.lower() for n in nodes] != ["0x" + n.hex() for n in f.tree.nodes]:
        problems.append("its tree nodes are not the tree of its values")
    if len(f.fees) != f.through:
        problems.append(f"it covers {f.through} epochs but carries {len(f.fees)} fee figures")
    if not isinstance(claims, dict) or len(claims) != len(f.tree.values):
        problems.append("its claims do not list every account once")
    else:
        for account, claim in claims.items():
            key = str(account).lower()
            if key not in f.tree.amounts:
                problems.append(f"claim for {account} is not in the tree")
            elif int(claim["amount"]) != f.tree.amounts[key] or [p.lower() for p in claim["proof"]] != [
                "0x" + p.hex() for p in f.tree.proof(key)
            ]:
                problems.append(f"claim for {account} does not match the tree")
            if len(problems) > 5:
                break
    return problems
