// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IMeteredEscrow
/// @notice Pay per request: a payer escrows tokens for a provider, signs cumulative vouchers off
///         chain as requests are served, and the provider collects the difference on chain.
/// @dev docs/METERED.md has the whole design. In short (who may call in brackets):
///
///      Account per (payer, provider, token):
///        deposit / depositWithPermit [payer], depositFor [anyone]      balance += amount
///        collect / collectMany [provider, with a voucher]              balance -= paid,
///                                                                      thawing = min(thawing, balance)
///        thaw(amount) [payer]     Idle ──▶ Thawing(amount, now + thawPeriod); a new thaw replaces
///                                 the old one (restarting its clock); thaw(0) cancels
///        withdraw [payer, from thawEnd on]   Thawing ──▶ Idle, pays `thawing` to the payer
///
///      Signer (one payer for life):
///        authorizeSigner [payer, with the signer's consent proof]   None ──▶ Authorized
///        thawSigner [payer]                 Authorized ──▶ Thawing (its vouchers still pay)
///        cancelSignerThaw [payer]           Thawing ──▶ Authorized
///        revokeSigner [payer, from thawEnd] Thawing ──▶ Revoked (final: its vouchers pay nothing)
///      The payer's own key always signs for the payer.
///
///      Stake: each collection locks gross × stakeRatio(token) of the provider's free stake in
///      ProviderStaking until at least disputeWindow later; submitFraudAttestation [anyone, with
///      a quorum of the AttestationHub's oracles over a receipt the provider signed] slashes and
///      jails it.
///
///      Accounting invariant, per token: token.balanceOf(this) ==
///      Σ account balances + Σ providers' claimable + the treasury's unclaimed fees.
///      Per account: balance == deposits − collections − withdrawals. Per collection:
///      collected <= the highest valueAggregate signed for it.
interface IMeteredEscrow {
    /// @notice A payer's signed promise: over the life of collection `collectionId` it owes
    ///         `provider` a total of `valueAggregate` in `token`. Every field is signed (EIP-712).
    struct Voucher {
        address payer; // whose account pays
        address provider; // who is paid; the only one who may collect
        address token; // which account of the payer's pays
        bytes32 collectionId; // the running tab; collected amounts are kept per collection
        uint128 valueAggregate; // cumulative value of all requests in the collection so far
        uint64 requestCount; // cumulative number of requests (informational, emitted)
        uint64 timestamp; // when the signer signed it (informational)
        bytes32 metadata; // free commitment (e.g. a price sheet), signed
    }

    /// @notice A provider's countersigned answer to one paid request (EIP-712, signed by the
    ///         provider's own key). Oracles that recompute the request and get another answer
    ///         attest fraud over it: the provider's signature is the evidence.
    struct ResponseReceipt {
        address payer; // who paid for the request
        address provider; // who answered, and signed this
        address token; // the collection's token
        bytes32 collectionId; // the collection the request was paid in
        uint64 requestIndex; // the request's number in the collection (the voucher's requestCount)
        bytes32 requestHash; // keccak256 of the canonical request bytes
        bytes32 responseHash; // keccak256 of the canonical response bytes the provider returned
        uint64 units; // units of work the request was priced at
    }

    /// @notice EIP-712 `FraudAttestation` (this contract's domain): a quorum of the
    ///         AttestationHub's oracles recomputed a request the provider answered and signed
    ///         (`receipt`) and got `recomputedResponseHash` instead. The oracles sign the
    ///         receipt's digest, not its fields.
    struct FraudAttestation {
        ResponseReceipt receipt;
        bytes providerSignature; // the provider's 65-byte signature over the receipt
        bytes32 recomputedResponseHash; // what the request's answer hashes to, recomputed
        uint256 deadline; // the oracles' signatures are void after this unix time
        uint256 configVersion; // the hub's oracle configuration the signers were under
    }

    /// @notice A provider's stake locked by its collections.
    struct StakeLockView {
        uint256 locked; // current + previous
        uint256 current; // the bucket of the latest collections
        uint256 currentRelease; // when `current` is released
        uint256 previous; // the bucket before it
        uint256 previousRelease; // when `previous` is released
        uint256 releasable; // what a collection or releaseStake would release now
    }

    /// @notice An escrow account, as a dashboard reads it.
    struct AccountView {
        uint256 balance; // what collections may draw on, thawing amount included
        uint256 thawing; // what the payer may withdraw from thawEnd on (never above balance)
        uint256 thawEnd; // when the current thaw ends (0: none)
    }

