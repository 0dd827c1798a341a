// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IProviderStaking
/// @notice Compute providers bond an ERC-20 stake that backs their jobs. Stake that is unbonding
///         stays slashable until it is withdrawn after the unbonding delay.
/// @dev Accounting invariant, per provider: `locked <= staked`; contract-wide:
///      stakingToken.balanceOf(this) >= totalStaked + totalUnbonding + totalClaimable.
interface IProviderStaking {
    /// @notice What a dashboard needs to know about one provider.
    struct ProviderView {
        bool registered; // has called register
        bool jailed; // slashed and not yet unjailed: cannot accept jobs
        uint256 staked; // active stake, including `locked`
        uint256 locked; // collateral held by accepted jobs (part of `staked`)
        uint256 free; // staked - locked: what can be unbonded or locked by a new job
        uint256 unbonding; // left active stake, still slashable, withdrawable at `unbondingEnd`
        uint256 unbondingEnd; // unix time at which `unbonding` becomes withdrawable
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
    event CollateralReleased(address indexed provider, uint256 amount, uint256 locked);
    /// @param requested what the slasher asked for
    /// @param fromActive what was taken from active stake
    /// @param fromUnbonding what was taken from unbonding stake
    /// @param beneficiary who received `beneficiaryAmount` (the rest went to the treasury)
    event ProviderSlashed(
        address indexed provider,
        address indexed beneficiary,
        uint256 requested,
        uint256 fromActive,
        uint256 fromUnbonding,
        uint256 beneficiaryAmount,
        uint256 treasuryAmount
    );
    event ProviderJailed(address indexed provider);
    event ProviderUnjailed(address indexed provider);
    event Claimed(address indexed account, uint256 amount);
    event MinStakeSet(uint256 minStake);
    event UnbondingDelaySet(uint256 unbondingDelay);
    event TreasurySet(address treasury);

    // ───────────────────────────── errors ─────────────────────────────

    error ZeroAddress();
    error ZeroAmount();
    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error StakeBelowMinimum(uint256 minStake, uint256 stake);
    error InsufficientFreeStake(uint256 requested, uint256 free);
    error NothingUnbonding(address provider);
    error UnbondingNotElapsed(uint256 unbondingEnd, uint256 nowTime);
    error ProviderIsJailed(address provider);
    error ProviderNotJailed(address provider);
    error NothingToClaim(address account);
    error InvalidShareBps(uint256 maxBps, uint256 bps);
    error UnbondingDelayTooLong(uint256 maxDelay, uint256 delay);
    error AmountTooLarge(uint256 max, uint256 amount);

    // ─────────────────────────── provider calls ───────────────────────────

    function register(string calldata metadataURI, uint256 amount) external;
    function setMetadataURI(string calldata metadataURI) external;
    function addStake(uint256 amount) external;
    function requestUnbond(uint256 amount) external;
    function withdrawUnbonded() external returns (uint256 amount);
    function unjail() external;
    function claim() external returns (uint256 amount);

    // ─────────────────────────── protocol calls ───────────────────────────

    function lockCollateral(address provider, uint256 amount) external;
    function releaseCollateral(address provider, uint256 amount) external;
    function slash(address provider, uint256 amount, uint256 release, address beneficiary, uint256 shareBps, uint256 shareCap)
        external
        returns (uint256 slashed, uint256 beneficiaryAmount);

    // ─────────────────────────────── views ───────────────────────────────

    function providerInfo(address account) external view returns (ProviderView memory);
    function isActive(address account) external view returns (bool);
    function isRegistered(address account) external view returns (bool);
    function stakeOf(address account) external view returns (uint256);
    function slashableStake(address account) external view returns (uint256);
    function claimable(address account) external view returns (uint256);
    function minStake() external view returns (uint256);
    function unbondingDelay() external view returns (uint256);
    function treasury() external view returns (address);
    function stakingToken() external view returns (address);
}
