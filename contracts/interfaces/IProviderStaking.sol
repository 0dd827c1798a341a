// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IProviderStaking
/// @notice Compute providers bond an ERC-20 stake that backs their jobs. Stake that is unbonding
///         stays slashable until it is withdrawn after the unbonding delay.
/// @dev Collateral is an obligation. The rules, per provider:
///      - `locked` is the sum of the collateral of its live jobs and of the stake its metered
///        collections lock for their dispute window. Only its owner changes a part of it: a job's
///        own outcome (`releaseCollateral` when the job ends without a slash, `slashCollateral`
///        when it fails, which takes exactly that job's collateral, never more or less), and the
///        MeteredEscrow for its locks (`adjustCollateral` as windows end, `slashForFraud` for a
///        proven wrong answer, which takes from that lock, then free stake).
///      - An uptime slash (`slash`) takes free stake (`staked - locked`) first, then unbonding
///        stake. It never takes locked stake: what it would have had to take from there is
///        recorded as `shortfall`, a debt the provider owes the treasury.
///      - A shortfall blocks every exit (`requestUnbond`, `withdrawUnbonded`) and every new job
///        (the slash jails the provider and `unjail` needs the shortfall repaid). Any stake that
///        becomes free pays it first: a top-up (`addStake`), or collateral a finished job
///        releases.
///      Invariants: `locked <= staked` always; `shortfall > 0` implies the provider is jailed and
///      has no free and no unbonding stake; a failed job's client receives exactly
///      `collateral * clientSlashShareBps / 10_000` of the job's collateral.
///      Contract-wide: stakingToken.balanceOf(this) >= totalStaked + totalUnbonding + totalClaimable.
///
///      Uptime SLA: reports apply to epochs that start at or after `slaFrom` (registration, or the
///      last unjail from a downtime jail) and before `leftAt` (when the provider called `leave`).
///      A provider jailed for downtime is not slashed for downtime again until it unjails.
interface IProviderStaking {
    /// @notice What a dashboard needs to know about one provider.
    struct ProviderView {
        bool registered; // has called register
        bool jailed; // slashed and not yet unjailed: cannot accept jobs
        bool jailedForDowntime; // jailed by an uptime slash: the SLA is suspended until unjail
        bool left; // called leave: takes no new jobs, the SLA ends with the epoch it left in
        uint256 staked; // active stake, including `locked`
        uint256 locked; // collateral held by live jobs (part of `staked`)
        uint256 free; // staked - locked: what can be unbonded or locked by a new job
        uint256 unbonding; // left active stake, still slashable, withdrawable at `unbondingEnd`
        uint256 unbondingEnd; // unix time at which `unbonding` becomes withdrawable
        uint256 shortfall; // uptime slash owed but not taken, because only locked stake was left
        uint256 slaFrom; // the SLA applies to epochs starting at or after this time
        uint256 leftAt; // when the provider left (0: it has not)
        uint256 totalSlashed; // all stake ever slashed from this provider
        uint256 totalDeposited; // all stake ever deposited by this provider
        string metadataURI; // hardware, endpoint, GPU class
    }

    // ───────────────────────────── events ─────────────────────────────

    event ProviderRegistered(address indexed provider, string metadataURI, uint256 amount);
    event ProviderMetadataUpdated(address indexed provider, string metadataURI);
    event StakeAdded(address indexed provider, uint256 amount, uint256 staked);
    event UnbondRequested(address indexed provider, uint256 amount, uint256 unbonding, uint256 unbondingEnd);
    event UnbondWithdrawn(address indexed provider, uint256 amount);
    event CollateralLocked(address indexed provider, uint256 amount, uint256 locked);
    /// @param amount the collateral released (exactly what the job had locked)
    /// @param locked what the provider's live jobs still lock
    event CollateralReleased(address indexed provider, uint256 amount, uint256 locked);
    /// @notice A failed job's collateral was slashed.
    /// @param beneficiary the job's client (address(0) when it is the provider itself)
    event CollateralSlashed(
        address indexed provider,
        address indexed beneficiary,
        uint256 amount,
        uint256 beneficiaryAmount,
        uint256 treasuryAmount
    );
    /// @notice An uptime slash.
    /// @param requested what the slasher asked for
    /// @param fromFree what was taken from free stake
    /// @param fromUnbonding what was taken from unbonding stake
    /// @param deferred what is owed as shortfall instead of being taken from locked stake
    /// @param beneficiary who received `beneficiaryAmount` (the rest went to the treasury)
    event ProviderSlashed(
        address indexed provider,
        address indexed beneficiary,
        uint256 requested,
        uint256 fromFree,
        uint256 fromUnbonding,
        uint256 deferred,
        uint256 beneficiaryAmount,
        uint256 treasuryAmount
    );
    /// @notice A proven wrong answer was slashed (see `slashForFraud`).
    /// @param beneficiary the wronged payer (address(0) when it is the provider itself)
    event FraudSlashed(
        address indexed provider,
        address indexed beneficiary,
        uint256 amount,
        uint256 fromLocked,
        uint256 beneficiaryAmount
    );
    /// @notice Stake that became free paid (part of) a shortfall to the treasury.
    event ShortfallPaid(address indexed provider, uint256 amount, uint256 remaining);
    /// @param forDowntime true when an uptime slash jailed it (the SLA is suspended)
    event ProviderJailed(address indexed provider, bool forDowntime);
    /// @param slaFrom the SLA applies to epochs starting at or after this time
    event ProviderUnjailed(address indexed provider, uint256 slaFrom);
    event ProviderLeft(address indexed provider, uint256 leftAt);
    event Claimed(address indexed account, uint256 amount);
    event MinStakeSet(uint256 minStake);
    event UnbondingDelaySet(uint256 unbondingDelay);
    event ReportWindowSet(address indexed slasher, uint256 reportWindow);
    event TreasurySet(address treasury);

