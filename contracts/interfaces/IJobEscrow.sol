// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IJobEscrow
/// @notice Clients lock payment for a compute job; it reaches the provider only for work an
///         oracle quorum attested, and comes back to the client otherwise.
/// @dev Job state machine (who may call in brackets):
///
///        createJob [client]
///           │
///          Open ──cancel [client]──────────────────────────────▶ Cancelled
///           │ accept [provider, before acceptBy, locks collateral]
///          Accepted ──reclaimExpired [anyone, after deadline]──▶ Expired  (refund + slash)
///           │ ╰──attestation(success=false) [hub]─────────────▶ Failed   (refund + slash)
///           │ attestation(success=true) [hub, before deadline]
///          Attested ──settle [anyone, after challenge window]──▶ Settled  (pay + refund rest)
///           │ dispute [client, within challenge window, posts bond]
///          Disputed ──resolveDispute(upheld) [arbitrator]──────▶ Failed   (refund + bond back + slash)
///                   ──resolveDispute(rejected) [arbitrator]────▶ Settled  (pay, bond to provider)
///                   ──settle [anyone, after dispute timeout]───▶ Settled  (pay, bond back to client)
///
///      Terms: a job keeps the terms in force when it was created (fee, challenge window,
///      dispute timeout, dispute bond and the client's share of slashed collateral) to its end;
///      governance changes apply to new jobs only.
///
///      Accounting invariant, per payment token: token.balanceOf(escrow) >=
///      Σ escrow of Open/Accepted/Attested/Disputed jobs + Σ bonds of Disputed jobs + Σ claimable.
///      Every amount owed is credited to a claimable balance; `withdraw` is the only way out.
interface IJobEscrow {
    enum JobStatus {
        None,
        Open,
        Accepted,
        Attested,
        Disputed,
        Settled,
        Failed,
        Expired,
        Cancelled
    }

    /// @notice Everything known about a job, as a dashboard reads it.
    struct JobView {
        uint256 id;
        address client;
        address provider;
        address token; // payment token
        uint256 unitPrice; // payment-token units per unit of work
        uint256 maxUnits; // escrow = unitPrice * maxUnits
        uint256 escrow; // locked payment
        uint256 units; // attested units (0 until attested)
        uint256 termsId; // the terms in force at creation (see `terms`): fee, windows, shares
        uint256 feeBps; // protocol fee of its terms
        uint256 collateral; // staking-token collateral locked at accept
        uint256 deadline; // attestation must arrive by then
        uint256 acceptBy; // provider must accept by then (while Open)
        uint256 challengeEnds; // settle allowed from then on (while Attested)
        uint256 disputeEnds; // arbitrator must resolve by then (while Disputed)
        uint256 disputeBond; // bond posted by the client (while Disputed)
        JobStatus status;
    }

    /// @notice One job in a batch creation.
    struct JobRequest {
        address provider;
        address token;
        uint256 unitPrice;
        uint256 maxUnits;
        uint256 deadline;
        bytes32 specHash;
    }

