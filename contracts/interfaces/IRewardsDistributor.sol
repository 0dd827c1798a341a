// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IRewardsDistributor
/// @notice Incentive emissions for providers (issue 16): a funded reserve of the reward token is
///         released epoch by epoch on a schedule that halves every `halvingEpochs` and fades to
///         zero as a rolling average of protocol fees approaches a target provider revenue, and
///         paid out by cumulative merkle roots that a k-of-n oracle quorum posts.
/// @dev The schedule, per epoch t (0 = the epoch starting at `genesis`):
///
///          E(t) = e0 · 2^(−t/H) · max(0, 1 − avg(t) / F*)
///
///      with H = `halvingEpochs`, F* = `feeTarget` and avg(t) an exponential moving average of
///      the protocol fees of each epoch over `feeWindow` epochs (avg ← avg + (fees − avg) / W,
///      from 0, epoch t's fees included). 2^(−t/H) is exact at every halving and interpolated
///      linearly between sixteenths of a halving in between (within 0.03% of the curve): the
///      same integer arithmetic off chain gives the same numbers (computerails.rewards).
///
///      Roots. A root commits to leaves (account, cumulative amount) in OpenZeppelin's
///      StandardMerkleTree format (`keccak256(bytes.concat(keccak256(abi.encode(account,
///      amount))))`) and carries the total it distributes and the epochs it covers (0 ..
///      `through` − 1). The quorum signs it (EIP-712, bound to the hub's oracle configuration)
///      with the protocol fees of every epoch it adds to the schedule; the contract runs the
///      schedule over those epochs and refuses a total above what the schedule released so far,
///      or above what the reserve can pay, or below the previous root's total.
///
///      A posted root is pending for `activationDelay` seconds, during which the guardian or any
///      oracle can veto it with a reason; a vetoed root never activates and the next post
///      starts again from the last root that was not vetoed. A new root can be posted only once
///      the pending one activated or was vetoed. Claims go against the latest active root.
///
///      Invariants (tests/stateful): total claimed ≤ the active root's total ≤ the schedule's
///      release through its epochs, and ≤ reserve + claimed; totals never decrease from one
///      active root to the next; an account is never paid more than its cumulative amount.
interface IRewardsDistributor {
    struct Params {
        uint256 e0; // reward token units released in epoch 0 with no fees
        uint256 halvingEpochs; // H: the subsidy halves every H epochs
        uint256 feeTarget; // F*: per-epoch fees (fee token units) at which the subsidy stops
        uint256 feeWindow; // W: epochs the fee average spans
        uint256 activationDelay; // seconds a posted root waits, vetoable, before claims use it
    }

    /// @notice What the quorum signs: a root over epochs 0 .. through − 1 and the fees of the
    ///         epochs it adds (from the previous root's `through` on), under `configVersion`.
    struct RootPost {
        bytes32 root;
        uint256 total; // sum of the tree's cumulative amounts (at most the reserve funded, < 2^96)
        uint256 through; // epochs covered: 0 .. through − 1
        uint256[] fees; // protocol fees of epochs previous.through .. through − 1, in order
        uint256 configVersion; // the AttestationHub's oracle configuration signed under
    }

    /// @notice How the calculator (computerails.rewards.calculator, run by every oracle node)
    ///         splits each epoch's emission. The contract only stores them, so that every node
    ///         reads the same figures from the chain at the same block; roots are checked
    ///         against the schedule, not against these.
    struct CalculatorParams {
        address feeToken; // the payment token whose protocol fees count (usage and the schedule's fees)
        uint256 availabilityBps; // share of each epoch's emission for availability; the rest pays usage
        uint256 washCapBps; // a provider's usage reward ≤ washCapBps/10,000 × its traffic's fees in reward units (< 10,000)
        uint256 settleDelay; // seconds after an epoch ends before its facts (uptime reports) are final
        uint256 rewardPerFee; // reward-token units one fee-token unit is worth, scaled by 1e18
    }

    /// @notice One claim: pays `cumulativeAmount` minus what `account` was already paid.
    struct Claim {
        address account;
        uint256 cumulativeAmount;
        bytes32[] proof;
    }

