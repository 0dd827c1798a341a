"""Gas floors: what each operation cannot avoid, from a small explicit cost model.

A floor is a lower bound: 21,000 for the transaction, the calldata it carries, the storage
slots its effect must write, the state it must consult, the contracts it must call and the
token transfers it makes. Everything else (events, access-control lookups a different design
could avoid, reentrancy guards, ABI decoding, redundant reads) is overhead the ratio exposes.

Rules of the model (EVM as of Cancun and later, no access lists):

- Each slot is counted once and taken as cold: a first write costs its cold access (2,100)
  plus 20,000 for 0 -> x (a *fresh* slot) or 2,900 for x -> y (an *update*). Clearing x -> 0
  costs 5,000 and refunds at most 4,800, so it counts 200.
- Slots are the fewest the operation's data fits in: the fields an operation must write
  (with the byte widths the interface's bounds allow: uint96 prices, uint48 units, uint40
  times, one byte for a status or a token id) are packed into ceil(bytes / 32) slots, and the
  fields it must only read into as few extra slots as do not fit alongside them. This is a
  per-operation bound: no single layout need reach all floors at once.
- Calling another contract costs its cold account access (2,600); precompiles are warm.
- Every ECDSA signature the operation verifies costs the ecrecover precompile (3,000) and a
  cold read of the signer's membership (2,100).
- An ERC-20 transfer (OpenZeppelin semantics) costs the call into the token, its balance
  slots, its allowance slot when it spends one, and its Transfer event (LOG3 with one data
  word: 375 + 3 x 375 + 8 x 32 = 1,756): the token's own events are part of a transfer.
- Flags (is a slot fresh or already set, is a balance emptied) come from the chain's state just
  before the measured transaction, so a floor describes the exact scenario measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

G_TX = 21_000  # every transaction
G_CALLDATA_ZERO = 4  # per zero byte of input (EIP-2028)
G_CALLDATA_NONZERO = 16  # per non-zero byte of input
G_COLD_SLOAD = 2_100  # first touch of a storage slot (EIP-2929)
G_COLD_ACCOUNT = 2_600  # first call into another contract (EIP-2929)
G_SSTORE_SET = 20_000  # 0 -> x
G_SSTORE_RESET = 2_900  # x -> y (5,000 minus the cold surcharge)
G_WARM = 100  # a warm read, or a write to a slot already written in this transaction
G_REFUND_CLEAR = 4_800  # x -> 0 (EIP-3529)
G_ECRECOVER = 3_000
G_LOG, G_LOG_TOPIC, G_LOG_BYTE = 375, 375, 8

FRESH = G_COLD_SLOAD + G_SSTORE_SET  # 22,100: a cold slot goes 0 -> x
UPDATE = G_COLD_SLOAD + G_SSTORE_RESET  # 5,000: a cold slot goes x -> y
CLEAR = G_COLD_SLOAD + G_SSTORE_RESET - G_REFUND_CLEAR  # 200: a cold slot goes x -> 0, refunded
TRANSIENT = FRESH + G_WARM - (G_SSTORE_SET - G_WARM)  # 2,300: 0 -> x -> 0 in one tx (a permit's allowance)
READ = G_COLD_SLOAD  # 2,100: a slot that must be consulted but not written
CALL = G_COLD_ACCOUNT  # 2,600: another contract that must be called
SIGNATURE = G_ECRECOVER + G_COLD_SLOAD  # 5,100: ecrecover plus the signer's membership
TRANSFER_EVENT = G_LOG + 3 * G_LOG_TOPIC + 32 * G_LOG_BYTE  # 1,756

# Byte widths of the fields the protocol's interface needs (its bounds: IJobEscrow / IProviderStaking).
ADDRESS, STATUS, TOKEN_ID, PRICE, UNITS, TIME, BPS, AMOUNT, STAKE = 20, 1, 1, 12, 6, 5, 2, 16, 15


def slots(*widths: int) -> int:
    """The fewest 32-byte slots fields of these widths fit in."""
    return ceil(sum(widths) / 32)


def calldata_gas(data: bytes) -> int:
    return sum(G_CALLDATA_ZERO if b == 0 else G_CALLDATA_NONZERO for b in data)


@dataclass
class Floor:
    """A floor as named terms, so results can show where it comes from."""

    terms: list[tuple[str, int]] = field(default_factory=list)

    def add(self, label: str, gas: int, times: int = 1) -> Floor:
        if times:
            self.terms.append((label if times == 1 else f"{label} x{times}", gas * times))
        return self

    @property
    def total(self) -> int:
        return sum(g for _, g in self.terms)

    def as_dict(self) -> dict[str, int]:
        return dict(self.terms)


def write(fresh: bool) -> int:
    return FRESH if fresh else UPDATE


def tx(data: bytes) -> Floor:
    return Floor().add("transaction", G_TX).add("calldata", calldata_gas(data))


def erc20_transfer(
    f: Floor, label: str, *, sender_emptied: bool, recipient_fresh: bool, allowance: str | None
) -> Floor:
    """An ERC-20 transfer: call, both balances, the spent allowance (None, "update", "clear",
    "transient" for a permit's allowance spent in the same transaction) and its event."""
    f.add(f"{label}: call the token", CALL)
    f.add(f"{label}: sender balance", CLEAR if sender_emptied else UPDATE)
    f.add(f"{label}: recipient balance", write(recipient_fresh))
    if allowance is not None:
        f.add(f"{label}: allowance", {"update": UPDATE, "clear": CLEAR, "transient": TRANSIENT}[allowance])
    return f.add(f"{label}: Transfer event", TRANSFER_EVENT)


# ───────────────────────────── jobs ─────────────────────────────

#: A job's terms, fixed at creation: client, provider, token id, unit price, max units,
#: deadline, accept-by, fee snapshot, status: 72 bytes -> 3 slots.
JOB_TERMS = (ADDRESS, ADDRESS, TOKEN_ID, PRICE, UNITS, TIME, TIME, BPS, STATUS)


def create_jobs(data: bytes, n: int, *, client_emptied: bool, escrow_fresh: bool, allowance: str | None) -> Floor:
    """createJob / createJobs(n): n new job records, the id counter (jobCount and consecutive
    ids are part of the interface), the allowlist check, one transfer of the total."""
    f = tx(data)
    f.add("job records (3 fresh slots each)", FRESH * slots(*JOB_TERMS), n)
    f.add("job counter", UPDATE)
    f.add("allowlist entry", READ)
    return erc20_transfer(
        f, "escrow pull", sender_emptied=client_emptied, recipient_fresh=escrow_fresh, allowance=allowance
    )


def create_job_with_permit(data: bytes, *, client_emptied: bool, escrow_fresh: bool, nonce_fresh: bool) -> Floor:
    """createJob plus an EIP-2612 permit: its signature, its nonce, an allowance that is set
    and spent in the same transaction."""
    f = create_jobs(data, 1, client_emptied=client_emptied, escrow_fresh=escrow_fresh, allowance="transient")
    f.add("permit: ecrecover", G_ECRECOVER)
    return f.add("permit: nonce", write(nonce_fresh))


def accept(data: bytes) -> Floor:
    """Status and collateral (17 bytes, one slot); the terms it prices and checks (provider,
    accept-by, price, units, token: one more slot); the token's collateral rate; in staking:
    the provider's stake word (staked, locked, flags: 31 bytes, set since registration) and
    minStake."""
    f = tx(data)
    f.add("job status + collateral", UPDATE)
    f.add("job terms", READ)
    f.add("collateral rate", READ)
    f.add("call staking", CALL)
    f.add("provider stake word (locked)", UPDATE)
    return f.add("minStake", READ)


def attest(data: bytes, k: int, n: int = 1) -> Floor:
    """submitAttestation(s): k signatures per item, the threshold, one call into the escrow;
    per job its status, units and challenge end (12 bytes, one slot) and the terms it checks
    (provider, deadline, max units: 31 bytes, which do not fit beside them)."""
    f = tx(data)
    f.add("oracle signatures", SIGNATURE, k * n)
    f.add("threshold", READ)
    f.add("call escrow", CALL)
    f.add("job status + units + timer", UPDATE, n)
    return f.add("job terms", READ, n)


def uptime(
    data: bytes, k: int, *, slash: bool, word_fresh: bool, relayer_fresh: bool = False, treasury_fresh: bool = False
) -> Floor:
    """submitUptimeReport: k signatures, the threshold, the slasher's epoch and SLA word, the
    once-only bit, the provider's registration (its stake word); with a slash also the
    provider's stake word written, its slashed total, the protocol totals (one packed slot),
    the relayer's and the treasury's claimable, the treasury address and the caps."""
    f = tx(data)
    f.add("oracle signatures", SIGNATURE, k)
    f.add("threshold", READ)
    f.add("call slasher", CALL)
    f.add("epoch and SLA parameters", READ)
    f.add("reported bit", write(word_fresh))
    f.add("call staking", CALL)
    if not slash:
        return f.add("provider stake word", READ)
    f.add("provider stake word (staked, jailed)", UPDATE)
    f.add("provider slashed total", UPDATE)
    f.add("protocol totals", UPDATE)
    f.add("relayer claimable", write(relayer_fresh))
    f.add("treasury claimable", write(treasury_fresh))
    f.add("treasury address", READ)
    return f.add("slash and reward caps", READ)


def settle(
    data: bytes, n: int, *, provider_fresh: bool, client_fresh: bool | None, treasury_fresh: bool | None
) -> Floor:
    """settleMany(n) of one provider's jobs for one client: per job its status (written) and
    the two other slots of its 89 bytes of terms; once: the three credits (None: nothing to
    credit), the token address, the treasury address, one release of the provider's collateral."""
    return _payout(tx(data), n, provider_fresh=provider_fresh, client_fresh=client_fresh, treasury_fresh=treasury_fresh)


def _payout(f: Floor, n: int, *, provider_fresh: bool, client_fresh: bool | None, treasury_fresh: bool | None) -> Floor:
    """What paying out n jobs of one provider cannot avoid (settle, and a rejected dispute)."""
    f.add("job status", UPDATE, n)
    f.add("job terms (2 slots)", 2 * READ, n)
    f.add("provider claimable", write(provider_fresh))
    if client_fresh is not None:
        f.add("client claimable (unused units)", write(client_fresh))
    if treasury_fresh is not None:
        f.add("treasury claimable (fee)", write(treasury_fresh))
    f.add("token address", READ)
    f.add("treasury address", READ)
    f.add("call staking", CALL)
    return f.add("provider locked stake (shares its word with the stake)", UPDATE)


def withdraw(data: bytes, *, recipient_fresh: bool, sender_emptied: bool) -> Floor:
    """escrow.withdraw: clear the claimable balance, one transfer."""
    f = tx(data).add("claimable balance", CLEAR)
    return erc20_transfer(f, "payout", sender_emptied=sender_emptied, recipient_fresh=recipient_fresh, allowance=None)


def dispute(data: bytes, *, client_emptied: bool, escrow_fresh: bool, allowance: str | None) -> Floor:
    """dispute: status and dispute end (one slot), the bond (no room beside the job's 94 bytes
    of terms), the parameters (bond share, timeout), the escrow terms, the token address, the
    bond's transfer."""
    f = tx(data)
    f.add("job status + timer", UPDATE)
    f.add("dispute bond", FRESH)
    f.add("dispute parameters", READ)
    f.add("job terms", READ)
    f.add("token address", READ)
    return erc20_transfer(
        f, "bond pull", sender_emptied=client_emptied, recipient_fresh=escrow_fresh, allowance=allowance
    )


def resolve_rejected(
    data: bytes, *, provider_fresh: bool, client_fresh: bool | None, treasury_fresh: bool | None
) -> Floor:
    """resolveDispute(rejected): the arbitrator's role, the job settled as by settle() with
    the bond cleared and paid to the provider."""
    f = tx(data)
    f.add("arbitrator role", READ)
    f.add("dispute bond", CLEAR)
    return _payout(f, 1, provider_fresh=provider_fresh, client_fresh=client_fresh, treasury_fresh=treasury_fresh)


def resolve_upheld(data: bytes, *, client_fresh: bool, client_share_fresh: bool, treasury_share_fresh: bool) -> Floor:
    """resolveDispute(upheld): the arbitrator's role, the job failed (escrow and bond back to
    the client), its collateral slashed: the provider's stake word, its slashed total, the
    protocol totals, the client's and the treasury's shares, the treasury address and the
    client's share rate."""
    f = tx(data)
    f.add("arbitrator role", READ)
    f.add("dispute bond", CLEAR)
    f.add("job status", UPDATE)
    f.add("job terms (2 slots)", 2 * READ)
    f.add("token address", READ)
    f.add("client claimable (escrow + bond)", write(client_fresh))
    f.add("client slash share rate", READ)
    f.add("call staking", CALL)
    f.add("provider stake word (staked, locked, jailed)", UPDATE)
    f.add("provider slashed total", UPDATE)
    f.add("protocol totals", UPDATE)
    f.add("client slash share", write(client_share_fresh))
    f.add("treasury slash share", write(treasury_share_fresh))
    return f.add("treasury address", READ)


# ───────────────────────────── stake ─────────────────────────────


def register(
    data: bytes,
    uri_bytes: int,
    *,
    totals_fresh: bool,
    provider_emptied: bool,
    staking_fresh: bool,
    allowance: str | None,
) -> Floor:
    """register: the provider record (stake 15 + registered flag + deposited total 16 bytes:
    one slot), its metadata URI, the protocol's staked total, minStake, the stake's transfer."""
    f = tx(data)
    f.add("provider record", FRESH)
    f.add("metadata URI", FRESH * (1 if uri_bytes < 32 else 1 + ceil(uri_bytes / 32)))
    f.add("protocol staked total", write(totals_fresh))
    f.add("minStake", READ)
    return erc20_transfer(
        f, "stake pull", sender_emptied=provider_emptied, recipient_fresh=staking_fresh, allowance=allowance
    )


def add_stake(data: bytes, *, provider_emptied: bool, staking_fresh: bool, allowance: str | None) -> Floor:
    """addStake: the provider's stake and deposited total (one slot), the protocol total, the transfer."""
    f = tx(data)
    f.add("provider stake + deposited", UPDATE)
    f.add("protocol staked total", UPDATE)
    return erc20_transfer(
        f, "stake pull", sender_emptied=provider_emptied, recipient_fresh=staking_fresh, allowance=allowance
    )


def request_unbond(data: bytes, *, unbonding_fresh: bool) -> Floor:
    """requestUnbond: the stake word, the unbonding amount and end (20 bytes), the protocol's
    staked and unbonding totals (one packed slot), the unbonding delay."""
    f = tx(data)
    f.add("provider stake word", UPDATE)
    f.add("provider unbonding + end", write(unbonding_fresh))
    f.add("protocol totals", UPDATE)
    return f.add("unbonding delay", READ)


def withdraw_unbonded(
    data: bytes, *, recipient_fresh: bool, sender_emptied: bool, unbonding_total_cleared: bool
) -> Floor:
    """withdrawUnbonded: clear the unbonding record, lower the protocol's unbonding total (a
    total that reaches zero can live in a slot of its own and earn the clearing refund), one
    transfer out."""
    f = tx(data)
    f.add("provider unbonding + end", CLEAR)
    f.add("protocol unbonding total", CLEAR if unbonding_total_cleared else UPDATE)
    return erc20_transfer(f, "payout", sender_emptied=sender_emptied, recipient_fresh=recipient_fresh, allowance=None)


# ───────────────────────────── metered (issue 12) ─────────────────────────────

#: An escrow account's collect word: balance and thawing (uint128 each, 32 bytes, one slot).
METERED_ACCOUNT = (AMOUNT, AMOUNT)
#: A collection: collected (uint128), the fee fixed at its first collection, a started flag.
METERED_COLLECTION = (AMOUNT, BPS, STATUS)
#: What every collection must read besides its own state: the treasury and the fee for new
#: collections (22 bytes, one slot).
METERED_PARAMETERS = (ADDRESS, BPS)


def metered_deposit(
    data: bytes, *, account_fresh: bool, payer_emptied: bool, escrow_fresh: bool, allowance: str | None
) -> Floor:
    """MeteredEscrow.deposit: the account's balance (fresh for a new account), the token
    allowlist, the transfer in."""
    f = tx(data)
    f.add("account balance (+ thawing, one slot)", write(account_fresh) * slots(*METERED_ACCOUNT))
    f.add("token allowlist", READ)
    return erc20_transfer(
        f, "deposit pull", sender_emptied=payer_emptied, recipient_fresh=escrow_fresh, allowance=allowance
    )


def stake_lock(f: Floor, providers: int = 1) -> Floor:
    """The stake lock collect takes from ProviderStaking (issue 12): one call into the staking
    contract and the provider's stake word (its locked amount), once per provider per
    transaction. Counted when the measured transaction called ProviderStaking."""
    f.add("call staking (stake lock)", CALL)
    return f.add("provider stake word (locked)", UPDATE, providers)


def metered_collect(
    data: bytes,
    *,
    collections_fresh: int,
    collections_updated: int,
    accounts: int,
    signer_reads: int,
    provider_fresh: bool,
    treasury_fresh: bool | None,
    locked: bool,
) -> Floor:
    """collect / collectMany of one provider's vouchers in one token: per voucher its signature
    (ecrecover) and its collection's slot (collected + fee snapshot: fresh for a new collection
    id); per hot signer key its membership (a payer's own key needs none); per payer its
    account word (balance + the thawing amount collections cap); once the fee parameters and
    treasury, the provider's claimable, the treasury's claimable (None: no fee), and, when the
    contract locks stake (`locked`), the stake lock (:func:`stake_lock`)."""
    vouchers = collections_fresh + collections_updated
    f = tx(data)
    f.add("voucher signature: ecrecover", G_ECRECOVER, vouchers)
    f.add("hot signer membership", READ, signer_reads)
    f.add("collection (new)", FRESH * slots(*METERED_COLLECTION), collections_fresh)
    f.add("collection", UPDATE * slots(*METERED_COLLECTION), collections_updated)
    f.add("account balance + thawing", UPDATE * slots(*METERED_ACCOUNT), accounts)
    f.add("treasury + fee", READ * slots(*METERED_PARAMETERS))
    f.add("provider claimable", write(provider_fresh))
    if treasury_fresh is not None:
        f.add("treasury claimable (fee)", write(treasury_fresh))
    return stake_lock(f) if locked else f


# ───────────────────────────── rewards (issue 16) ─────────────────────────────

#: A root's record: root hash, total (12 bytes: amounts below 2^96), epochs covered, activation
#: time, the schedule's release so far (16) and fee average (12): 81 bytes -> 3 slots.
ROOT_RECORD = (32, 12, 4, TIME, 16, 12)


def rewards_post(data: bytes, k: int) -> Floor:
    """postRoot with k signatures: the hub's quorum check (signatures, threshold and
    configuration version, one call), the parameters and the previous root's schedule state it
    continues from, the reserve it is checked against, and the new root's record."""
    f = tx(data)
    f.add("oracle signatures", SIGNATURE, k)
    f.add("call the hub", CALL)
    f.add("threshold + configuration version", READ)
    f.add("schedule parameters", READ)
    f.add("previous root's release and average", READ, 2)
    f.add("reserve funded", READ)
    return f.add("root record (3 slots)", UPDATE, slots(*ROOT_RECORD))


def rewards_claim(data: bytes, *, first_for_account: bool) -> Floor:
    """claim: the active root and its total (and activation: 2 slots), the account's claimed
    amount (fresh on its first claim), one transfer into a wallet that holds the token."""
    f = tx(data)
    f.add("active root, total, activation", READ, 2)
    f.add("account's claimed amount", write(first_for_account))
    return erc20_transfer(f, "payout", sender_emptied=False, recipient_fresh=False, allowance=None)


def rewards_claim_many(data: bytes, n: int) -> Floor:
    """claimMany of n repeat claims: the active root once, then per claim the account's claimed
    amount and the recipient's balance; the token is called and the distributor's balance
    written once for the batch."""
    f = tx(data)
    f.add("active root, total, activation", READ, 2)
    f.add("accounts' claimed amounts", UPDATE, n)
    f.add("payout: call the token", CALL)
    f.add("payout: distributor balance", UPDATE)
    f.add("payout: recipient balances", UPDATE, n)
    return f.add("payout: Transfer events", TRANSFER_EVENT, n)