    // ───────────────────────────── events ─────────────────────────────

    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        address indexed provider,
        address token,
        uint256 unitPrice,
        uint256 maxUnits,
        uint256 deadline,
        uint256 acceptBy,
        uint256 feeBps,
        bytes32 specHash
    );
    event JobCancelled(uint256 indexed jobId, address indexed client, uint256 refund);
    event JobAccepted(uint256 indexed jobId, address indexed provider, uint256 collateral);
    event JobAttested(uint256 indexed jobId, bool success, uint256 units, bytes32 resultHash, uint256 challengeEnds);
    event JobDisputed(uint256 indexed jobId, address indexed client, uint256 bond, uint256 disputeEnds);
    event DisputeResolved(uint256 indexed jobId, address indexed arbitrator, bool upheld);
    /// @notice A job paid out. `gross = providerNet + fee`; `gross + refund` is the escrow.
    event JobSettled(
        uint256 indexed jobId,
        address indexed provider,
        address indexed client,
        uint256 gross,
        uint256 providerNet,
        uint256 fee,
        uint256 refund
    );
    /// @notice A job ended without payment: failed attestation, upheld dispute or expiry.
    event JobRefunded(
        uint256 indexed jobId,
        address indexed client,
        JobStatus status,
        uint256 refund,
        uint256 collateralSlashed,
        uint256 clientCollateralShare
    );
    /// @notice settleMany passed over a job that cannot be settled now.
    event JobSettleSkipped(uint256 indexed jobId, JobStatus status);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    event PaymentTokenSet(address indexed token, uint256 id, bool allowed, uint256 collateralRate);
    event FeeSet(uint256 feeBps);
    event WindowsSet(uint256 acceptWindow, uint256 challengeWindow, uint256 disputeTimeout, uint256 maxJobDuration);
    event DisputeBondSet(uint256 disputeBondBps);
    event ClientSlashShareSet(uint256 clientSlashShareBps);
    /// @notice New jobs get these terms from now on (live jobs keep theirs).
    event TermsSet(
        uint256 indexed termsId,
        uint256 feeBps,
        uint256 challengeWindow,
        uint256 disputeTimeout,
        uint256 disputeBondBps,
        uint256 clientSlashShareBps
    );
    event TreasurySet(address treasury);

    // ───────────────────────────── errors ─────────────────────────────

    // Shared errors this contract also reverts with (ZeroAddress, EmptyBatch, TokenNotAllowed,
    // NothingToWithdraw, FeeOutOfRange, BpsOutOfRange for the dispute bond and the client's slash share) are declared once in libraries/Errors.sol,
    // which states the convention: expected or bound first, actual last; a parameter out of
    // range reverts <Name>OutOfRange(min, max, value), bounds inclusive.

    error TooManyPaymentTokens(uint256 max);
    /// @notice A collateral rate must lie in [1, 2^128-1].
    error CollateralRateOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A unit price must lie in [1, 2^96-1].
    error UnitPriceOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A job's maxUnits must lie in [1, 2^48-1].
    error MaxUnitsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A job's deadline must lie in [now + 1, now + maxJobDuration].
    error DeadlineOutOfRange(uint256 min, uint256 max, uint256 value);
    error UnexpectedJobStatus(uint256 jobId, JobStatus expected, JobStatus actual);
    error NotJobClient(address expected, address caller);
    error NotJobProvider(address expected, address caller);
    error AcceptWindowClosed(uint256 acceptBy, uint256 nowTime);
    error JobDeadlinePassed(uint256 deadline, uint256 nowTime);
    error JobDeadlineNotPassed(uint256 deadline, uint256 nowTime);
    error UnitsExceedMax(uint256 maxUnits, uint256 units);
    error ChallengeWindowOpen(uint256 challengeEnds, uint256 nowTime);
    error ChallengeWindowClosed(uint256 challengeEnds, uint256 nowTime);
    error DisputeNotLapsed(uint256 disputeEnds, uint256 nowTime);
    error DisputeResolutionClosed(uint256 disputeEnds, uint256 nowTime);
    /// @notice A window must lie in [1 minute, 30 days], the dispute timeout in [1 minute, 90 days]
    ///         and the longest job in [1 minute, 365 days].
    error WindowOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A job's collateral (escrow * rate / 1e18) does not fit 128 bits: the client can cancel.
    error CollateralTooLarge(uint256 max, uint256 collateral);
    error TooManyTermsVersions(uint256 max);

    // ─────────────────────────────── calls ───────────────────────────────

    function createJob(
        address provider,
        address token,
        uint256 unitPrice,
        uint256 maxUnits,
        uint256 deadline,
        bytes32 specHash
    ) external returns (uint256 jobId);

    function createJobWithPermit(
        address provider,
        address token,
        uint256 unitPrice,
        uint256 maxUnits,
        uint256 deadline,
        bytes32 specHash,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 jobId);

    function createJobs(JobRequest[] calldata requests) external returns (uint256 firstJobId);
    function cancel(uint256 jobId) external;
    function accept(uint256 jobId) external;
    function recordAttestation(
        uint256 jobId,
        address provider,
        bool success,
        uint256 units,
        bytes32 resultHash
    ) external;
    function dispute(uint256 jobId) external;
    function resolveDispute(uint256 jobId, bool upheld) external;
    function settle(uint256 jobId) external;
    function settleMany(uint256[] calldata jobIds) external returns (uint256 settled);
    function reclaimExpired(uint256 jobId) external;
    function withdraw(address token) external returns (uint256 amount);

    // ─────────────────────────────── views ───────────────────────────────

    function job(uint256 jobId) external view returns (JobView memory);
    function jobStatus(uint256 jobId) external view returns (JobStatus);
    function claimable(address account, address token) external view returns (uint256);
    function disputeBondFor(uint256 jobId) external view returns (uint256);
    function jobCount() external view returns (uint256);
}
