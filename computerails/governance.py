"""The governance role: changes to a production deployment go through its timelock.

Every admin and governor role of a deployment made by the deploy script is held by the
``ProtocolTimelock``; governance (its proposer and executor) schedules a batch of calls, waits
out the delay (longer than the unbonding delay, so that providers can exit before a change they
dislike) and executes it. Pausing is not behind the timelock: the guardian calls
``JobEscrow.pause`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import keccak
from web3.contract import Contract

from computerails.errors import NotAllowed, PreconditionError, TooEarly
from computerails.session import Session
from computerails.tx import Sendable, SentTransaction

ZERO32 = b"\x00" * 32


@dataclass(frozen=True)
class Operation:
    """A batch of calls scheduled on the timelock."""

    id: bytes  # the timelock's operation id (hashOperationBatch)
    targets: tuple[str, ...]
    payloads: tuple[bytes, ...]
    salt: bytes
    ready_at: int  # unix time from which it can be executed


class GovernanceAPI:
    """Schedule and execute governance calls through the deployment's timelock."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def timelock(self) -> Contract:
        """The timelock contract (web3), or NotAllowed for a deployment without one."""
        address = self._s.deployment.governance.get("timelock")
        if not address:
            raise NotAllowed(f"deployment {self._s.deployment.source} records no timelock")
        return self._s.contract("ProtocolTimelock", address)

    def delay(self) -> int:
        """Seconds between scheduling and executing."""
        return int(self.timelock.functions.getMinDelay().call())

    def schedule(self, calls: Sequence[Sendable], salt: bytes | None = None) -> Operation:
        """Schedule `calls` (``Call`` objects or web3 contract functions) as one batch.

        Raises:
            NotAllowed: the connection's account is not a proposer.
        """
        timelock = self.timelock
        proposer = timelock.functions.PROPOSER_ROLE().call()
        if not timelock.functions.hasRole(proposer, self._s.address).call():
            raise NotAllowed(f"{self._s.address} is not a proposer of the timelock {timelock.address}")
        targets = tuple(c.address for c in calls)
        payloads = tuple(bytes.fromhex(str(c._encode_transaction_data()).removeprefix("0x")) for c in calls)
        salt = salt if salt is not None else keccak(b"".join(payloads) + self._s.now().to_bytes(32, "big"))
        delay = self.delay()
        self._s.send(
            timelock.functions.scheduleBatch(list(targets), [0] * len(targets), list(payloads), ZERO32, salt, delay),
            "scheduleBatch",
        )
        op_id = bytes(
            timelock.functions.hashOperationBatch(
                list(targets), [0] * len(targets), list(payloads), ZERO32, salt
            ).call()
        )
        ready_at = int(timelock.functions.getTimestamp(op_id).call())
        return Operation(op_id, targets, payloads, salt, ready_at)

    def execute(self, op: Operation) -> SentTransaction:
        """Execute a scheduled batch once its delay has passed.

        Raises:
            TooEarly: the delay has not passed yet.
            PreconditionError: the operation is unknown, cancelled or already executed.
        """
        timelock = self.timelock
        if not timelock.functions.isOperationPending(op.id).call():
            raise PreconditionError(f"operation 0x{op.id.hex()} is not pending (never scheduled, cancelled or done)")
        if self._s.now() < op.ready_at:
            raise TooEarly(f"operation 0x{op.id.hex()} can be executed from {op.ready_at} (unix time)")
        return self._s.send(
            timelock.functions.executeBatch(
                list(op.targets), [0] * len(op.targets), list(op.payloads), ZERO32, op.salt
            ),
            "executeBatch",
        )