    /// @notice A collection's progress.
    struct CollectionView {
        uint256 collected; // gross paid so far for this collection
        uint256 feeBps; // protocol fee fixed at its first collection
        bool started; // whether it was ever collected
        uint256 fraudFloor; // the lowest request index a fraud attestation may still punish
        uint256 fraudPenaltyBps; // fraud terms fixed at its first collection
        uint256 fraudPayerShareBps;
    }

    /// @notice A signer key's standing.
    struct SignerView {
        address payer; // the payer it signs for (address(0): never authorized)
        uint256 thawEnd; // when revocation becomes possible (0: not thawing)
        bool revoked; // final: its vouchers pay nothing
    }

    // ───────────────────────────── events ─────────────────────────────

    /// @notice `funder` added `amount` to an account (the payer itself, or anyone via depositFor).
    event EscrowDeposited(
        address indexed payer,
        address indexed provider,
        address indexed token,
        address funder,
        uint256 amount,
        uint256 balance
    );
    /// @notice A thaw started or replaced the previous one.
    event EscrowThawStarted(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint256 amount,
        uint256 thawEnd
    );
    event EscrowThawCancelled(address indexed payer, address indexed provider, address indexed token);
    event EscrowWithdrawn(
        address indexed payer,
        address indexed provider,
        address indexed token,
        uint256 amount,
        uint256 balance
    );
    event SignerAuthorized(address indexed payer, address indexed signer);
    event SignerThawStarted(address indexed payer, address indexed signer, uint256 thawEnd);
    event SignerThawCancelled(address indexed payer, address indexed signer);
    event SignerRevoked(address indexed payer, address indexed signer);
    /// @notice A voucher paid out. `gross = providerNet + fee`; `collected` is the collection's
    ///         total after this payment and `outstanding = valueAggregate − collected` what the
    ///         voucher still promises (non-zero after a partial collection). The voucher's
    ///         timestamp and metadata are in the call data, not repeated here.
    event VoucherCollected(
        address indexed payer,
        address indexed provider,
        bytes32 indexed collectionId,
        address token,
        address signer,
        uint256 gross,
        uint256 providerNet,
        uint256 fee,
        uint256 collected,
        uint256 outstanding,
        uint256 requestCount
    );
    /// @notice collectMany passed over item `index`; `reason` is the revert data `collect`
    ///         would have reverted with.
    event VoucherSkipped(uint256 index, address indexed payer, bytes32 indexed collectionId, bytes reason);
    event Claimed(address indexed account, address indexed token, uint256 amount);
    event PaymentTokenSet(address indexed token, bool allowed, uint256 stakeRatio);
    event FraudTermsSet(uint256 penaltyBps, uint256 payerShareBps);
    /// @notice A fraud attestation punished a receipt (ProviderStaking's FraudSlashed event, in
    ///         the same transaction, says what was slashed and what the payer receives).
    event FraudPunished(
        address indexed provider,
        address indexed payer,
        bytes32 indexed receiptDigest,
        uint256 requestIndex
    );
    event FeeSet(uint256 feeBps);
    event PeriodsSet(uint256 collectionInterval, uint256 disputeWindow, uint256 thawPeriod, uint256 signerThawPeriod);
    event TreasurySet(address treasury);

    // ───────────────────────────── errors ─────────────────────────────

    // Shared errors (ZeroAddress, ZeroAmount, EmptyBatch, TokenNotAllowed, NothingToWithdraw,
    // FeeOutOfRange) are declared once in libraries/Errors.sol, with the convention: expected or
    // bound first, actual last; out-of-range parameters revert <Name>OutOfRange(min, max, value).

