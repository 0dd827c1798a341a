// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {
    BpsOutOfRange,
    EmptyBatch,
    FeeOutOfRange,
    NothingToWithdraw,
    TokenNotAllowed,
    ZeroAddress
} from "./libraries/Errors.sol";
import {TokenTransfers} from "./libraries/TokenTransfers.sol";

/// @title JobEscrow
/// @notice Holds clients' payments for compute jobs and pays them out only for attested work.
/// @dev See {IJobEscrow} for the state machine and the accounting invariant. All payouts are
///      pull payments: settlement credits claimable balances and `withdraw` sends them.
contract JobEscrow is IJobEscrow, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice May change parameters and the payment-token allowlist.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May pause job creation and acceptance.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Resolves disputes.
    bytes32 public constant ARBITRATOR_ROLE = keccak256("ARBITRATOR_ROLE");
    /// @notice Records quorum-verified attestations: the AttestationHub only.
    bytes32 public constant ATTESTER_ROLE = keccak256("ATTESTER_ROLE");

    /// @notice Hard cap on the protocol fee: 10%.
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice Collateral = escrow * collateralRate / RATE_SCALE, in staking-token units.
    uint256 public constant RATE_SCALE = 1e18;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_PAYMENT_TOKENS = 256;
    uint256 internal constant MIN_WINDOW = 1 minutes;
    uint256 internal constant MAX_WINDOW = 30 days;
    uint256 internal constant MAX_DISPUTE_TIMEOUT = 90 days;
    uint256 internal constant MAX_JOB_DURATION = 365 days;

    struct Job {
        // slot 0: everything a transition writes, so accept and attest each write one slot
        JobStatus status; // where the job is in its state machine
        uint40 timer; // acceptBy while Open, challengeEnds while Attested, disputeEnds while Disputed
        uint48 units; // attested units of work
        uint128 collateral; // staking-token collateral, fixed at accept
        uint8 tokenId; // payment token, by its allowlist id
        uint24 termsId; // the terms in force at creation: the job keeps them to its end
        // slot 1: fixed at creation
        address client; // payer; receives refunds
        uint40 deadline; // attestation must arrive by then
        uint48 maxUnits; // escrow = unitPrice * maxUnits
        // slot 2: fixed at creation
        address provider; // who does the work
        uint96 unitPrice; // payment-token units per unit of work
    }

    struct PaymentToken {
        uint8 id; // index into _tokenById
        bool registered; // has an id
        bool allowed; // new jobs may use it
    }

    /// @notice The terms a job keeps from creation to its end, whatever governance sets later.
    struct Terms {
        uint16 feeBps; // protocol fee on the gross paid to the provider
        uint32 challengeWindow; // seconds after a success attestation during which the client may dispute
        uint32 disputeTimeout; // seconds the arbitrator has to resolve a dispute before it lapses
        uint16 disputeBondBps; // dispute bond as a share of the escrow
        uint16 clientSlashShareBps; // share of slashed collateral that goes to the wronged client
    }

    // These parameters share the slot of Pausable's `_paused` flag: createJob reads them all
    // with one cold SLOAD and writes the job counter into an already-warm slot.
    uint64 internal _jobCount;
    /// @notice Protocol fee in basis points for jobs created now, at most MAX_FEE_BPS (a copy of
    ///         the current terms' fee, so that createJob reads one slot).
    uint16 public feeBps;
    /// @notice Seconds a provider has to accept a new job.
    uint32 public acceptWindow;
    /// @notice Latest deadline a new job may have, in seconds from creation.
    uint32 public maxJobDuration;
    /// @notice Id of the terms new jobs get; every change of a term makes a new id.
    uint24 public currentTermsId;

    /// @notice Receives protocol fees.
    address public treasury;
    /// @notice The staking contract that holds providers' collateral.
    IProviderStaking public immutable staking;

    uint256 internal _paymentTokenCount;
    mapping(address token => PaymentToken) internal _paymentTokens;
    mapping(uint256 tokenId => address) internal _tokenById;
    mapping(uint256 tokenId => uint256) internal _collateralRates;
    mapping(uint256 jobId => Job) internal _jobs;
    mapping(uint256 jobId => uint256) internal _disputeBonds;
    mapping(uint256 termsId => Terms) internal _terms;
    mapping(address account => mapping(address token => uint256)) internal _claimable;

    /// @notice Default parameters, documented in the README.
    struct InitParams {
        uint256 feeBps;
        uint256 acceptWindow;
        uint256 challengeWindow;
        uint256 disputeTimeout;
        uint256 maxJobDuration;
        uint256 disputeBondBps;
        uint256 clientSlashShareBps;
    }

    /// @param staking_ the ProviderStaking contract; grant this contract its collateral-manager
    ///        role there after deployment (it needs no other)
    /// @param admin governance: receives the admin, governor and pauser roles
    /// @param treasury_ receives protocol fees
    constructor(IProviderStaking staking_, address admin, address treasury_, InitParams memory p) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        staking = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _setTreasury(treasury_);
        _checkFee(p.feeBps);
        _checkWindows(p.acceptWindow, p.challengeWindow, p.disputeTimeout, p.maxJobDuration);
        _checkBps(p.disputeBondBps, 0);
        _checkBps(p.clientSlashShareBps, 1);
        acceptWindow = uint32(p.acceptWindow);
        maxJobDuration = uint32(p.maxJobDuration);
        emit WindowsSet(p.acceptWindow, p.challengeWindow, p.disputeTimeout, p.maxJobDuration);
        _newTerms(
            Terms({
                feeBps: uint16(p.feeBps),
                challengeWindow: uint32(p.challengeWindow),
                disputeTimeout: uint32(p.disputeTimeout),
                disputeBondBps: uint16(p.disputeBondBps),
                clientSlashShareBps: uint16(p.clientSlashShareBps)
            })
        );
    }

    // ─────────────────────────────── clients ───────────────────────────────

    /// @notice Creates a job and locks `unitPrice * maxUnits` of `token` in escrow.
    /// @dev Approve the escrow amount to this contract first. Reverts with
    ///      TransferAmountMismatch for tokens that deliver less than requested.
    /// @param provider who is to do the work; must accept before `acceptBy`
    /// @param token an allowlisted payment token
    /// @param unitPrice payment-token units per unit of work (1 .. 2^96-1)
    /// @param maxUnits most units the job may use (1 .. 2^48-1)
    /// @param deadline unix time by which the work must be attested
    /// @param specHash commitment to the workload
    /// @return jobId the new job's id
    /// @custom:constraint anyone, while not paused
    function createJob(
        address provider,
        address token,
        uint256 unitPrice,
        uint256 maxUnits,
        uint256 deadline,
        bytes32 specHash
    ) external nonReentrant whenNotPaused returns (uint256 jobId) {
        uint256 amount;
        (jobId, amount) = _createJob(provider, token, unitPrice, maxUnits, deadline, specHash);
        TokenTransfers.pullExact(IERC20(token), amount);
    }

    /// @notice Like createJob, with an EIP-2612 permit for the escrow amount instead of an approval.
    /// @dev A permit that fails (e.g. front-run and already used) is ignored; the transfer then
    ///      succeeds only if the allowance is there anyway.
    /// @custom:constraint anyone, while not paused
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
    ) external nonReentrant whenNotPaused returns (uint256 jobId) {
        uint256 amount;
        (jobId, amount) = _createJob(provider, token, unitPrice, maxUnits, deadline, specHash);
        try IERC20Permit(token).permit(msg.sender, address(this), amount, permitDeadline, v, r, s) {} catch {}
        TokenTransfers.pullExact(IERC20(token), amount);
    }

    /// @notice Creates several jobs in one transaction; consecutive jobs in the same token are
    ///         paid with one transfer.
    /// @return firstJobId the id of the first job; the others follow consecutively
    /// @custom:constraint anyone, while not paused
    function createJobs(
        JobRequest[] calldata requests
    ) external nonReentrant whenNotPaused returns (uint256 firstJobId) {
        uint256 n = requests.length;
        if (n == 0) revert EmptyBatch();
        firstJobId = _jobCount + 1;
        address runToken = requests[0].token;
        uint256 runAmount = 0;
        for (uint256 i; i < n; ++i) {
            JobRequest calldata q = requests[i];
            if (q.token != runToken) {
                TokenTransfers.pullExact(IERC20(runToken), runAmount);
                (runToken, runAmount) = (q.token, 0);
            }
            (, uint256 amount) = _createJob(q.provider, q.token, q.unitPrice, q.maxUnits, q.deadline, q.specHash);
            runAmount += amount;
        }
        TokenTransfers.pullExact(IERC20(runToken), runAmount);
    }

    /// @notice Cancels a job the provider has not accepted yet; the escrow becomes claimable.
    /// @custom:constraint the job's client, while the job is Open
    function cancel(uint256 jobId) external {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Open);
        if (msg.sender != j.client) revert NotJobClient(j.client, msg.sender);
        j.status = JobStatus.Cancelled;
        uint256 refund = _escrowOf(j);
        _credit(j.client, _tokenById[j.tokenId], refund);
        emit JobCancelled(jobId, j.client, refund);
    }

    /// @notice Disputes a success attestation by posting a bond of `disputeBondFor(jobId)`.
    /// @dev Approve the bond to this contract first.
    /// @custom:constraint the job's client, while Attested and before `challengeEnds`; works while paused
    function dispute(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Attested);
        if (msg.sender != j.client) revert NotJobClient(j.client, msg.sender);
        if (block.timestamp >= j.timer) revert ChallengeWindowClosed(j.timer, block.timestamp);
        Terms memory t = _terms[j.termsId];
        uint256 bond = Math.mulDiv(_escrowOf(j), t.disputeBondBps, BPS, Math.Rounding.Ceil);
        uint256 ends = block.timestamp + t.disputeTimeout;
        j.status = JobStatus.Disputed;
        j.timer = uint40(ends);
        _disputeBonds[jobId] = bond;
        emit JobDisputed(jobId, msg.sender, bond, ends);
        if (bond != 0) TokenTransfers.pullExact(IERC20(_tokenById[j.tokenId]), bond);
    }

    /// @notice Ends a job that was accepted but not attested by its deadline: the client is
    ///         refunded and the provider's collateral slashed.
    /// @custom:constraint anyone (the refund always goes to the client), after the deadline
    function reclaimExpired(uint256 jobId) external {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Accepted);
        if (block.timestamp <= j.deadline) revert JobDeadlineNotPassed(j.deadline, block.timestamp);
        _refund(jobId, j, JobStatus.Expired, 0);
    }

    /// @notice Pays out everything the caller can claim in `token`, in one transfer.
    /// @return amount what was sent
    /// @custom:constraint anyone with a claimable balance; works while paused
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        _claimable[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ─────────────────────────────── providers ───────────────────────────────

    /// @notice Accepts a job and locks its collateral from the provider's free stake.
    /// @dev collateral = escrow * collateralRate(token) / 1e18, in staking-token units.
    /// @custom:constraint the job's provider, while Open, until `acceptBy`, while not paused
    function accept(uint256 jobId) external whenNotPaused {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Open);
        if (msg.sender != j.provider) revert NotJobProvider(j.provider, msg.sender);
        if (block.timestamp > j.timer) revert AcceptWindowClosed(j.timer, block.timestamp);
        uint256 collateral = Math.mulDiv(_escrowOf(j), _collateralRates[j.tokenId], RATE_SCALE);
        if (collateral > type(uint128).max) revert CollateralTooLarge(type(uint128).max, collateral);
        j.status = JobStatus.Accepted;
        j.collateral = uint128(collateral);
        emit JobAccepted(jobId, msg.sender, collateral);
        staking.lockCollateral(msg.sender, collateral);
    }

    // ─────────────────────────────── settlement ───────────────────────────────

    /// @notice Records a quorum-verified attestation.
    /// @dev Success opens the challenge window; failure refunds the client and slashes the
    ///      provider's collateral. Each job takes one attestation: it must be Accepted.
    /// @custom:constraint ATTESTER_ROLE (the AttestationHub), by the job's deadline
    function recordAttestation(
        uint256 jobId,
        address provider,
        bool success,
        uint256 units,
        bytes32 resultHash
    ) external onlyRole(ATTESTER_ROLE) {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Accepted);
        if (provider != j.provider) revert NotJobProvider(j.provider, provider);
        if (block.timestamp > j.deadline) revert JobDeadlinePassed(j.deadline, block.timestamp);
        if (!success) {
            emit JobAttested(jobId, false, units, resultHash, 0);
            _refund(jobId, j, JobStatus.Failed, 0);
            return;
        }
        if (units > j.maxUnits) revert UnitsExceedMax(j.maxUnits, units);
        uint256 ends = block.timestamp + _terms[j.termsId].challengeWindow;
        j.status = JobStatus.Attested;
        j.units = uint48(units);
        j.timer = uint40(ends);
        emit JobAttested(jobId, true, units, resultHash, ends);
    }

    /// @notice Resolves a dispute. Upheld: the client gets the escrow and its bond back and the
    ///         provider's collateral is slashed. Rejected: the provider is paid and gets the bond.
    /// @custom:constraint ARBITRATOR_ROLE, while Disputed and until `disputeEnds`
    function resolveDispute(uint256 jobId, bool upheld) external onlyRole(ARBITRATOR_ROLE) {
        Job storage j = _jobs[jobId];
        _requireStatus(jobId, j.status, JobStatus.Disputed);
        if (block.timestamp > j.timer) revert DisputeResolutionClosed(j.timer, block.timestamp);
        uint256 bond = _disputeBonds[jobId];
        _disputeBonds[jobId] = 0;
        emit DisputeResolved(jobId, msg.sender, upheld);
        if (upheld) _refund(jobId, j, JobStatus.Failed, bond);
        else _release(j.provider, _pay(jobId, j, _terms[j.termsId].feeBps, bond, 0));
    }

    /// @notice Pays out an attested job once its challenge window has closed, or a disputed
    ///         job whose dispute lapsed unresolved (the client then gets its bond back).
    /// @custom:constraint anyone; works while paused
    function settle(uint256 jobId) external {
        Job storage j = _jobs[jobId];
        JobStatus status = j.status;
        if (status == JobStatus.Attested) {
            if (block.timestamp < j.timer) revert ChallengeWindowOpen(j.timer, block.timestamp);
        } else if (status == JobStatus.Disputed) {
            if (block.timestamp <= j.timer) revert DisputeNotLapsed(j.timer, block.timestamp);
        } else {
            revert UnexpectedJobStatus(jobId, JobStatus.Attested, status);
        }
        _release(j.provider, _settle(jobId, j, status, _terms[j.termsId].feeBps));
    }

    /// @notice Settles every listed job that can be settled now and skips the others.
    /// @return settled how many jobs were settled
    /// @custom:constraint anyone; works while paused
    function settleMany(uint256[] calldata jobIds) external returns (uint256 settled) {
        uint256 n = jobIds.length;
        if (n == 0) revert EmptyBatch();
        // Consecutive jobs of one provider form a run whose collateral is released in a single
        // staking call, after every job's state is final (checks-effects-interactions).
        address[] memory runProviders = new address[](n);
        uint256[] memory runCollateral = new uint256[](n);
        uint256 runs = 0;
        // Jobs of a batch mostly share their terms: read the fee once per run of equal terms.
        uint256 termsId = type(uint256).max;
        uint256 fee = 0;
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[i];
            Job storage j = _jobs[jobId];
            JobStatus status = j.status;
            bool ready =
                (status == JobStatus.Attested && block.timestamp >= j.timer) ||
                    (status == JobStatus.Disputed && block.timestamp > j.timer);
            if (!ready) {
                emit JobSettleSkipped(jobId, status);
                continue;
            }
            address provider = j.provider;
            if (runs == 0 || runProviders[runs - 1] != provider) runProviders[runs++] = provider;
            if (j.termsId != termsId) (termsId, fee) = (j.termsId, _terms[j.termsId].feeBps);
            runCollateral[runs - 1] += _settle(jobId, j, status, fee);
            ++settled;
        }
        for (uint256 r; r < runs; ++r) {
            _release(runProviders[r], runCollateral[r]);
        }
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Adds, re-allows or disallows a payment token, and sets its collateral rate.
    /// @dev collateralRate is staking-token units per payment-token unit, scaled by 1e18: it
    ///      converts between tokens of different decimals and prices. Disallowing only stops new
    ///      jobs; existing ones run to the end.
    /// @custom:constraint GOVERNOR_ROLE; rate in 1 .. 2^128-1
    function setPaymentToken(address token, bool allowed, uint256 collateralRate) external onlyRole(GOVERNOR_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        if (collateralRate == 0 || collateralRate > type(uint128).max) {
            revert CollateralRateOutOfRange(1, type(uint128).max, collateralRate);
        }
        PaymentToken memory pt = _paymentTokens[token];
        if (!pt.registered) {
            uint256 id = _paymentTokenCount;
            if (id == MAX_PAYMENT_TOKENS) revert TooManyPaymentTokens(MAX_PAYMENT_TOKENS);
            _paymentTokenCount = id + 1;
            _tokenById[id] = token;
            pt.id = uint8(id);
            pt.registered = true;
        }
        pt.allowed = allowed;
        _paymentTokens[token] = pt;
        _collateralRates[pt.id] = collateralRate;
        emit PaymentTokenSet(token, pt.id, allowed, collateralRate);
    }

    /// @notice Sets the protocol fee for jobs created from now on; live jobs keep theirs.
    /// @custom:constraint GOVERNOR_ROLE; at most MAX_FEE_BPS
    function setFee(uint256 feeBps_) external onlyRole(GOVERNOR_ROLE) {
        _checkFee(feeBps_);
        emit FeeSet(feeBps_);
        Terms memory t = _terms[currentTermsId];
        t.feeBps = uint16(feeBps_);
        _newTerms(t);
    }

    /// @notice Sets the accept window, challenge window, dispute timeout and longest job for jobs
    ///         created from now on; live jobs keep their challenge window and dispute timeout.
    /// @custom:constraint GOVERNOR_ROLE; windows in 1 minute .. 30 days, dispute timeout up to
    ///         90 days, job duration up to 365 days
    function setWindows(
        uint256 acceptWindow_,
        uint256 challengeWindow_,
        uint256 disputeTimeout_,
        uint256 maxJobDuration_
    ) external onlyRole(GOVERNOR_ROLE) {
        _checkWindows(acceptWindow_, challengeWindow_, disputeTimeout_, maxJobDuration_);
        acceptWindow = uint32(acceptWindow_);
        maxJobDuration = uint32(maxJobDuration_);
        emit WindowsSet(acceptWindow_, challengeWindow_, disputeTimeout_, maxJobDuration_);
        Terms memory t = _terms[currentTermsId];
        t.challengeWindow = uint32(challengeWindow_);
        t.disputeTimeout = uint32(disputeTimeout_);
        _newTerms(t);
    }

    /// @notice Sets the dispute bond, as a share of escrow, for jobs created from now on.
    /// @custom:constraint GOVERNOR_ROLE; at most 10_000
    function setDisputeBond(uint256 bps) external onlyRole(GOVERNOR_ROLE) {
        _checkBps(bps, 0);
        emit DisputeBondSet(bps);
        Terms memory t = _terms[currentTermsId];
        t.disputeBondBps = uint16(bps);
        _newTerms(t);
    }

    /// @notice Sets the share of slashed collateral that goes to the wronged client, for jobs
    ///         created from now on.
    /// @custom:constraint GOVERNOR_ROLE; 1 .. 10_000 (the client always gets part of it)
    function setClientSlashShare(uint256 bps) external onlyRole(GOVERNOR_ROLE) {
        _checkBps(bps, 1);
        emit ClientSlashShareSet(bps);
        Terms memory t = _terms[currentTermsId];
        t.clientSlashShareBps = uint16(bps);
        _newTerms(t);
    }

    /// @notice Sets who receives protocol fees from now on.
    /// @custom:constraint GOVERNOR_ROLE
    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        _setTreasury(treasury_);
    }

    /// @notice Stops job creation and acceptance. Settlement, refunds and withdrawals go on.
    /// @custom:constraint PAUSER_ROLE
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes job creation and acceptance.
    /// @custom:constraint PAUSER_ROLE
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @inheritdoc IJobEscrow
    function job(uint256 jobId) external view returns (JobView memory v) {
        Job storage j = _jobs[jobId];
        v.id = jobId;
        v.client = j.client;
        v.provider = j.provider;
        v.status = j.status;
        if (j.status == JobStatus.None) return v;
        v.token = _tokenById[j.tokenId];
        v.unitPrice = j.unitPrice;
        v.maxUnits = j.maxUnits;
        v.escrow = _escrowOf(j);
        v.units = j.units;
        v.termsId = j.termsId;
        v.feeBps = _terms[j.termsId].feeBps;
        v.collateral = j.collateral;
        v.deadline = j.deadline;
        if (j.status == JobStatus.Open) v.acceptBy = j.timer;
        if (j.status == JobStatus.Attested) v.challengeEnds = j.timer;
        if (j.status == JobStatus.Disputed) {
            v.disputeEnds = j.timer;
            v.disputeBond = _disputeBonds[jobId];
        }
    }

    /// @inheritdoc IJobEscrow
    function jobStatus(uint256 jobId) external view returns (JobStatus) {
        return _jobs[jobId].status;
    }

    /// @inheritdoc IJobEscrow
    function claimable(address account, address token) external view returns (uint256) {
        return _claimable[account][token];
    }

    /// @notice The bond a dispute of this job costs: escrow * its terms' disputeBondBps / 10_000,
    ///         rounded up.
    function disputeBondFor(uint256 jobId) external view returns (uint256) {
        Job storage j = _jobs[jobId];
        return Math.mulDiv(_escrowOf(j), _terms[j.termsId].disputeBondBps, BPS, Math.Rounding.Ceil);
    }

    /// @notice The terms with id `termsId` (jobs carry theirs as `JobView.termsId`).
    function terms(uint256 termsId) external view returns (Terms memory) {
        return _terms[termsId];
    }

    /// @notice Challenge window of jobs created now.
    function challengeWindow() external view returns (uint256) {
        return _terms[currentTermsId].challengeWindow;
    }

    /// @notice Dispute timeout of jobs created now.
    function disputeTimeout() external view returns (uint256) {
        return _terms[currentTermsId].disputeTimeout;
    }

    /// @notice Dispute bond share of jobs created now.
    function disputeBondBps() external view returns (uint256) {
        return _terms[currentTermsId].disputeBondBps;
    }

    /// @notice Client share of slashed collateral for jobs created now.
    function clientSlashShareBps() external view returns (uint256) {
        return _terms[currentTermsId].clientSlashShareBps;
    }

    /// @inheritdoc IJobEscrow
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @notice A payment token's allowlist entry.
    /// @return id its id (meaningful when registered)
    /// @return registered whether it was ever added
    /// @return allowed whether new jobs may use it
    /// @return collateralRate staking-token units per payment-token unit, scaled by 1e18
    function paymentToken(
        address token
    ) external view returns (uint256 id, bool registered, bool allowed, uint256 collateralRate) {
        PaymentToken memory pt = _paymentTokens[token];
        return (pt.id, pt.registered, pt.allowed, pt.registered ? _collateralRates[pt.id] : 0);
    }

    /// @notice All payment tokens ever registered, by id.
    function paymentTokens() external view returns (address[] memory tokens) {
        tokens = new address[](_paymentTokenCount);
        for (uint256 i; i < tokens.length; ++i) {
            tokens[i] = _tokenById[i];
        }
    }

    /// @notice Collateral a job would lock if accepted now, in staking-token units.
    function collateralFor(address token, uint256 escrowAmount) external view returns (uint256) {
        PaymentToken memory pt = _paymentTokens[token];
        if (!pt.registered) revert TokenNotAllowed(token);
        return Math.mulDiv(escrowAmount, _collateralRates[pt.id], RATE_SCALE);
    }

    // ─────────────────────────────── internals ───────────────────────────────

    function _createJob(
        address provider,
        address token,
        uint256 unitPrice,
        uint256 maxUnits,
        uint256 deadline,
        bytes32 specHash
    ) internal returns (uint256 jobId, uint256 amount) {
        if (provider == address(0)) revert ZeroAddress();
        PaymentToken memory pt = _paymentTokens[token];
        if (!pt.allowed) revert TokenNotAllowed(token);
        if (unitPrice == 0 || unitPrice > type(uint96).max) revert UnitPriceOutOfRange(1, type(uint96).max, unitPrice);
        if (maxUnits == 0 || maxUnits > type(uint48).max) revert MaxUnitsOutOfRange(1, type(uint48).max, maxUnits);
        uint256 latest = block.timestamp + maxJobDuration;
        if (deadline <= block.timestamp || deadline > latest) {
            revert DeadlineOutOfRange(block.timestamp + 1, latest, deadline);
        }
        uint256 acceptBy = Math.min(block.timestamp + acceptWindow, deadline);
        jobId = ++_jobCount;
        _jobs[jobId] = Job({
            client: msg.sender,
            status: JobStatus.Open,
            tokenId: pt.id,
            deadline: uint40(deadline),
            timer: uint40(acceptBy),
            provider: provider,
            unitPrice: uint96(unitPrice),
            maxUnits: uint48(maxUnits),
            units: 0,
            termsId: currentTermsId,
            collateral: 0
        });
        emit JobCreated(jobId, msg.sender, provider, token, unitPrice, maxUnits, deadline, acceptBy, feeBps, specHash);
        amount = unitPrice * maxUnits;
    }

    /// @dev Settles an Attested job, or a Disputed one whose dispute lapsed; returns the
    ///      collateral the caller must release.
    function _settle(
        uint256 jobId,
        Job storage j,
        JobStatus status,
        uint256 fee
    ) internal returns (uint256 collateral) {
        if (status == JobStatus.Attested) return _pay(jobId, j, fee, 0, 0);
        // The arbitrator let the dispute lapse: the attestation stands, the bond goes home.
        uint256 bond = _disputeBonds[jobId];
        _disputeBonds[jobId] = 0;
        return _pay(jobId, j, fee, 0, bond);
    }

    /// @dev Pays the attested units: provider net of fee, client the unused rest, treasury the
    ///      fee. Returns the job's collateral, which the caller releases (batches release once
    ///      per provider).
    function _pay(
        uint256 jobId,
        Job storage j,
        uint256 feeBps_,
        uint256 bondToProvider,
        uint256 bondToClient
    ) internal returns (uint256 collateral) {
        j.status = JobStatus.Settled;
        address token = _tokenById[j.tokenId];
        (address provider, address client) = (j.provider, j.client);
        uint256 unitPrice = j.unitPrice;
        uint256 gross = uint256(j.units) * unitPrice;
        uint256 fee = (gross * feeBps_) / BPS;
        uint256 refund = uint256(j.maxUnits) * unitPrice - gross;
        _credit(provider, token, gross - fee + bondToProvider);
        _credit(client, token, refund + bondToClient);
        _credit(treasury, token, fee);
        emit JobSettled(jobId, provider, client, gross, gross - fee, fee, refund);
        collateral = j.collateral;
    }

    function _release(address provider, uint256 collateral) internal {
        if (collateral != 0) staking.releaseCollateral(provider, collateral);
    }

    /// @dev Refunds the whole escrow (and `bond`) to the client and slashes exactly the job's
    ///      collateral, of which the client gets its terms' share. Reverts, with the staking
    ///      contract's named error, if this contract lost its collateral-manager role: a refund
    ///      never half-happens.
    function _refund(uint256 jobId, Job storage j, JobStatus status, uint256 bond) internal {
        j.status = status;
        address client = j.client;
        uint256 refund = _escrowOf(j) + bond;
        _credit(client, _tokenById[j.tokenId], refund);
        uint256 collateral = j.collateral;
        uint256 share = 0;
        if (collateral != 0) {
            share = staking.slashCollateral(j.provider, collateral, client, _terms[j.termsId].clientSlashShareBps);
        }
        emit JobRefunded(jobId, client, status, refund, collateral, share);
    }

    function _credit(address account, address token, uint256 amount) internal {
        if (amount != 0) _claimable[account][token] += amount;
    }

    function _escrowOf(Job storage j) internal view returns (uint256) {
        return uint256(j.unitPrice) * j.maxUnits;
    }

    function _requireStatus(uint256 jobId, JobStatus actual, JobStatus expected) internal pure {
        if (actual != expected) revert UnexpectedJobStatus(jobId, expected, actual);
    }

    function _checkFee(uint256 bps) internal pure {
        if (bps > MAX_FEE_BPS) revert FeeOutOfRange(0, MAX_FEE_BPS, bps);
    }

    function _checkWindows(uint256 acceptW, uint256 challengeW, uint256 disputeT, uint256 maxDuration) internal pure {
        _checkWindow(acceptW, MIN_WINDOW, MAX_WINDOW);
        _checkWindow(challengeW, MIN_WINDOW, MAX_WINDOW);
        _checkWindow(disputeT, MIN_WINDOW, MAX_DISPUTE_TIMEOUT);
        _checkWindow(maxDuration, MIN_WINDOW, MAX_JOB_DURATION);
    }

    function _checkWindow(uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert WindowOutOfRange(min, max, value);
    }

    function _checkBps(uint256 bps, uint256 min) internal pure {
        if (bps < min || bps > BPS) revert BpsOutOfRange(min, BPS, bps);
    }

    /// @dev Stores `t` under the next terms id; new jobs get it, live jobs keep theirs. Terms
    ///      equal to the current ones make no new id.
    function _newTerms(Terms memory t) internal {
        uint256 current = currentTermsId;
        if (current != 0 && keccak256(abi.encode(t)) == keccak256(abi.encode(_terms[current]))) return;
        uint256 id = current + 1;
        if (id > type(uint24).max) revert TooManyTermsVersions(type(uint24).max);
        _terms[id] = t;
        currentTermsId = uint24(id);
        feeBps = t.feeBps;
        emit TermsSet(id, t.feeBps, t.challengeWindow, t.disputeTimeout, t.disputeBondBps, t.clientSlashShareBps);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