    /// @notice A root was posted; claims may use it from `activatesAt` unless it is vetoed.
    event RootPosted(
        bytes32 indexed root,
        uint256 total,
        uint256 through,
        uint256 released,
        uint256 feeAverage,
        uint256 activatesAt
    );
    /// @notice A pending root was vetoed by the guardian or an oracle.
    event RootVetoed(bytes32 indexed root, address indexed by, string reason);
    /// @notice `amount` was paid to `recipient` for `account`, whose cumulative payout is now `cumulative`.
    event Claimed(address indexed account, address recipient, uint256 amount, uint256 cumulative);
    /// @notice `claimMany` left out item `index` (nothing paid for it); `reason` is the custom error it would revert with.
    event ClaimSkipped(uint256 index, address indexed account, bytes reason);
    /// @notice `account`'s rewards go to `recipient` from now on.
    event RecipientSet(address indexed account, address indexed recipient);
    /// @notice `funder` added `amount` to the reserve. Reward tokens enter the reserve only
    ///         this way; tokens transferred here directly are not counted.
    event Funded(address indexed funder, uint256 amount);
    event ParamsSet(Params params);
    event CalculatorParamsSet(CalculatorParams params);

    // Shared errors (ZeroAddress, ZeroAmount, EmptyBatch, EpochLengthOutOfRange for the
    // constructor's epoch length) are declared once in libraries/Errors.sol.

    /// @notice e0 is outside its bounds.
    error EmissionOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice halvingEpochs is outside its bounds.
    error HalvingEpochsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice feeTarget is outside its bounds.
    error FeeTargetOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice feeWindow is outside its bounds.
    error FeeWindowOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice activationDelay is outside its bounds (it must end within one epoch).
    error ActivationDelayOutOfRange(uint256 min, uint256 max, uint256 value);

    /// @notice availabilityBps is above 10,000.
    error AvailabilityShareOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice washCapBps must be positive and below 10,000 (washing must lose money).
    error WashCapOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice settleDelay is above its bound.
    error SettleDelayOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice rewardPerFee is outside its bounds.
    error RewardPerFeeOutOfRange(uint256 min, uint256 max, uint256 value);

    /// @notice A root is pending until `activatesAt`: veto it, or wait, before posting the next.
    error RootPending(bytes32 root, uint256 activatesAt, uint256 nowTime);
    /// @notice A root must cover more epochs than the last root not vetoed, and only ended ones.
    error ThroughOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A root must carry one fee figure per epoch it adds.
    error FeesLengthMismatch(uint256 expected, uint256 actual);
    /// @notice The total is below the previous root's (cumulative amounts never decrease).
    error TotalBelowPrevious(uint256 previous, uint256 total);
    /// @notice The total is above what the schedule released through the root's epochs.
    error TotalAboveReleased(uint256 released, uint256 total);
    /// @notice The total is above what the reserve can pay (reserve plus what was claimed).
    error TotalAboveReserve(uint256 fundable, uint256 total);
    /// @notice The root is not the pending one (or was vetoed already).
    error RootNotPending(bytes32 pending, bytes32 root);
    /// @notice The veto window of the pending root closed at `activatesAt`.
    error VetoWindowClosed(bytes32 root, uint256 activatesAt, uint256 nowTime);
    /// @notice Only the guardian or a current oracle may veto.
    error NotGuardianOrOracle(address caller);
    /// @notice No root is active yet.
    error NoActiveRoot();
    /// @notice The proof does not place (account, cumulativeAmount) in the active root.
    error InvalidProof(address account, uint256 cumulativeAmount);
    /// @notice `account` was paid `claimed` already: a cumulative amount must be above it.
    error CumulativeAmountNotAboveClaimed(address account, uint256 claimed, uint256 cumulativeAmount);
    /// @notice Paying this claim would take the claims past the active root's total.
    error ClaimAboveRootTotal(uint256 total, uint256 claimedAfter);

    function postRoot(RootPost calldata post, bytes calldata signatures) external;
    function veto(bytes32 root, string calldata reason) external;
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof) external returns (uint256);
    function claimMany(Claim[] calldata claims) external returns (uint256 paid);
    function setRecipient(address recipient) external;
    function fund(uint256 amount) external;
    function setParams(Params calldata p) external;
    function setCalculatorParams(CalculatorParams calldata p) external;

    function emission(uint256 epoch, uint256 feeAverage) external view returns (uint256);
    function decay(uint256 epoch) external view returns (uint256);
    function currentEpoch() external view returns (uint256);
    function rootDigest(RootPost calldata post) external view returns (bytes32);
    function params() external view returns (Params memory);
    function calculatorParams() external view returns (CalculatorParams memory);
    function claimed(address account) external view returns (uint256);
    function recipientOf(address account) external view returns (address);
    function totalClaimed() external view returns (uint256);
    function funded() external view returns (uint256);
}