    /// @notice A deposit would take the account's balance past 2^128-1.
    error AccountBalanceTooLarge(uint256 max, uint256 balance);
    /// @notice A thaw asks for more than the account holds.
    error ThawAmountTooLarge(uint256 balance, uint256 amount);
    /// @notice withdraw on an account with nothing thawing (never thawed, cancelled, or
    ///         collections took all of it).
    error NotThawing(address payer, address provider, address token);
    error ThawNotElapsed(uint256 thawEnd, uint256 nowTime);
    /// @notice The signer's consent proof has passed its deadline.
    error SignerProofExpired(uint256 deadline, uint256 nowTime);
    /// @notice The consent proof was not signed by `signer` (`recovered` is who signed it, or
    ///         address(0) for a malformed or high-s signature).
    error InvalidSignerProof(address signer, address recovered);
    /// @notice A signer key serves one payer for life, even after revocation.
    error SignerAlreadyAuthorized(address signer, address payer);
    error NotSignerPayer(address signer, address expected, address caller);
    error SignerAlreadyRevoked(address signer);
    error SignerNotThawing(address signer);
    error SignerThawNotElapsed(uint256 thawEnd, uint256 nowTime);
    error NotVoucherProvider(address expected, address caller);
    /// @notice The voucher signature is malformed (not 65 bytes, high s, bad v or r).
    error InvalidVoucherSignature();
    /// @notice The voucher's signer is neither the payer nor a signer the payer authorized.
    error SignerNotAuthorized(address payer, address signer);
    /// @notice The voucher's signer was revoked: its vouchers pay nothing.
    error SignerRevokedForPayer(address payer, address signer);
    /// @notice The voucher promises no more than was already collected for its collection
    ///         (a replay, or an older voucher).
    error StaleVoucher(bytes32 collectionId, uint256 collected, uint256 valueAggregate);
    /// @notice The account the voucher draws on is empty: top it up, then collect again.
    error EmptyEscrowAccount(address payer, address provider, address token);
    /// @notice collectMany needs one signature per voucher (named apart from the hub's
    ///         BatchLengthMismatch, whose arguments name attestations).
    error VoucherBatchLengthMismatch(uint256 vouchers, uint256 signatures);
    /// @notice The receipt was not signed by its provider (`recovered` is who signed it, or
    ///         address(0) for a malformed or high-s signature).
    error InvalidReceiptSignature(address provider, address recovered);
    /// @notice The recomputed answer equals the one the provider signed: no fraud.
    error ResponseMatches(bytes32 receiptDigest);
    /// @notice Receipts of a collection are punished in increasing request order, each at most
    ///         once: this one's request is below the collection's `fraudFloor`.
    error ReceiptAlreadyPunished(bytes32 collectionId, uint256 fraudFloor, uint256 requestIndex);
    error FraudAttestationExpired(uint256 deadline, uint256 nowTime);
    /// @notice releaseStake found no expired stake lock.
    error NothingToRelease(address provider);
    /// @notice A provider's stake lock bucket would pass 2^96-1.
    error StakeLockTooLarge(uint256 max, uint256 value);
    /// @notice A payment token's stake ratio must lie in [1, 2^120-1].
    error StakeRatioOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A collection interval must lie in [1 minute, 30 days].
    error CollectionIntervalOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A dispute window must lie in [1 minute, 30 days].
    error DisputeWindowOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice The thawing period must exceed collection interval + dispute window, up to 90 days.
    error ThawPeriodOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice The signer thawing period must exceed collection interval + dispute window, up to
    ///         90 days.
    error SignerThawPeriodOutOfRange(uint256 min, uint256 max, uint256 value);

    // ─────────────────────────────── calls ───────────────────────────────

    function deposit(address provider, address token, uint256 amount) external;
    function depositWithPermit(
        address provider,
        address token,
        uint256 amount,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;
    function depositFor(address payer, address provider, address token, uint256 amount) external;
    function thaw(address provider, address token, uint256 amount) external returns (uint256 thawEnd);
    function withdraw(address provider, address token) external returns (uint256 amount);
    function authorizeSigner(address signer, uint256 deadline, bytes calldata proof) external;
    function thawSigner(address signer) external returns (uint256 thawEnd);
    function cancelSignerThaw(address signer) external;
    function revokeSigner(address signer) external;
    function collect(Voucher calldata voucher, bytes calldata signature) external returns (uint256 gross);
    function collectMany(
        Voucher[] calldata vouchers,
        bytes[] calldata signatures
    ) external returns (uint256 collected, uint256 gross);
    function claim(address token) external returns (uint256 amount);
    function releaseStake(address provider) external returns (uint256 released);
    function submitFraudAttestation(
        FraudAttestation calldata attestation,
        bytes calldata signatures
    ) external returns (uint256 slashed, uint256 payerAmount);

    // ─────────────────────────────── views ───────────────────────────────

    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);
    function receiptDigest(ResponseReceipt calldata receipt) external view returns (bytes32);
    function fraudAttestationDigest(FraudAttestation calldata attestation) external view returns (bytes32);
    function stakeLock(address provider) external view returns (StakeLockView memory);
    function signerProofDigest(address payer, address signer, uint256 deadline) external view returns (bytes32);
    function account(address payer, address provider, address token) external view returns (AccountView memory);
    function collection(
        address payer,
        address provider,
        address token,
        bytes32 collectionId
    ) external view returns (CollectionView memory);
    function signerInfo(address signer) external view returns (SignerView memory);
    function isAuthorizedSigner(address payer, address signer) external view returns (bool);
    function claimable(address account, address token) external view returns (uint256);
}
