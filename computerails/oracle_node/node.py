"""One oracle node's logic (docs/ORACLE_NETWORK.md): what it does with a gossip message, with a
forwarded receipt, and in each pass of its loop. The HTTP app (:mod:`~computerails.oracle_node.app`)
calls :meth:`OracleNode.receive` and :meth:`OracleNode.check_receipt` from its request handlers and
:meth:`OracleNode.tick` / :meth:`OracleNode.regossip` from its background loops; every decision is
written to the node's SQLite file before it is acted on.

A pass (:meth:`OracleNode.tick`):

1. **membership**: the hub's oracles, threshold and configuration version (read every pass);
2. **journal**: every submission still pending is looked up (or broadcast again) and recorded;
3. **jobs**: new ``JobAccepted`` events open a round each; for each open job round this node has
   not signed, it recomputes the provider's published result and signs its verdict;
4. **uptime**: for each ended, still reportable epoch it gossips its own observation of every
   provider under the SLA, and once ``observe_grace`` has passed signs the lower median of the
   observations it holds (at least ``threshold`` of them) when it is below the SLA, and when it is
   not too if the node runs the rewards duty (``rewards.report_uptime``: the availability pool);
5. **fraud**: evidence received from a peer is recomputed and, when it proves a wrong answer,
   signed;
6. **rewards** (when the deployment has a RewardsDistributor and ``[rewards]`` is on): a pending
   root the node's own computation of the same epochs contradicts is vetoed (the decision
   journalled first); with no root pending and epochs settled past the last root not vetoed, the
   node computes the tree through them, writes its file, and signs the root post;
7. **transmit**: every round with a quorum whose turn has come for this node in the round's
   transmitter schedule is checked against the chain and sent (job attestations in one
   ``submitAttestations``; a rewards root in ``postRoot``); rounds done on chain are closed.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.exceptions import TransactionNotFound

from computerails import _http, eip712, receipts
from computerails.addresses import parse_address
from computerails.errors import (
    ComputeRailsError,
    ContractRevert,
    GossipRefused,
    InvalidReceipt,
    PreconditionError,
    TransactionReverted,
)
from computerails.oracle_node import gossip, verify
from computerails.oracle_node.config import OracleSettings
from computerails.oracle_node.gossip import Envelope, PeerLink
from computerails.oracle_node.metrics import NodeMetrics
from computerails.oracle_node.rewards import (
    ChainRoots,
    RewardsDuty,
    disagrees,
    next_through,
    post_of,
    premature,
    veto_key,
    veto_reason,
)
from computerails.oracle_node.store import NodeStore, Observation, Round, Submission
from computerails.rails import ComputeRails
from computerails.receipts import FraudAttestation, ResponseReceipt
from computerails.rewards.roots import RootPost
from computerails.service import journal
from computerails.types import ZERO_ADDRESS, Attestation, JobStatus, Signature, UptimeReport

log = logging.getLogger("computerails.oracle")

JOB, UPTIME, FRAUD, REWARDS, VETO = "job", "uptime", "fraud", "rewards", "veto"
#: Why a root post is neither sent nor its round closed yet: the chain shows the same root
#: vetoed, and the node's index has not caught up with that post to tell whether the veto was
#: of this very post or of the same tree with other fees (looked at again on the next pass).
UNDECIDED = "the index has not caught up with the vetoed post of this root"
SUBMIT_LABELS = frozenset(
    {"submitAttestation", "submitAttestations", "submitUptimeReport", "submitFraudAttestation", "postRoot", "veto"}
)
FRAUD_VALIDITY = 3_600  # seconds a fraud attestation's signatures stay valid
Statement = Attestation | UptimeReport | FraudAttestation | RootPost


class UptimeSource(Protocol):
    """Where the node's own uptime observations come from (the prober)."""

    def subjects(self, epoch: int) -> list[str]:
        """Providers under the SLA in `epoch`."""
        ...

    def observe(self, epoch: int, provider: str) -> tuple[int, int] | None:
        """(uptime in bps, probes counted) of a provider in an ended epoch; None: abstain."""
        ...


# ───────────────────────── pure rules ─────────────────────────


@dataclass(frozen=True)
class _Batch:
    """A ``submitAttestations`` transaction and the job ids the hub skipped in it."""

    sent: Any
    skipped: list[int]

    @property
    def tx_hash(self) -> str:
        return str(self.sent.tx_hash)


def median_uptime(values: Sequence[int], quorum: int) -> int | None:
    """The lower median of the observations when there are at least `quorum` of them: with at
    most a minority of faulty nodes it lies between honest values."""
    if len(values) < max(1, quorum):
        return None
    return int(statistics.median_low(values))


def transmit_order(digest: str, members: Iterable[str]) -> list[str]:
    """A round's transmitter schedule: the members sorted by keccak(digest ‖ member), so each
    round rotates who goes first, and every node computes the same order."""
    raw = bytes.fromhex(digest.removeprefix("0x"))
    return sorted(members, key=lambda m: keccak(raw + bytes.fromhex(m[2:])))


