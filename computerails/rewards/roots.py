"""What the oracle quorum signs for a rewards root (EIP-712, the RewardsDistributor's domain):
``RewardsRoot(bytes32 root,uint256 total,uint256 through,uint256[] fees,uint256 configVersion)``.
The digest goes through the AttestationHub's quorum check, bound to its oracle configuration
version as every other statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak

from computerails.eip712 import DOMAIN_TYPEHASH, typed_digest

DOMAIN_NAME = "ComputeRails RewardsDistributor"
DOMAIN_VERSION = "1"
ROOT_TYPE = "RewardsRoot(bytes32 root,uint256 total,uint256 through,uint256[] fees,uint256 configVersion)"
ROOT_TYPEHASH = keccak(text=ROOT_TYPE)


def domain_separator(chain_id: int, distributor: str) -> bytes:
    """The distributor's EIP-712 domain separator."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id, distributor],
        )
    )


@dataclass(frozen=True)
class RootPost:
    """A root over epochs 0 .. through − 1, with the fees of the epochs it adds to the schedule."""

    root: bytes
    total: int
    through: int
    fees: Sequence[int] = field(default_factory=tuple)
    config_version: int = 0

    def struct_hash(self) -> bytes:
        fees = keccak(b"".join(int(f).to_bytes(32, "big") for f in self.fees))
        return keccak(
            encode(
                ["bytes32", "bytes32", "uint256", "uint256", "bytes32", "uint256"],
                [ROOT_TYPEHASH, self.root, self.total, self.through, fees, self.config_version],
            )
        )

    def digest(self, chain_id: int, distributor: str) -> bytes:
        return typed_digest(domain_separator(chain_id, distributor), self.struct_hash())

    def as_tuple(self) -> tuple[bytes, int, int, list[int], int]:
        """The contract's ``RootPost`` argument."""
        return (self.root, self.total, self.through, list(self.fees), self.config_version)
