// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {TokenTransfers} from "./libraries/TokenTransfers.sol";

/// @title ProviderStaking
/// @notice Providers bond stake in one ERC-20 set at deploy. Accepted jobs lock part of it as
///         collateral; the protocol's own contracts slash it for failed work and missed uptime.
/// @dev State machine per provider:
///        unregistered --register--> active --slash--> jailed --unjail (stake >= minStake)--> active
///      Stake moves: deposit -> staked -> (requestUnbond) unbonding -> (delay) withdrawn.
///      Slashing takes from `staked` first, then from `unbonding`, and never reverts for lack of
///      stake: it is clamped to what exists. Slashed stake becomes claimable by the beneficiary
///      the slasher names (a job's client, an uptime report's relayer) and by the treasury.
contract ProviderStaking is IProviderStaking, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice May change parameters.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May slash providers: granted to the protocol's own contracts only.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice May lock and release job collateral: granted to the job escrow only.
    bytes32 public constant COLLATERAL_MANAGER_ROLE = keccak256("COLLATERAL_MANAGER_ROLE");

    uint256 internal constant BPS = 10_000;
    /// @notice Upper bound on the unbonding delay governance can set.
    uint256 public constant MAX_UNBONDING_DELAY = 365 days;

    struct Provider {
        // slot 0: everything `lockCollateral` reads and writes
        uint120 staked; // active stake, including `locked`
        uint120 locked; // collateral of accepted jobs; always <= staked
        bool registered; // has called register
        bool jailed; // slashed, not yet unjailed
        // slot 1
        uint120 unbonding; // left active stake, slashable until withdrawn
        uint40 unbondingEnd; // unix time from which `unbonding` can be withdrawn
        // slot 2
        uint128 totalSlashed; // all stake ever slashed
        uint128 totalDeposited; // all stake ever deposited
    }

    /// @inheritdoc IProviderStaking
    address public immutable stakingToken;

    /// @inheritdoc IProviderStaking
    uint256 public minStake;
    /// @inheritdoc IProviderStaking
    uint256 public unbondingDelay;
    /// @inheritdoc IProviderStaking
    address public treasury;

    // One slot for the two totals every slash updates (each is at most the token's supply).
    /// @notice Sum of all providers' active stake.
    uint128 public totalStaked;
    /// @notice Sum of all claimable slash proceeds.
    uint128 public totalClaimable;
    /// @notice Sum of all providers' unbonding stake.
    uint256 public totalUnbonding;

    mapping(address provider => Provider) internal _providers;
    mapping(address provider => string) internal _metadataURIs;
    mapping(address account => uint256) internal _claimable;

    /// @param token_ the staking token
    /// @param admin governance: receives the admin and governor roles
    /// @param treasury_ receives the treasury's share of slashed stake
    /// @param minStake_ the least active stake a provider needs to accept jobs
    /// @param unbondingDelay_ seconds between requestUnbond and withdrawUnbonded
    constructor(address token_, address admin, address treasury_, uint256 minStake_, uint256 unbondingDelay_) {
        if (token_ == address(0) || admin == address(0)) revert ZeroAddress();
        stakingToken = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _setTreasury(treasury_);
        _setMinStake(minStake_);
        _setUnbondingDelay(unbondingDelay_);
    }

    // ─────────────────────────── provider calls ───────────────────────────

    /// @notice Registers the caller as a provider with its first stake.
    /// @param metadataURI where the provider describes its hardware, endpoint and GPU class
    /// @param amount the first stake, at least `minStake`; approve it to this contract first
    /// @custom:constraint once per address
    function register(string calldata metadataURI, uint256 amount) external nonReentrant {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount < minStake) revert StakeBelowMinimum(minStake, amount);
        p.registered = true;
        _metadataURIs[msg.sender] = metadataURI;
        emit ProviderRegistered(msg.sender, metadataURI, amount);
        _deposit(p, amount);
    }

    /// @notice Replaces the caller's metadata URI.
    /// @custom:constraint registered providers only
    function setMetadataURI(string calldata metadataURI) external {
        _requireRegistered(msg.sender);
        _metadataURIs[msg.sender] = metadataURI;
        emit ProviderMetadataUpdated(msg.sender, metadataURI);
    }

    /// @notice Adds to the caller's active stake.
    /// @param amount tokens to add; approve them to this contract first
    /// @custom:constraint registered providers only, at any time (also while jailed)
    function addStake(uint256 amount) external nonReentrant {
        _requireRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _deposit(_providers[msg.sender], amount);
    }

    /// @notice Moves `amount` of free stake into unbonding. It stays slashable until withdrawn.
    /// @dev One pending unbond per provider: a new request adds to it and restarts the delay for
    ///      the whole amount. The end never moves earlier, even if governance lowers the delay.
    /// @param amount stake to unbond; at most `staked - locked`
    /// @custom:constraint the provider itself only: nobody else can touch its queue
    function requestUnbond(uint256 amount) external {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert NotRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 free = p.staked - p.locked;
        if (amount > free) revert InsufficientFreeStake(amount, free);
        uint120 amount120 = uint120(amount); // fits: amount <= free <= type(uint120).max
        p.staked -= amount120;
        p.unbonding += amount120;
        // Never earlier than an end already promised: a lowered delay must not shorten the wait
        // of stake that is already unbonding.
        uint256 end = Math.max(block.timestamp + unbondingDelay, p.unbondingEnd);
        p.unbondingEnd = uint40(end);
        totalStaked -= amount120;
        totalUnbonding += amount;
        emit UnbondRequested(msg.sender, amount, p.unbonding, end);
    }

    /// @notice Withdraws the caller's unbonding stake once the delay has passed.
    /// @return amount the tokens sent to the caller
    /// @custom:constraint the provider itself, from `unbondingEnd` on
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        Provider storage p = _providers[msg.sender];
        amount = p.unbonding;
        if (amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < p.unbondingEnd) revert UnbondingNotElapsed(p.unbondingEnd, block.timestamp);
        p.unbonding = 0;
        p.unbondingEnd = 0;
        totalUnbonding -= amount;
        emit UnbondWithdrawn(msg.sender, amount);
        IERC20(stakingToken).safeTransfer(msg.sender, amount);
    }

    /// @notice Lets a jailed provider accept jobs again.
    /// @custom:constraint the provider itself, once its active stake is back to `minStake`
    function unjail() external {
        Provider storage p = _providers[msg.sender];
        if (!p.jailed) revert ProviderNotJailed(msg.sender);
        if (p.staked < minStake) revert StakeBelowMinimum(minStake, p.staked);
        p.jailed = false;
        emit ProviderUnjailed(msg.sender);
    }

    /// @notice Pays out the caller's share of slashed stake in one transfer.
    /// @return amount the tokens sent
    /// @custom:constraint anyone with a claimable balance; never paused
    function claim() external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender];
        if (amount == 0) revert NothingToClaim(msg.sender);
        _claimable[msg.sender] = 0;
        totalClaimable -= uint128(amount); // fits: amount <= totalClaimable
        emit Claimed(msg.sender, amount);
        IERC20(stakingToken).safeTransfer(msg.sender, amount);
    }

    // ─────────────────────────── protocol calls ───────────────────────────

    /// @notice Locks `amount` of a provider's free stake as a job's collateral.
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the job escrow)
    function lockCollateral(address account, uint256 amount) external onlyRole(COLLATERAL_MANAGER_ROLE) {
        Provider storage p = _providers[account];
        if (!p.registered) revert NotRegistered(account);
        if (p.jailed) revert ProviderIsJailed(account);
        uint256 staked = p.staked;
        if (staked < minStake) revert StakeBelowMinimum(minStake, staked);
        uint256 free = staked - p.locked;
        if (amount > free) revert InsufficientFreeStake(amount, free);
        uint120 locked = p.locked + uint120(amount); // fits: amount <= free
        p.locked = locked;
        emit CollateralLocked(account, amount, locked);
    }

    /// @notice Releases collateral of a job that ended without a slash.
    /// @dev Clamped: a slash may already have cut `locked` down to the remaining stake.
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the job escrow)
    function releaseCollateral(address account, uint256 amount) external onlyRole(COLLATERAL_MANAGER_ROLE) {
        Provider storage p = _providers[account];
        uint120 locked = _release(p, amount);
        emit CollateralReleased(account, amount, locked);
    }

    /// @notice Slashes a provider and jails it.
    /// @dev Takes from active stake first, then from unbonding, clamped to what exists, so it
    ///      never reverts because the provider moved stake first. Of what is slashed,
    ///      `min(slashed * shareBps / 10_000, shareCap)` becomes claimable by `beneficiary`
    ///      and the rest by the treasury.
    /// @param account the provider
    /// @param amount the stake to slash
    /// @param release job collateral to release before slashing (0 for uptime slashes)
    /// @param beneficiary who receives a share (address(0): everything to the treasury)
    /// @param shareBps the beneficiary's share in basis points
    /// @param shareCap the most the beneficiary can receive
    /// @return slashed what was actually taken
    /// @return beneficiaryAmount what the beneficiary can now claim
    /// @custom:constraint SLASHER_ROLE (the protocol's own contracts)
    function slash(
        address account,
        uint256 amount,
        uint256 release,
        address beneficiary,
        uint256 shareBps,
        uint256 shareCap
    ) external onlyRole(SLASHER_ROLE) returns (uint256 slashed, uint256 beneficiaryAmount) {
        if (shareBps > BPS) revert InvalidShareBps(BPS, shareBps);
        Provider storage p = _providers[account];
        if (release != 0) emit CollateralReleased(account, release, _release(p, release));
        (uint256 fromActive, uint256 fromUnbonding) = _take(p, amount);
        slashed = fromActive + fromUnbonding;
        if (beneficiary != address(0)) {
            beneficiaryAmount = slashed * shareBps / BPS;
            if (beneficiaryAmount > shareCap) beneficiaryAmount = shareCap;
        }
        uint256 treasuryAmount = slashed - beneficiaryAmount;
        _credit(beneficiary, beneficiaryAmount);
        _credit(treasury, treasuryAmount);
        emit ProviderSlashed(
            account, beneficiary, amount, fromActive, fromUnbonding, beneficiaryAmount, treasuryAmount
        );
        if (amount != 0 && p.registered && !p.jailed) {
            p.jailed = true;
            emit ProviderJailed(account);
        }
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Sets the least active stake needed to register, accept jobs and unjail.
    /// @custom:constraint GOVERNOR_ROLE
    function setMinStake(uint256 minStake_) external onlyRole(GOVERNOR_ROLE) {
        _setMinStake(minStake_);
    }

    /// @notice Sets the unbonding delay for requests made from now on.
    /// @custom:constraint GOVERNOR_ROLE; at most MAX_UNBONDING_DELAY
    function setUnbondingDelay(uint256 delay) external onlyRole(GOVERNOR_ROLE) {
        _setUnbondingDelay(delay);
    }

    /// @notice Sets who receives the treasury's share of future slashes.
    /// @custom:constraint GOVERNOR_ROLE
    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        _setTreasury(treasury_);
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @inheritdoc IProviderStaking
    function providerInfo(address account) external view returns (ProviderView memory v) {
        Provider storage p = _providers[account];
        v.registered = p.registered;
        v.jailed = p.jailed;
        v.staked = p.staked;
        v.locked = p.locked;
        v.free = p.staked - p.locked;
        v.unbonding = p.unbonding;
        v.unbondingEnd = p.unbondingEnd;
        v.totalSlashed = p.totalSlashed;
        v.totalDeposited = p.totalDeposited;
        v.metadataURI = _metadataURIs[account];
    }

    /// @notice Whether the provider can accept jobs now: registered, not jailed, stake >= minStake.
    function isActive(address account) external view returns (bool) {
        Provider storage p = _providers[account];
        return p.registered && !p.jailed && p.staked >= minStake;
    }

    /// @notice Whether the account has registered as a provider.
    function isRegistered(address account) external view returns (bool) {
        return _providers[account].registered;
    }

    /// @notice Active stake (including locked collateral).
    function stakeOf(address account) external view returns (uint256) {
        return _providers[account].staked;
    }

    /// @notice Everything a slash can still reach: active plus unbonding stake.
    function slashableStake(address account) external view returns (uint256) {
        Provider storage p = _providers[account];
        return uint256(p.staked) + p.unbonding;
    }

    /// @notice Slash proceeds `account` can claim.
    function claimable(address account) external view returns (uint256) {
        return _claimable[account];
    }

    // ─────────────────────────────── internals ───────────────────────────────

    function _requireRegistered(address account) internal view {
        if (!_providers[account].registered) revert NotRegistered(account);
    }

    function _deposit(Provider storage p, uint256 amount) internal {
        uint256 staked = p.staked + amount;
        if (staked > type(uint120).max) revert AmountTooLarge(type(uint120).max - p.staked, amount);
        p.staked = uint120(staked);
        p.totalDeposited += amount.toUint128();
        totalStaked += uint128(amount); // fits: amount <= type(uint120).max
        emit StakeAdded(msg.sender, amount, staked);
        TokenTransfers.pullExact(IERC20(stakingToken), amount);
    }

    function _release(Provider storage p, uint256 amount) internal returns (uint120 locked) {
        locked = p.locked;
        locked = amount >= locked ? 0 : locked - uint120(amount);
        p.locked = locked;
    }

    /// @dev Takes up to `amount`: active stake first, then unbonding. Keeps locked <= staked.
    function _take(Provider storage p, uint256 amount) internal returns (uint256 fromActive, uint256 fromUnbonding) {
        uint256 staked = p.staked;
        fromActive = amount < staked ? amount : staked;
        uint256 rest = amount - fromActive;
        uint256 unbonding = p.unbonding;
        fromUnbonding = rest < unbonding ? rest : unbonding;
        if (fromActive != 0) {
            uint120 newStaked = uint120(staked - fromActive);
            p.staked = newStaked;
            if (p.locked > newStaked) p.locked = newStaked;
            totalStaked -= uint128(fromActive); // fits: fromActive <= staked
        }
        if (fromUnbonding != 0) {
            p.unbonding = uint120(unbonding - fromUnbonding);
            totalUnbonding -= fromUnbonding;
        }
        uint256 slashed = fromActive + fromUnbonding;
        if (slashed != 0) p.totalSlashed += uint128(slashed);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        _claimable[account] += amount;
        totalClaimable += uint128(amount); // fits: amount <= what was slashed
    }

    function _setMinStake(uint256 minStake_) internal {
        if (minStake_ > type(uint120).max) revert AmountTooLarge(type(uint120).max, minStake_);
        minStake = minStake_;
        emit MinStakeSet(minStake_);
    }

    function _setUnbondingDelay(uint256 delay) internal {
        if (delay > MAX_UNBONDING_DELAY) revert UnbondingDelayTooLong(MAX_UNBONDING_DELAY, delay);
        unbondingDelay = delay;
        emit UnbondingDelaySet(delay);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