def turn_at(order: Sequence[str], me: str, ready_at: float, delay: float, head_start: float = 0.0) -> float | None:
    """When this node may transmit a round that became ready at `ready_at`: position p waits
    ``head_start + p × delay``. None when it is not a member."""
    if me not in order:
        return None
    return ready_at + head_start + order.index(me) * delay


def rewards_key(base_through: int, through: int, config_version: int) -> str:
    """A rewards round: the root continuing the root over `base_through` epochs through
    `through` (its fees start at `base_through`, so a root over other epochs is another round),
    signed under `config_version` (a new oracle configuration signs it again in a new round)."""
    return f"{REWARDS}:{base_through}:{through}:{config_version}"


def round_key(statement: Statement, domain: Any = None) -> str:
    if isinstance(statement, Attestation):
        return f"{JOB}:{statement.job_id}"
    if isinstance(statement, UptimeReport):
        return f"{UPTIME}:{statement.provider}:{statement.epoch}"
    if isinstance(statement, RootPost):
        return rewards_key(statement.through - len(statement.fees), statement.through, statement.config_version)
    return f"{FRAUD}:0x{receipts.digest(domain, statement.receipt).hex()}"


def kind_of(statement: Statement) -> str:
    if isinstance(statement, Attestation):
        return JOB
    if isinstance(statement, UptimeReport):
        return UPTIME
    if isinstance(statement, RootPost):
        return REWARDS
    return FRAUD


def parse_statement(kind: str, body: dict[str, Any]) -> Statement:
    """A statement from its JSON (raises ValueError / InvalidReceipt on a malformed one)."""
    if kind == JOB:
        return Attestation.model_validate(body)
    if kind == UPTIME:
        return UptimeReport.model_validate(body)
    if kind == FRAUD:
        receipt = ResponseReceipt.model_validate(body["receipt"])
        return FraudAttestation(**{**body, "receipt": receipt})
    if kind == REWARDS:
        root = bytes.fromhex(str(body["root"]).removeprefix("0x"))
        if len(root) != 32:
            raise ValueError("root: must be 32 bytes")
        post = RootPost(
            root=root,
            total=int(body["total"]),
            through=int(body["through"]),
            fees=tuple(int(f) for f in body["fees"]),
            config_version=int(body["config_version"]),
        )
        if post.total < 0 or any(f < 0 for f in post.fees) or not 0 < len(post.fees) <= post.through:
            raise ValueError("a root post adds 1 .. through epochs with non-negative figures")
        return post
    raise ValueError(f"unknown statement kind {kind!r}")


def dump_statement(statement: Statement) -> dict[str, Any]:
    if isinstance(statement, RootPost):
        return {
            "root": "0x" + statement.root.hex(),
            "total": str(statement.total),
            "through": statement.through,
            "fees": [str(f) for f in statement.fees],
            "config_version": statement.config_version,
        }
    return statement.model_dump(mode="json")


# ───────────────────────── the node ─────────────────────────


@dataclass(frozen=True)
class Membership:
    oracles: frozenset[str]
    threshold: int
    config_version: int