    // ───────────────────────────── errors ─────────────────────────────

    // Shared errors this contract also reverts with (ZeroAddress, ZeroAmount, BpsOutOfRange for a
    // slash's beneficiary share) are declared once in libraries/Errors.sol, which states the
    // convention: expected or bound first, actual last; a parameter out of range reverts
    // <Name>OutOfRange(min, max, value), bounds inclusive.

    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error StakeBelowMinimum(uint256 minStake, uint256 stake);
    /// @notice The amount asked for (to unbond, or to lock as a job's collateral) exceeds free stake.
    /// @param free staked - locked
    /// @param requested the amount asked for
    error InsufficientFreeStake(uint256 free, uint256 requested);
    error NothingUnbonding(address provider);
    error UnbondingNotElapsed(uint256 unbondingEnd, uint256 nowTime);
    error ProviderIsJailed(address provider);
    error ProviderNotJailed(address provider);
    error ProviderHasLeft(address provider);
    error NothingToClaim(address account);
    /// @notice The unbonding delay must lie in [reportWindow + 1, MAX_UNBONDING_DELAY] (from 0
    ///         while no report window is declared): above the report window, or stake could leave
    ///         before a report that is still on time reaches it.
    /// @param value the delay asked for; from `setReportWindow`, the current delay that the
    ///        declared window would reach
    error UnbondingDelayOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice A deposit would take the provider's stake (or minStake) past what 120 bits hold.
    /// @param max the most that fits
    /// @param amount the amount given
    error AmountTooLarge(uint256 max, uint256 amount);
    /// @notice The provider owes an uptime slash it has not paid: top up first.
    error ShortfallOutstanding(address provider, uint256 shortfall);
    /// @notice A collateral manager released or slashed more than the provider has locked.
    error CollateralNotLocked(uint256 locked, uint256 amount);

    // ─────────────────────────── provider calls ───────────────────────────

    function register(string calldata metadataURI, uint256 amount) external;
    function setMetadataURI(string calldata metadataURI) external;
    function addStake(uint256 amount) external;
    function requestUnbond(uint256 amount) external;
    function withdrawUnbonded() external returns (uint256 amount);
    function unjail() external;
    function leave() external;
    function claim() external returns (uint256 amount);

    // ─────────────────────────── protocol calls ───────────────────────────

    function lockCollateral(address provider, uint256 amount) external;
    function releaseCollateral(address provider, uint256 amount) external;
    function slashCollateral(
        address provider,
        uint256 amount,
        address beneficiary,
        uint256 shareBps
    ) external returns (uint256 beneficiaryAmount);
    function slash(
        address provider,
        uint256 amount,
        address beneficiary,
        uint256 shareBps,
        uint256 shareCap
    ) external returns (uint256 slashed, uint256 beneficiaryAmount);
    function adjustCollateral(address provider, uint256 releaseAmount, uint256 lockAmount) external;
    function slashForFraud(
        address provider,
        uint256 lockedAvailable,
        uint256 penaltyBps,
        address beneficiary,
        uint256 shareBps
    ) external returns (uint256 slashed, uint256 fromLocked, uint256 beneficiaryAmount);
    function setReportWindow(uint256 reportWindow) external;

    // ─────────────────────────────── views ───────────────────────────────

    function providerInfo(address account) external view returns (ProviderView memory);
    function uptimeStatus(
        address account
    ) external view returns (bool registered, bool slaSuspended, uint256 slashable, uint256 slaFrom, uint256 leftAt);
    function isActive(address account) external view returns (bool);
    function isRegistered(address account) external view returns (bool);
    function stakeOf(address account) external view returns (uint256);
    function slashableStake(address account) external view returns (uint256);
    function lockable(address account, uint256 releaseAmount) external view returns (uint256);
    function claimable(address account) external view returns (uint256);
    function minStake() external view returns (uint256);
    function unbondingDelay() external view returns (uint256);
    function reportWindow() external view returns (uint256);
    function treasury() external view returns (address);
    function stakingToken() external view returns (address);
}
