// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {BpsOutOfRange, ZeroAddress, ZeroAmount} from "./libraries/Errors.sol";
import {TokenTransfers} from "./libraries/TokenTransfers.sol";

/// @title ProviderStaking
/// @notice Providers bond stake in one ERC-20 set at deploy. Accepted jobs lock part of it as
///         collateral; the protocol's own contracts slash it for failed work and missed uptime.
/// @dev State machine per provider:
///        unregistered --register--> active --slash--> jailed --unjail--> active
///        active|jailed --leave--> left (no new jobs; the SLA ends with the epoch it left in)
///      Stake moves: deposit -> staked -> (requestUnbond) unbonding -> (delay) withdrawn.
///      Locked collateral is an obligation (see {IProviderStaking}): only its own job's slash
///      takes it; an uptime slash takes free, then unbonding stake, and records the rest as a
///      shortfall that blocks exits and new jobs until stake that becomes free pays it.
contract ProviderStaking is IProviderStaking, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice May change parameters.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May slash free and unbonding stake for missed uptime: the UptimeSlasher only.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice May lock, release and slash collateral: the JobEscrow (job collateral) and the
    ///         MeteredEscrow (stake locked per collection, fraud slashes).
    bytes32 public constant COLLATERAL_MANAGER_ROLE = keccak256("COLLATERAL_MANAGER_ROLE");

    uint256 internal constant BPS = 10_000;
    /// @notice Upper bound on the unbonding delay governance can set.
    uint256 public constant MAX_UNBONDING_DELAY = 365 days;

    // Provider flags: why it is jailed (a failed job, missed uptime, or both) and whether it left.
    uint8 internal constant JAILED_FOR_WORK = 1;
    uint8 internal constant JAILED_FOR_DOWNTIME = 2;
    uint8 internal constant JAILED = JAILED_FOR_WORK | JAILED_FOR_DOWNTIME;
    uint8 internal constant LEFT = 4;

    struct Provider {
        // slot 0: everything `lockCollateral` reads and writes
        uint120 staked; // active stake, including `locked`; always >= locked
        uint120 locked; // collateral of live jobs: an obligation, changed only by those jobs
        bool registered; // has called register
        uint8 flags; // JAILED_FOR_WORK | JAILED_FOR_DOWNTIME | LEFT
        // slot 1
        uint120 unbonding; // left active stake, slashable until withdrawn
        uint40 unbondingEnd; // unix time from which `unbonding` can be withdrawn
        uint40 slaFrom; // the SLA applies to epochs starting at or after this time
        uint40 leftAt; // when the provider left (0: it has not)
        // slot 2
        uint128 totalSlashed; // all stake ever slashed (shortfall counts once paid)
        uint128 totalDeposited; // all stake ever deposited
        // slot 3: read only when a downtime jail says there may be one
        uint128 shortfall; // uptime slash owed but not taken, because only locked stake was left
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
    /// @notice Seconds from the start of an epoch to the last moment a report on it can land,
    ///         as the uptime slasher last declared it; the unbonding delay must exceed it.
    uint256 public reportWindow;

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
    /// @dev The uptime SLA applies from the first epoch that starts after registration.
    /// @param metadataURI where the provider describes its hardware, endpoint and GPU class
    /// @param amount the first stake, at least `minStake`; approve it to this contract first
    /// @custom:constraint once per address
    function register(string calldata metadataURI, uint256 amount) external nonReentrant {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount < minStake) revert StakeBelowMinimum(minStake, amount);
        p.registered = true;
        p.slaFrom = uint40(block.timestamp);
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

    /// @notice Adds to the caller's active stake. A shortfall is paid from it first.
    /// @param amount tokens to add; approve them to this contract first
    /// @custom:constraint registered providers only, at any time (also while jailed or left)
    function addStake(uint256 amount) external nonReentrant {
        _requireRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _providers[msg.sender];
        _deposit(p, amount);
        _payShortfall(msg.sender, p);
    }

    /// @notice Moves `amount` of free stake into unbonding. It stays slashable until withdrawn.
    /// @dev One pending unbond per provider: a new request adds to it and restarts the delay for
    ///      the whole amount. The end never moves earlier, even if governance lowers the delay.
    /// @param amount stake to unbond; at most `staked - locked`
    /// @custom:constraint the provider itself only, with no shortfall outstanding
    function requestUnbond(uint256 amount) external {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert NotRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _requireNoShortfall(msg.sender, p);
        uint256 free = p.staked - p.locked;
        if (amount > free) revert InsufficientFreeStake(free, amount);
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
    /// @custom:constraint the provider itself, from `unbondingEnd` on, with no shortfall outstanding
    function withdrawUnbonded() external nonReentrant returns (uint256 amount) {
        Provider storage p = _providers[msg.sender];
        _requireNoShortfall(msg.sender, p);
        amount = p.unbonding;
        if (amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < p.unbondingEnd) revert UnbondingNotElapsed(p.unbondingEnd, block.timestamp);
        p.unbonding = 0;
        p.unbondingEnd = 0;
        totalUnbonding -= amount;
        emit UnbondWithdrawn(msg.sender, amount);
        IERC20(stakingToken).safeTransfer(msg.sender, amount);
    }

    /// @notice Lets a jailed provider accept jobs again. After a downtime jail the SLA applies
    ///         again to epochs that start after this call.
    /// @custom:constraint the provider itself, with no shortfall and active stake >= `minStake`
    function unjail() external {
        Provider storage p = _providers[msg.sender];
        uint8 flags = p.flags;
        if (flags & JAILED == 0) revert ProviderNotJailed(msg.sender);
        _requireNoShortfall(msg.sender, p);
        if (p.staked < minStake) revert StakeBelowMinimum(minStake, p.staked);
        p.flags = flags & ~JAILED;
        if (flags & JAILED_FOR_DOWNTIME != 0) p.slaFrom = uint40(block.timestamp);
        emit ProviderUnjailed(msg.sender, p.slaFrom);
    }

    /// @notice Stops taking new jobs for good. The uptime SLA ends with the epoch the provider
    ///         leaves in: misses before stay slashable within the reporting window. Live jobs run
    ///         to their end; stake unbonds as usual.
    /// @custom:constraint a registered provider that has not left yet
    function leave() external {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert NotRegistered(msg.sender);
        if (p.flags & LEFT != 0) revert ProviderHasLeft(msg.sender);
        p.flags |= LEFT;
        p.leftAt = uint40(block.timestamp);
        emit ProviderLeft(msg.sender, block.timestamp);
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
        uint8 flags = p.flags;
        // A shortfall always comes with a downtime jail, so the jail check refuses it too.
        if (flags & JAILED != 0) revert ProviderIsJailed(account);
        if (flags & LEFT != 0) revert ProviderHasLeft(account);
        uint256 staked = p.staked;
        if (staked < minStake) revert StakeBelowMinimum(minStake, staked);
        uint256 free = staked - p.locked;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        uint120 locked = p.locked + uint120(amount); // fits: amount <= free
        p.locked = locked;
        emit CollateralLocked(account, amount, locked);
    }

    /// @notice Releases the collateral of a job that ended without a slash. Stake it frees pays
    ///         any shortfall first.
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the job escrow); at most what is locked
    function releaseCollateral(address account, uint256 amount) external onlyRole(COLLATERAL_MANAGER_ROLE) {
        Provider storage p = _providers[account];
        uint120 locked = _unlock(p, amount);
        emit CollateralReleased(account, amount, locked);
        _payShortfall(account, p);
    }

    /// @notice Slashes exactly a failed job's collateral and jails the provider. Of it,
    ///         `amount * shareBps / 10_000` becomes claimable by `beneficiary` (the job's client)
    ///         and the rest by the treasury.
    /// @dev The collateral is part of `locked`, which is never below it, so the full amount is
    ///      always there: the client's share never depends on what else happened to the stake.
    ///      A provider is never a beneficiary of its own slash: its share goes to the treasury.
    /// @param account the provider
    /// @param amount the job's collateral
    /// @param beneficiary the job's client
    /// @param shareBps the client's share in basis points
    /// @return beneficiaryAmount what the beneficiary can now claim
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the job escrow); at most what is locked
    function slashCollateral(
        address account,
        uint256 amount,
        address beneficiary,
        uint256 shareBps
    ) external onlyRole(COLLATERAL_MANAGER_ROLE) returns (uint256 beneficiaryAmount) {
        if (shareBps > BPS) revert BpsOutOfRange(0, BPS, shareBps);
        Provider storage p = _providers[account];
        _unlock(p, amount);
        if (amount != 0) {
            p.staked -= uint120(amount); // fits and cannot underflow: amount <= locked <= staked
            p.totalSlashed += uint128(amount);
            totalStaked -= uint128(amount);
        }
        uint256 treasuryAmount;
        (beneficiary, beneficiaryAmount, treasuryAmount) = _share(account, amount, beneficiary, shareBps);
        emit CollateralSlashed(account, beneficiary, amount, beneficiaryAmount, treasuryAmount);
        if (amount != 0) _jail(account, p, JAILED_FOR_WORK);
    }

    /// @notice Releases `releaseAmount` of locked stake, then locks `lockAmount` of free stake, in
    ///         one call: a metered collection's stake lock, and the expired locks it rolls off.
    /// @dev Unlike `lockCollateral` it checks neither jail, departure nor minimum stake: the lock
    ///      backs answers already served and paid for, so it must be possible whenever free stake
    ///      covers it. Released stake pays any shortfall first, as `releaseCollateral` does.
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the metered escrow); `releaseAmount` at most
    ///         what is locked, `lockAmount` at most free stake after the release
    function adjustCollateral(
        address account,
        uint256 releaseAmount,
        uint256 lockAmount
    ) external onlyRole(COLLATERAL_MANAGER_ROLE) {
        Provider storage p = _providers[account];
        if (releaseAmount != 0) {
            uint120 left = _unlock(p, releaseAmount);
            emit CollateralReleased(account, releaseAmount, left);
            _payShortfall(account, p);
        }
        if (lockAmount == 0) return;
        // A stranger has no stake: free is 0 and the check below refuses it.
        uint256 free = p.staked - p.locked;
        if (lockAmount > free) revert InsufficientFreeStake(free, lockAmount);
        uint120 locked = p.locked + uint120(lockAmount); // fits: lockAmount <= free
        p.locked = locked;
        emit CollateralLocked(account, lockAmount, locked);
    }

    /// @notice Slashes a provider for a proven wrong answer and jails it (for work). The penalty
    ///         is `penaltyBps` of what backs its answers: `lockedAvailable` (the caller's own
    ///         lock) and free stake; it is taken in that order. Of what is taken, `shareBps`
    ///         becomes claimable by `beneficiary` (the wronged payer; never the provider itself)
    ///         and the rest by the treasury.
    /// @dev Never touches other locked stake (job collateral), never records a shortfall.
    /// @return slashed what was taken
    /// @return fromLocked the part of `slashed` taken from `lockedAvailable` (no longer locked)
    /// @return beneficiaryAmount what the beneficiary can now claim
    /// @custom:constraint COLLATERAL_MANAGER_ROLE (the metered escrow); `lockedAvailable` at most
    ///         what is locked
    function slashForFraud(
        address account,
        uint256 lockedAvailable,
        uint256 penaltyBps,
        address beneficiary,
        uint256 shareBps
    )
        external
        onlyRole(COLLATERAL_MANAGER_ROLE)
        returns (uint256 slashed, uint256 fromLocked, uint256 beneficiaryAmount)
    {
        if (penaltyBps > BPS) revert BpsOutOfRange(0, BPS, penaltyBps);
        if (shareBps > BPS) revert BpsOutOfRange(0, BPS, shareBps);
        Provider storage p = _providers[account];
        uint256 locked = p.locked;
        if (lockedAvailable > locked) revert CollateralNotLocked(locked, lockedAvailable);
        uint256 staked = p.staked;
        uint256 free = staked - locked;
        slashed = ((lockedAvailable + free) * penaltyBps) / BPS;
        fromLocked = slashed < lockedAvailable ? slashed : lockedAvailable;
        if (slashed != 0) {
            p.locked = uint120(locked - fromLocked);
            p.staked = uint120(staked - slashed); // fits: slashed <= lockedAvailable + free <= staked
            totalStaked -= uint128(slashed);
            p.totalSlashed += uint128(slashed);
        }
        (beneficiary, beneficiaryAmount, ) = _share(account, slashed, beneficiary, shareBps);
        emit FraudSlashed(account, beneficiary, slashed, fromLocked, beneficiaryAmount);
        _jail(account, p, JAILED_FOR_WORK);
    }

    /// @notice What `adjustCollateral(account, releaseAmount, x)` could lock: free stake after
    ///         releasing `releaseAmount` and paying any shortfall from it (0 for a stranger).
    function lockable(address account, uint256 releaseAmount) external view returns (uint256) {
        Provider storage p = _providers[account];
        uint256 free = p.staked - p.locked + releaseAmount;
        if (p.flags & JAILED_FOR_DOWNTIME == 0) return free;
        uint256 owed = p.shortfall;
        return owed < free ? free - owed : 0;
    }

    /// @notice Slashes a provider for missed uptime and jails it (for downtime).
    /// @dev Takes free stake first, then unbonding stake, so that moving stake into unbonding
    ///      shields nothing. It never takes locked stake: the part it would need from there is
    ///      added to the provider's shortfall instead, paid by the next stake that becomes free.
    ///      Never reverts for lack of stake. Of what is taken now,
    ///      `min(taken * shareBps / 10_000, shareCap)` becomes claimable by `beneficiary` (never
    ///      the provider itself) and the rest by the treasury; a later shortfall payment goes to
    ///      the treasury.
    /// @param account the provider
    /// @param amount the stake to slash
    /// @param beneficiary who receives a share (address(0): everything to the treasury)
    /// @param shareBps the beneficiary's share in basis points
    /// @param shareCap the most the beneficiary can receive
    /// @return slashed what was taken now
    /// @return beneficiaryAmount what the beneficiary can now claim
    /// @custom:constraint SLASHER_ROLE (the uptime slasher)
    function slash(
        address account,
        uint256 amount,
        address beneficiary,
        uint256 shareBps,
        uint256 shareCap
    ) external onlyRole(SLASHER_ROLE) returns (uint256 slashed, uint256 beneficiaryAmount) {
        if (shareBps > BPS) revert BpsOutOfRange(0, BPS, shareBps);
        Provider storage p = _providers[account];
        (uint256 fromFree, uint256 fromUnbonding, uint256 deferred) = _take(p, amount);
        slashed = fromFree + fromUnbonding;
        if (beneficiary == account) beneficiary = address(0);
        if (beneficiary != address(0)) {
            beneficiaryAmount = (slashed * shareBps) / BPS;
            if (beneficiaryAmount > shareCap) beneficiaryAmount = shareCap;
        }
        uint256 treasuryAmount = slashed - beneficiaryAmount;
        _credit(beneficiary, beneficiaryAmount);
        _credit(treasury, treasuryAmount);
        emit ProviderSlashed(
            account,
            beneficiary,
            amount,
            fromFree,
            fromUnbonding,
            deferred,
            beneficiaryAmount,
            treasuryAmount
        );
        if (amount != 0) _jail(account, p, JAILED_FOR_DOWNTIME);
    }

    /// @notice Declares the caller's report window: the longest time from the start of an epoch
    ///         until a report on it can still land. The unbonding delay must exceed it.
    /// @custom:constraint SLASHER_ROLE (the uptime slasher declares its own window)
    function setReportWindow(uint256 window) external onlyRole(SLASHER_ROLE) {
        uint256 delay = unbondingDelay;
        if (delay <= window) revert UnbondingDelayOutOfRange(window + 1, MAX_UNBONDING_DELAY, delay);
        reportWindow = window;
        emit ReportWindowSet(msg.sender, window);
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Sets the least active stake needed to register, accept jobs and unjail.
    /// @custom:constraint GOVERNOR_ROLE
    function setMinStake(uint256 minStake_) external onlyRole(GOVERNOR_ROLE) {
        _setMinStake(minStake_);
    }

    /// @notice Sets the unbonding delay for requests made from now on.
    /// @custom:constraint GOVERNOR_ROLE; above `reportWindow` and at most MAX_UNBONDING_DELAY
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
        uint8 flags = p.flags;
        v.registered = p.registered;
        v.jailed = flags & JAILED != 0;
        v.jailedForDowntime = flags & JAILED_FOR_DOWNTIME != 0;
        v.left = flags & LEFT != 0;
        v.staked = p.staked;
        v.locked = p.locked;
        v.free = p.staked - p.locked;
        v.unbonding = p.unbonding;
        v.unbondingEnd = p.unbondingEnd;
        v.shortfall = p.shortfall;
        v.slaFrom = p.slaFrom;
        v.leftAt = p.leftAt;
        v.totalSlashed = p.totalSlashed;
        v.totalDeposited = p.totalDeposited;
        v.metadataURI = _metadataURIs[account];
    }

    /// @notice What an uptime report needs to know, in one call.
    /// @return registered whether the account is a provider
    /// @return slaSuspended jailed for downtime: not slashed for downtime again until it unjails
    /// @return slashable active plus unbonding stake
    /// @return slaFrom the SLA applies to epochs starting at or after this time
    /// @return leftAt the SLA applies to epochs starting before this time (0: no end)
    function uptimeStatus(
        address account
    ) external view returns (bool registered, bool slaSuspended, uint256 slashable, uint256 slaFrom, uint256 leftAt) {
        Provider storage p = _providers[account];
        return (p.registered, p.flags & JAILED_FOR_DOWNTIME != 0, uint256(p.staked) + p.unbonding, p.slaFrom, p.leftAt);
    }

    /// @notice Whether the provider can accept jobs now: registered, not jailed, not left and
    ///         stake >= minStake.
    function isActive(address account) external view returns (bool) {
        Provider storage p = _providers[account];
        return p.registered && p.flags == 0 && p.staked >= minStake;
    }

    /// @notice Whether the account has registered as a provider.
    function isRegistered(address account) external view returns (bool) {
        return _providers[account].registered;
    }

    /// @notice Active stake (including locked collateral).
    function stakeOf(address account) external view returns (uint256) {
        return _providers[account].staked;
    }

    /// @notice Active plus unbonding stake: what an uptime slash is computed on.
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

    function _requireNoShortfall(address account, Provider storage p) internal view {
        uint256 shortfall = p.shortfall;
        if (shortfall != 0) revert ShortfallOutstanding(account, shortfall);
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

    /// @dev Unlocks exactly `amount` of collateral, or reverts: a manager can only give back
    ///      what it locked.
    function _unlock(Provider storage p, uint256 amount) internal returns (uint120 locked) {
        locked = p.locked;
        if (amount > locked) revert CollateralNotLocked(locked, amount);
        locked -= uint120(amount);
        p.locked = locked;
    }

    /// @dev Pays the shortfall, as far as free stake allows, to the treasury. Only a provider
    ///      jailed for downtime can owe one, so others skip the read.
    function _payShortfall(address account, Provider storage p) internal {
        if (p.flags & JAILED_FOR_DOWNTIME == 0) return;
        uint256 owed = p.shortfall;
        if (owed == 0) return;
        uint256 free = p.staked - p.locked;
        uint256 paid = owed < free ? owed : free;
        if (paid == 0) return;
        p.shortfall = uint128(owed - paid);
        p.staked -= uint120(paid); // fits: paid <= free
        p.totalSlashed += uint128(paid);
        totalStaked -= uint128(paid);
        _credit(treasury, paid);
        emit ShortfallPaid(account, paid, owed - paid);
    }

    /// @dev Takes up to `amount`: free stake first, then unbonding; defers the rest, up to the
    ///      locked stake it stands for, as shortfall. Keeps locked <= staked.
    function _take(
        Provider storage p,
        uint256 amount
    ) internal returns (uint256 fromFree, uint256 fromUnbonding, uint256 deferred) {
        uint256 staked = p.staked;
        uint256 locked = p.locked;
        uint256 free = staked - locked;
        fromFree = amount < free ? amount : free;
        uint256 rest = amount - fromFree;
        uint256 unbonding = p.unbonding;
        fromUnbonding = rest < unbonding ? rest : unbonding;
        rest -= fromUnbonding;
        deferred = rest < locked ? rest : locked;
        if (fromFree != 0) {
            p.staked = uint120(staked - fromFree);
            totalStaked -= uint128(fromFree); // fits: fromFree <= staked
        }
        if (fromUnbonding != 0) {
            p.unbonding = uint120(unbonding - fromUnbonding);
            totalUnbonding -= fromUnbonding;
        }
        if (deferred != 0) p.shortfall += uint128(deferred); // fits: deferred <= locked < 2^120
        uint256 slashed = fromFree + fromUnbonding;
        if (slashed != 0) p.totalSlashed += uint128(slashed);
    }

    /// @dev Jails a registered provider for `reason`; emits only when the reason is new.
    function _jail(address account, Provider storage p, uint8 reason) internal {
        uint8 flags = p.flags;
        if (!p.registered || flags & reason != 0) return;
        p.flags = flags | reason;
        emit ProviderJailed(account, reason == JAILED_FOR_DOWNTIME);
    }

    /// @dev Credits `shareBps` of slashed stake to `beneficiary` and the rest to the treasury. A
    ///      provider is never a beneficiary of its own slash: its share goes to the treasury
    ///      (`paidTo` is then address(0)).
    function _share(
        address account,
        uint256 amount,
        address beneficiary,
        uint256 shareBps
    ) internal returns (address paidTo, uint256 beneficiaryAmount, uint256 treasuryAmount) {
        paidTo = beneficiary == account ? address(0) : beneficiary;
        if (paidTo != address(0)) beneficiaryAmount = (amount * shareBps) / BPS;
        treasuryAmount = amount - beneficiaryAmount;
        _credit(paidTo, beneficiaryAmount);
        _credit(treasury, treasuryAmount);
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
        uint256 window = reportWindow;
        // No declared window yet (0): any delay up to the cap.
        uint256 min = window == 0 ? 0 : window + 1;
        if (delay < min || delay > MAX_UNBONDING_DELAY)
            revert UnbondingDelayOutOfRange(min, MAX_UNBONDING_DELAY, delay);
        unbondingDelay = delay;
        emit UnbondingDelaySet(delay);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