class OracleNode:
    """One oracle node (see the module docstring).

    Args:
        settings: the node's settings.
        rails: a connection signing with the node's key.
        store: the node's database.
        metrics: its metrics.
        uptime: its own observations (None: it observes nothing, and still relays and signs
            medians of its peers' observations).
        clock: unix seconds (tests of the schedule pass their own).
        rewards: the rewards duty's index and trees (None: the node neither computes, posts nor
            vetoes roots; it still holds its peers' root signatures).
    """

    def __init__(
        self,
        settings: OracleSettings,
        rails: ComputeRails,
        store: NodeStore,
        metrics: NodeMetrics,
        uptime: UptimeSource | None = None,
        clock: Callable[[], float] = time.time,
        rewards: RewardsDuty | None = None,
    ) -> None:
        self.settings = settings
        self.rails = rails
        self.account: LocalAccount = rails.require_account()
        self.me = self.account.address
        self.store = store
        self.metrics = metrics
        self.uptime = uptime
        self.clock = clock
        self.link = PeerLink(settings.peers, settings.peer_timeout)
        self.http = _http.client(timeout=settings.fetch_timeout)
        self.chain_id = rails.chain_id
        self.hub = rails.hub.address
        self.voucher_domain = rails.collector.domain
        self.rewards = rewards
        self.distributor: str | None = rails.deployment.contracts.get("RewardsDistributor")
        self._members: Membership | None = None
        self._members_lock = threading.Lock()
        self._sending: list[str] = []
        rails.tx.before_broadcast = self._journal
        self._refresh_members()

    def close(self) -> None:
        self.link.close()
        self.http.close()
        self.store.close()
        if self.rewards is not None:
            self.rewards.close()

    # ── membership ──

    def _refresh_members(self) -> Membership:
        view = self.rails.views.oracle_set()  # one batch
        oracles, threshold, version = view["oracles"], view["threshold"], view["config_version"]
        members = Membership(frozenset(parse_address(o) for o in oracles), threshold, version)
        with self._members_lock:
            if self._members is not None and members.config_version != self._members.config_version:
                log.info("oracle configuration %s: %d oracles, threshold %d", version, len(oracles), threshold)
            self._members = members
        return members

    @property
    def members(self) -> Membership:
        with self._members_lock:
            assert self._members is not None
            return self._members

    # ── gossip in ──

    def receive(self, raw: bytes) -> dict[str, Any]:
        """Take one gossip message from a peer.

        Raises:
            GossipRefused: refused, with the HTTP status and reason.
        """
        envelope = gossip.parse(raw)
        members = self.members
        now = int(self.clock())
        try:
            gossip.check(
                envelope,
                receiver=self.me,
                members=members.oracles,
                chain_id=self.chain_id,
                hub=self.hub,
                now=now,
                ttl=self.settings.gossip_ttl,
            )
            if not self.store.accept_message(
                "0x" + envelope.message_id.hex(), envelope.sender, now, 2 * self.settings.gossip_ttl
            ):
                raise GossipRefused(409, "replay", "this message was received before")
            outcome = self._apply(envelope, members, now)
        except GossipRefused as exc:
            self.metrics.gossip_in.labels(envelope.kind, exc.reason).inc()
            raise
        self.metrics.gossip_in.labels(envelope.kind, "accepted").inc()
        return {"accepted": True, "outcome": outcome}

    def _apply(self, envelope: Envelope, members: Membership, now: int) -> str:
        body = envelope.body
        try:
            if envelope.kind == "observation":
                observation = Observation(
                    int(body["epoch"]),
                    parse_address(body["provider"]),
                    envelope.sender,
                    int(body["uptime_bps"]),
                    int(body["probes"]),
                )
                if not 0 <= observation.uptime_bps <= 10_000:
                    raise ValueError("uptime_bps out of 0..10000")
                result = self.store.add_observation(observation, now)
                if result == "equivocation":
                    log.warning(
                        "oracle %s sent two observations of %s in epoch %s: ignored for it",
                        envelope.sender,
                        observation.provider,
                        observation.epoch,
                    )
                return result
            if envelope.kind == "signature":
                return self._take_signature(
                    body["kind"], body["statement"], body["signature"], envelope.sender, members, now
                )
            if envelope.kind == "evidence":
                return self._take_evidence(body, now)
        except (KeyError, TypeError, ValueError, InvalidReceipt) as exc:
            raise GossipRefused(400, "malformed", f"malformed {envelope.kind} body: {exc}") from None
        raise GossipRefused(400, "malformed", f"unknown kind {envelope.kind}")

    def _take_signature(
        self, kind: str, body: dict[str, Any], signature: str, signer: str, members: Membership, now: int
    ) -> str:
        statement = parse_statement(kind, body)
        if statement.config_version != members.config_version:
            return "stale configuration"
        digest = self._digest(statement)
        if eip712.recover(digest, bytes.fromhex(signature.removeprefix("0x"))) != signer:
            raise GossipRefused(403, "bad_signature", f"the statement signature is not {signer}'s")
        key = round_key(statement, self.voucher_domain)
        existing = self.store.round(key)
        if existing is not None and existing.status == "done":
            return "round done"
        hex_digest = "0x" + digest.hex()
        self.store.add_statement(hex_digest, key, kind, dump_statement(statement), now)
        added = self.store.add_signature(hex_digest, signer, signature)
        self._maybe_ready(key, kind, hex_digest, members)
        return "signature kept" if added else "signature held"

    def _maybe_ready(self, key: str, kind: str, digest: str, members: Membership) -> None:
        signers = set(self.store.signatures(digest)) & members.oracles
        current = self.store.round(key)
        if len(signers) >= members.threshold and current is not None and current.ready_digest is None:
            self.store.mark_ready(key, digest, self.clock())
            self.metrics.ready.labels(kind).inc()
            log.info("round %s has a quorum (%d of %d signatures)", key, len(signers), members.threshold)

    # ── receipts (payers and the node's own paid requests) ──

    def check_receipt(self, receipt: ResponseReceipt, provider_signature: str, pixels: list[int]) -> dict[str, Any]:
        """Recompute a forwarded request. A wrong answer the provider signed opens a fraud round,
        signed here and gossiped with its evidence.

        Raises:
            InvalidReceipt: the signature is not the provider's, or the pixels are not the
                receipt's request.
        """
        signature = bytes.fromhex(provider_signature.removeprefix("0x"))
        if receipts.recover(self.voucher_domain, receipt, signature) != receipt.provider:
            raise InvalidReceipt("the receipt is not signed by its provider", collection_id=receipt.collection_id)
        recomputed = verify.recompute_receipt(receipt, pixels)
        if recomputed is None:
            raise InvalidReceipt("the pixels are not the receipt's request", collection_id=receipt.collection_id)
        if "0x" + recomputed.hex() == receipt.response_hash:
            return {"verdict": "correct"}
        deadline = self.rails.now() + FRAUD_VALIDITY
        evidence = {
            "receipt": receipt.model_dump(mode="json"),
            "provider_signature": provider_signature,
            "pixels": list(pixels),
            "deadline": deadline,
        }
        key = self._fraud_round(evidence, int(self.clock()))
        return {"verdict": "fraud", "round": key}

    def _take_evidence(self, body: dict[str, Any], now: int) -> str:
        receipt = ResponseReceipt.model_validate(body["receipt"])
        deadline = int(body["deadline"])
        chain_now = self.rails.now()  # the deadline is on the chain's clock
        if not chain_now < deadline <= chain_now + 2 * FRAUD_VALIDITY:
            log.info(
                "fraud evidence refused: deadline %s is not within %s s of the chain's clock",
                deadline,
                2 * FRAUD_VALIDITY,
            )
            return "deadline out of range"
        signature = bytes.fromhex(str(body["provider_signature"]).removeprefix("0x"))
        if receipts.recover(self.voucher_domain, receipt, signature) != receipt.provider:
            log.info("fraud evidence refused: the receipt is not signed by its provider %s", receipt.provider)
            return "not the provider's signature"
        self._fraud_round(
            {
                "receipt": receipt.model_dump(mode="json"),
                "provider_signature": str(body["provider_signature"]),
                "pixels": [int(p) for p in body["pixels"]],
                "deadline": deadline,
            },
            now,
        )
        return "evidence kept"

    def _fraud_round(self, evidence: dict[str, Any], now: int) -> str:
        receipt = ResponseReceipt.model_validate(evidence["receipt"])
        key = f"{FRAUD}:0x{receipts.digest(self.voucher_domain, receipt).hex()}"
        if self.store.round(key) is None:
            self._open(key, FRAUD)
        self.store.add_evidence(key, evidence)
        self.store.post(f"evidence:{key}", key, "evidence", evidence)
        return key

    def _sign_fraud(self, key: str, evidence: dict[str, Any], members: Membership) -> None:
        receipt = ResponseReceipt.model_validate(evidence["receipt"])
        recomputed = verify.recompute_receipt(receipt, evidence["pixels"])
        if recomputed is None or "0x" + recomputed.hex() == receipt.response_hash:
            self.store.close_round(key, "evidence does not prove a wrong answer", FRAUD)
            return
        statement = FraudAttestation(
            receipt=receipt,
            provider_signature=evidence["provider_signature"],
            recomputed_response_hash=recomputed,
            deadline=int(evidence["deadline"]),
            config_version=members.config_version,
        )
        self._sign(statement, members)

    # ── signing ──

    def _digest(self, statement: Statement) -> bytes:
        """What oracles sign for the statement: the hub's digest, or the distributor's for a root."""
        if isinstance(statement, RootPost):
            if self.distributor is None:
                raise ValueError("this deployment has no RewardsDistributor")
            return statement.digest(self.chain_id, self.distributor)
        return self.rails.oracle.digest(statement)

    def _sign(self, statement: Statement, members: Membership) -> str:
        kind = kind_of(statement)
        digest = self._digest(statement)
        hex_digest = "0x" + digest.hex()
        key = round_key(statement, self.voucher_domain)
        outbox_key = f"signature:{hex_digest}"
        if self.store.posted(outbox_key) or self.me in self.store.signatures(hex_digest):
            return hex_digest
        signature = "0x" + eip712.sign_digest(digest, self.account.key).hex()
        body = dump_statement(statement)
        # one transaction: a crash never leaves the signature kept but not in the outbox (it
        # would then never be gossiped, this node counting itself as having signed)
        self.store.add_own_signature(
            hex_digest,
            key,
            kind,
            body,
            self.me,
            signature,
            outbox_key,
            {"kind": kind, "statement": body, "signature": signature},
            int(self.clock()),
        )
        self.metrics.signed.labels(kind).inc()
        if kind == REWARDS:
            self.metrics.rewards_roots.labels("signed").inc()
        self._maybe_ready(key, kind, hex_digest, members)
        log.info("signed %s %s", kind, key)
        return hex_digest

    def signed_here(self, key: str) -> bool:
        return any(self.me in self.store.signatures(d) for d in self.store.digests(key))

    # ── the pass ──

    def tick(self) -> None:
        """One pass of the loop (see the module docstring)."""
        members = self._refresh_members()
        self._reconcile()
        # Transmission first and last: what became ready during the last pass goes out before
        # this pass's checks (which can take long with many jobs), so a transmitter's turn is
        # never late by a whole pass and its backups do not find their turn due beside it.
        for step, where in (
            (self._transmit, "transmit"),
            (self._jobs, "jobs"),
            (self._observe, "uptime"),
            (self._fraud, "fraud"),
            (self._rewards_duty, "rewards"),
            (self._transmit, "transmit"),
        ):
            try:
                step(members)
            except ComputeRailsError as exc:
                self.metrics.errors.labels(where).inc()
                log.warning("%s step failed: %s", where, exc)
        self.metrics.open_rounds.set(len(self.store.open_rounds()))

    def regossip(self) -> int:
        """Send the node's open messages to every peer again (fresh timestamp and id). Returns
        how many deliveries peers accepted."""
        now = int(self.clock())
        envelopes = [
            gossip.seal(kind, body, self.account, chain_id=self.chain_id, hub=self.hub, now=now)
            for kind, body in self.store.outbox()
        ]
        if not envelopes:  # nothing to send: an unreachable peer is asked whether it is back
            self.link.recheck()
            self.metrics.unreachable_peers.set(len(self.link.unreachable))
            return 0
        delivered = sum(self.link.broadcast(envelopes).values())
        self.metrics.gossip_out.inc(delivered)
        self.metrics.unreachable_peers.set(len(self.link.unreachable))
        return delivered

    # ── 2. the journal ──

    def _journal(self, tx_hash: str, nonce: int, raw: bytes, label: str) -> None:
        if label in SUBMIT_LABELS:
            self.store.journal(tx_hash, nonce, raw, label, self._sending)
            log.info("%s %s (nonce %d) for %s journalled before broadcast", label, tx_hash, nonce, self._sending)

    def _reconcile(self) -> bool:
        """Settle every pending submission; True when none is left pending."""
        clear = True
        for entry in self.store.pending():
            stale = self._stale_post(entry)
            if stale is not None:  # never reached the node, and no longer wanted: not sent again
                if self.store.record(entry.tx_hash, "dropped", 0):
                    self.metrics.submissions.labels("dropped").inc()
                    log.info("%s %s not broadcast again: %s", entry.label, entry.tx_hash, stale)
                continue
            receipt = journal.resolve(
                self.rails.w3, entry.tx_hash, entry.raw, timeout=self.settings.receipt_timeout, what=entry.label
            )
            if receipt is None:
                clear = False
                continue
            if receipt == journal.DROPPED:
                status, cost = "dropped", 0
            else:
                status, cost = ("mined" if receipt["status"] == 1 else "reverted"), journal.gas_cost(receipt)
            if self.store.record(entry.tx_hash, status, cost):
                self.metrics.submissions.labels(status).inc()
                self.metrics.gas_spent.inc(cost)
                log.info("%s %s %s for %s", entry.label, entry.tx_hash, status, entry.rounds)
        return clear

    def _stale_post(self, entry: Submission) -> str | None:
        """Why a journalled root post the chain's node never received (a crash between journal
        and broadcast) must not be broadcast now, or None. A backup transmitter may have posted
        the root meanwhile, and it may have been vetoed since: the old bytes would post it again."""
        if entry.label != "postRoot" or journal.receipt_of(self.rails.w3, entry.tx_hash) is not None:
            return None
        try:
            self.rails.w3.eth.get_transaction(entry.tx_hash)  # type: ignore[arg-type]
            return None  # in the node's pool: it will be mined, whatever it does
        except TransactionNotFound:
            pass
        for key in entry.rounds:
            r = self.store.round(key)
            found = self.store.statement(r.ready_digest) if r is not None and r.ready_digest else None
            post = parse_statement(found[1], found[2]) if found is not None else None
            if isinstance(post, RootPost) and (done := self._root_done(post)) is not None:
                return done
        return None

    # ── 3. jobs ──

    def _jobs(self, members: Membership) -> None:
        if not self.settings.verify_jobs:
            return
        escrow = self.rails.escrow
        start = int(self.store.get_meta("jobs_block") or self.rails.deployment.deploy_block)
        head = int(self.rails.w3.eth.block_number)
        if head >= start:
            for event in escrow.events.JobAccepted().get_logs(from_block=start, to_block=head):
                key = f"{JOB}:{event['args']['jobId']}"
                if self.store.round(key) is None:
                    self._open(key, JOB)
            self.store.set_meta("jobs_block", str(head + 1))
        open_jobs = sorted(self.store.open_rounds(JOB), key=lambda r: int(r.key.split(":")[1]))  # oldest first
        if not open_jobs:
            return
        ids = [int(r.key.split(":")[1]) for r in open_jobs]
        # Checking a job fetches and recomputes it: a pass stops checking after half a transmit
        # delay and goes on to transmit; the next pass takes the rest.
        budget_ends = time.monotonic() + max(self.settings.transmit_delay / 2, 0.5)
        statuses = self.rails.rpc.run([self.rails.call("JobEscrow", escrow.address, "jobStatus", i) for i in ids])
        for r, job_id, status in zip(open_jobs, ids, statuses):
            state = JobStatus.from_int(status)
            if state is not JobStatus.ACCEPTED:
                self.store.close_round(r.key, f"job {state.value} on chain", JOB)
                continue
            if self.signed_here(r.key):
                continue
            if time.monotonic() > budget_ends:
                continue  # the next pass checks it (statuses above still close finished rounds)
            job = self.rails.views.job_with_spec(job_id)
            if job.deadline.timestamp() <= self.rails.now():
                continue  # past its deadline: only a reclaim is left
            url = self.rails.views.provider(job.provider).metadata_uri
            assert job.spec_hash is not None
            verdict = verify.verify_job(
                job, bytes.fromhex(job.spec_hash.removeprefix("0x")), url, self.http, self.settings.max_fetch_bytes
            )
            if verdict is None:
                continue
            log.info("job %s: %s (%s)", job_id, "success" if verdict.success else "failure", verdict.reason)
            self._sign(
                Attestation(
                    job_id=job_id,
                    provider=job.provider,
                    success=verdict.success,
                    units=verdict.units,
                    result_hash=verdict.result_hash,
                    deadline=int(job.deadline.timestamp()),
                    config_version=members.config_version,
                ),
                members,
            )

    def _open(self, key: str, kind: str) -> None:
        self.store.open_round(key, kind, int(self.clock()))

    # ── 4. uptime ──

    @property
    def reports_all_uptime(self) -> bool:
        """Medians at or above the SLA are reported too: for the rewards calculator's availability
        pool, when the node runs the rewards duty and ``rewards.report_uptime`` is on."""
        return self.rewards is not None and self.settings.rewards.report_uptime

    def _observe(self, members: Membership) -> None:
        epochs = self.rails.views.epochs()
        chain_now = epochs.now.timestamp()
        sla = int(self.rails.views.uptime_params()["sla_bps"])
        # The open uptime rounds, read once per pass (each belongs to one epoch, so a round this
        # pass closes is never looked at again), and again only after the pass opened one.
        opened: list[Round] | None = None
        for window in epochs.reportable:
            epoch = window.epoch
            subjects = self.uptime.subjects(epoch) if self.uptime is not None else []
            for provider in subjects:
                key = f"{UPTIME}:{provider}:{epoch}"
                if self.store.round(key) is None:
                    self._open(key, UPTIME)
                    opened = None
                observed = self.uptime.observe(epoch, provider) if self.uptime is not None else None
                if observed is not None and self.store.post(
                    f"observation:{key}",
                    key,
                    "observation",
                    {"epoch": epoch, "provider": provider, "uptime_bps": observed[0], "probes": observed[1]},
                ):
                    self.store.add_observation(Observation(epoch, provider, self.me, *observed), int(self.clock()))
                    self.metrics.observations.inc()
            if chain_now < window.end.timestamp() + self.settings.observe_grace:
                continue
            if opened is None:
                opened = self.store.open_rounds(UPTIME)
            for r in opened:
                _, provider, number = r.key.split(":")
                if int(number) != epoch:
                    continue
                held = [o.uptime_bps for o in self.store.observations(epoch, provider) if o.node in members.oracles]
                median = median_uptime(held, members.threshold)
                if median is None:
                    continue
                relayer = self.settings.uptime_relayer
                if median >= sla:
                    if not self.reports_all_uptime:
                        self.store.close_round(
                            r.key, f"median {median} bps meets the SLA of {sla}: nothing to report", UPTIME
                        )
                        continue
                    relayer = ZERO_ADDRESS  # nothing is slashed: no relayer's share to wait for
                self._sign(
                    UptimeReport(
                        provider=provider,
                        epoch=epoch,
                        uptime_bps=median,
                        relayer=relayer,
                        config_version=members.config_version,
                    ),
                    members,
                )

    # ── 5. fraud ──

    def _fraud(self, members: Membership) -> None:
        for r in self.store.open_rounds(FRAUD):
            evidence = self.store.evidence(r.key)
            if evidence is not None and not self.signed_here(r.key):
                self._sign_fraud(r.key, evidence, members)

    # ── 6. rewards roots ──

    def _rewards_duty(self, members: Membership) -> None:
        duty = self.rewards
        if duty is None or self.me not in members.oracles:
            return
        chain = duty.chain()
        for r in self.store.open_rounds(VETO):  # vetoes decided on a root no longer pending
            if not chain.pending or r.key != veto_key(chain):
                self.store.close_round(r.key, "the root is no longer pending", VETO)
        self._keep_agreed(duty, chain)
        if chain.pending:
            self._check_pending(duty, chain)
            return
        through = next_through(chain, duty.settled_through())
        if through is None:
            return
        key = rewards_key(chain.base_through, through, members.config_version)
        existing = self.store.round(key)
        if existing is not None and (existing.status == "done" or self.signed_here(key)):
            return
        mine = duty.compute(through)
        if mine is None:
            return  # the index cannot tell yet: nothing to sign
        if mine.total < chain.base_total:
            log.warning(
                "rewards through %d: the computed total %d is below the last root's %d; not signing",
                through,
                mine.total,
                chain.base_total,
            )
            return
        duty.keep(mine)  # the tree's file before the signature: a signed root is always served
        self._sign(post_of(mine, chain.base_through, members.config_version), members)

    def _keep_agreed(self, duty: RewardsDuty, chain: ChainRoots) -> None:
        """Keep the file of the last root not vetoed when this node computes the same tree (a
        root posted with others' signatures, or while the node was down, is served here too)."""
        root, through = (chain.active_root, chain.active_through) if chain.vetoed else (chain.root, chain.through)
        if through == 0 or duty.tree_path(root).exists():
            return
        mine = duty.compute(through)
        if mine is not None and mine.root == root:
            duty.keep(mine)

    def _check_pending(self, duty: RewardsDuty, chain: ChainRoots) -> None:
        """Veto the pending root when this node's own computation of its epochs differs."""
        key = veto_key(chain)
        decided = self.store.round(key)
        if decided is not None and decided.status == "done":
            return
        if self.store.in_flight(key) or not self._reconcile():
            return  # a submission is still in flight: its outcome first
        reason = premature(chain, duty.epochs, duty.settle_delay())
        if reason is None:
            posted = duty.latest_post(chain)  # None while the index lags the chain
            mine = duty.compute(chain.through) if posted is not None else None
            release = duty.release_of(posted, mine.fees) if posted is not None and mine is not None else None
            if mine is None or release is None or not disagrees(chain, mine, release):
                return  # agrees, or this index cannot tell yet: no veto on a guess
            reason = veto_reason(mine, release)
        if decided is None:
            self._open(key, VETO)
            log.warning(
                "pending root 0x%s (total %d through %d) differs from this node's: vetoing (%s)",
                chain.root.hex(),
                chain.total,
                chain.through,
                reason,
            )
        veto = duty.distributor.functions.veto(chain.root, reason)
        self._sending = [key]
        try:
            sent = self.rails.send(veto, "veto")
        except ContractRevert as exc:  # simulated: another veto landed first, or the window closed
            if exc.error_name in ("RootNotPending", "VetoWindowClosed"):
                self.store.close_round(key, f"not vetoed here: {exc.error_name}", VETO)
                return
            raise
        except TransactionReverted:  # another node's veto was mined first
            self._reconcile()
            if duty.chain().pending:
                raise
            self.store.close_round(key, "vetoed by another", VETO)
            return
        finally:
            self._sending = []
        self._reconcile()
        self.store.close_round(key, f"vetoed in {sent.tx_hash}: {reason}", VETO)
        self.metrics.rewards_roots.labels("vetoed").inc()
        log.info("vetoed root 0x%s in %s", chain.root.hex(), sent.tx_hash)

    def _post_root(self, post: RootPost, sigs: list[Signature]) -> Any:
        """Send a quorum's root once the chain still wants it (checked here, just before)."""
        if self.rewards is None:
            raise PreconditionError("the rewards duty is off on this node")
        distributor = self.rewards.distributor
        chain = self.rewards.chain()
        if chain.pending:
            raise PreconditionError(f"root 0x{chain.root.hex()} is pending until {chain.activates_at}")
        if chain.base_through != post.through - len(post.fees):
            raise PreconditionError(f"the last root not vetoed covers {chain.base_through} epochs now")
        packed = eip712.pack_signatures((s.signer, s.raw) for s in sigs)
        try:
            return self.rails.send(distributor.functions.postRoot(post.as_tuple(), packed), "postRoot")
        except ContractRevert as exc:
            if exc.error_name in ("RootPending", "ThroughOutOfRange"):  # posted meanwhile
                raise PreconditionError(str(exc)) from None
            raise

    def _root_done(self, post: RootPost) -> str | None:
        if self.rewards is None:
            return "the rewards duty is off on this node"
        chain = self.rewards.chain()
        if chain.root == post.root and chain.through == post.through:
            if not chain.vetoed:
                return "posted on chain"
            # Vetoed: this very post (it is not sent again), or the same tree posted with other
            # fee figures, vetoed for them (then this post is due). Which one, the index tells
            # once it holds the post: until then neither send nor close.
            posted = self.rewards.latest_post(chain)
            if posted is None:
                return UNDECIDED
            first = post.through - len(post.fees)
            if self.rewards.release_of(posted, post.fees, first) in (None, (chain.released, chain.fee_average)):
                return "posted on chain and vetoed"
        if chain.pending:
            return None  # another root waits: vetoed (then this one is due) or activated
        if chain.base_through >= post.through:
            return f"a root over {chain.base_through} epochs is on chain"
        if chain.base_through != post.through - len(post.fees):
            return f"the root it continues is no longer the last (that covers {chain.base_through} epochs)"
        return None

    # ── 7. transmit ──

    def _transmit(self, members: Membership) -> None:
        if not self._reconcile():
            return  # a submission is still in flight: never a second one beside it
        now = self.clock()
        due: dict[str, list[tuple[Round, Statement, list[Signature], int]]] = {
            JOB: [],
            UPTIME: [],
            FRAUD: [],
            REWARDS: [],
        }
        for r in self.store.open_rounds():
            digests = self.store.digests(r.key)
            if not digests:
                continue
            found = self.store.statement(r.ready_digest or digests[-1])
            if found is None:
                continue
            _, kind, body = found
            statement = parse_statement(kind, body)
            done = self._done_on_chain(statement)  # also closes rounds that never reached a quorum here
            if done == UNDECIDED:
                continue
            if done is not None:
                self.store.close_round(r.key, done, kind)
                continue
            if r.ready_digest is None or r.ready_at is None:
                continue
            if statement.config_version != members.config_version:
                self.store.close_round(r.key, "signed under an earlier oracle configuration", kind)
                continue
            order = transmit_order(r.ready_digest, members.oracles)
            head_start = (
                self.settings.relayer_grace
                if isinstance(statement, UptimeReport) and statement.relayer != ZERO_ADDRESS
                else 0.0
            )
            at = turn_at(order, self.me, r.ready_at, self.settings.transmit_delay, head_start)
            if at is None or now < at:
                continue
            sigs = [
                Signature(signer=signer, signature=sig, config_version=members.config_version)
                for signer, sig in self.store.signatures(r.ready_digest).items()
                if signer in members.oracles
            ]
            due[kind].append((r, statement, sigs[: max(members.threshold, 1)], order.index(self.me)))
        jobs = due[JOB][: self.settings.max_batch]
        if jobs:
            self._send(
                [r.key for r, *_ in jobs],
                lambda: self._submit_jobs(jobs),
                JOB,
                [p for *_, p in jobs],
                skipped=lambda sent: [f"{JOB}:{i}" for i in getattr(sent, "skipped", [])],
            )
        for r, statement, sigs, position in due[UPTIME] + due[FRAUD] + due[REWARDS]:
            self._send([r.key], self._submitter(statement, sigs), r.kind, [position])

    def _submitter(self, statement: Statement, sigs: list[Signature]) -> Callable[[], Any]:
        oracle = self.rails.oracle
        if isinstance(statement, UptimeReport):
            return lambda: oracle.submit_uptime_report(statement, sigs)
        if isinstance(statement, FraudAttestation):
            return lambda: oracle.submit_fraud_attestation(statement, sigs)
        if isinstance(statement, RootPost):
            return lambda: self._post_root(statement, sigs)
        return lambda: oracle.submit_attestation(statement, sigs)

    def _submit_jobs(self, jobs: list[tuple[Round, Statement, list[Signature], int]]) -> Any:
        batch = [(s, g) for _, s, g, _ in jobs if isinstance(s, Attestation)]
        if len(batch) == 1:
            return self.rails.oracle.submit_attestation(*batch[0])
        sent, skipped = self.rails.oracle.submit_attestations(batch)
        if skipped:
            log.warning("the hub skipped jobs %s of the batch (attested meanwhile, or no longer attestable)", skipped)
        return _Batch(sent, [int(i) for i in skipped])

    def _send(
        self,
        keys: list[str],
        submit: Callable[[], Any],
        kind: str,
        positions: list[int],
        skipped: Callable[[Any], list[str]] = lambda _sent: [],
    ) -> None:
        self._sending = keys
        try:
            sent = submit()
        except PreconditionError as exc:  # done meanwhile, or no longer valid: the chain says which
            log.info("not transmitting %s: %s", keys, exc)
            return
        finally:
            self._sending = []
        self._reconcile()
        passed_over = set(skipped(sent))
        for key, position in zip(keys, positions):
            if key in passed_over:  # the chain took another's: not counted as this node's
                self.store.close_round(key, f"skipped by the hub in {sent.tx_hash}: done meanwhile", kind)
                continue
            self.metrics.transmitted.labels(kind, str(position)).inc()
            if kind == REWARDS:
                self.metrics.rewards_roots.labels("posted").inc()
            self.store.close_round(key, f"transmitted in {sent.tx_hash} (position {position})", kind)
        log.info("transmitted %s in %s", keys, sent.tx_hash)

    def _done_on_chain(self, statement: Statement) -> str | None:
        """Why the statement needs no transmission any more, or None."""
        if isinstance(statement, RootPost):
            return self._root_done(statement)
        if isinstance(statement, Attestation):
            status = self.rails.views.job_status(statement.job_id)
            return None if status is JobStatus.ACCEPTED else f"job {status.value} on chain"
        now = self.rails.now()
        if isinstance(statement, UptimeReport):
            if self.rails.views.is_reported(statement.provider, statement.epoch):
                return "reported on chain"
            deadline = self.rails.slasher.functions.reportDeadline(statement.epoch).call()
            return "report deadline passed" if now > deadline else None
        if statement.deadline < now:
            return "fraud attestation expired"
        r = statement.receipt
        collection = self.rails.read(
            "MeteredEscrow",
            self.rails.collector.domain.escrow,
            "collection",
            r.payer,
            r.provider,
            r.token,
            bytes.fromhex(r.collection_id[2:]),
        )
        floor = int(collection[3])
        return "punished on chain" if r.request_index < floor else None
