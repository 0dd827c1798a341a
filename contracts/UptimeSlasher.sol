// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IUptimeSlasher} from "./interfaces/IUptimeSlasher.sol";
import {EpochLengthOutOfRange, ZeroAddress} from "./libraries/Errors.sol";

/// @title UptimeSlasher
/// @notice Turns quorum-signed uptime reports into slashes. See {IUptimeSlasher}.
/// @dev Who calls what: the AttestationHub (REPORTER_ROLE) after verifying a quorum;
///      governance (GOVERNOR_ROLE) for parameters. Slashes go through ProviderStaking, which
///      takes free, then unbonding stake, records a shortfall instead of touching job
///      collateral, and jails the provider for downtime.
contract UptimeSlasher is IUptimeSlasher, AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Applies verified reports: the AttestationHub only.
    bytes32 public constant REPORTER_ROLE = keccak256("REPORTER_ROLE");

    uint256 internal constant BPS = 10_000;
    /// @notice Most of a provider's stake one report may take.
    uint256 public constant MAX_UPTIME_SLASH_BPS = 5_000;
    uint256 internal constant MIN_EPOCH_LENGTH = 1 minutes;
    uint256 internal constant MAX_EPOCH_LENGTH = 30 days;
    uint256 internal constant MAX_STATUTE_EPOCHS = 1_000;

    /// @dev A schedule before the latest one, kept so that its epochs keep their times.
    struct PastSchedule {
        uint64 firstEpoch;
        uint40 startTime;
        uint32 epochLength;
        uint16 statuteEpochs;
    }

    IProviderStaking public immutable staking;

    // One slot: the latest schedule (it may start at the next epoch boundary) and the rates a
    // report reads.
    uint64 internal _firstEpoch; // first epoch of the latest schedule
    uint40 internal _startTime; // its start; in the future while a change is pending
    uint32 internal _epochLength;
    uint16 internal _statuteEpochs;
    uint16 internal _slaBps;
    uint16 internal _uptimeSlashBps;
    uint16 internal _relayerRewardBps;
    uint32 internal _scheduleCount; // schedules so far, the latest included
    // One slot: the caps.
    uint128 internal _uptimeSlashCap;
    uint128 internal _relayerRewardCap;

    /// @dev Schedules 0 .. _scheduleCount - 2; the latest lives in the slot above.
    mapping(uint256 index => PastSchedule) internal _past;

    /// @dev 256 epochs per word: a provider's first report in a word costs a fresh slot, the
    ///      next 255 only a bit flip.
    mapping(address provider => mapping(uint256 word => uint256 bits)) internal _reported;

    /// @param staking_ the ProviderStaking contract; grant this contract SLASHER_ROLE there, then
    ///        call `syncReportWindow`
    /// @param admin governance
    /// @param p initial parameters; epoch 0 starts at deployment
    constructor(IProviderStaking staking_, address admin, Params memory p) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        staking = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _checkParams(p);
        _startTime = uint40(block.timestamp);
        _scheduleCount = 1;
        _epochLength = uint32(p.epochLength);
        _statuteEpochs = uint16(p.statuteEpochs);
        emit ScheduleSet(0, 0, block.timestamp, p.epochLength, p.statuteEpochs);
        _setRates(p);
        _requireWindowBelowUnbonding(_declaredWindow());
    }

    /// @notice Applies one verified uptime report.
    /// @param provider the provider reported on
    /// @param epoch an ended epoch whose reporting deadline has not passed
    /// @param uptimeBps observed uptime, 0 .. 10_000
    /// @param relayer the relayer the oracles named: receives a capped share of any slash
    ///        (nobody when it is address(0) or the provider itself)
    /// @custom:constraint REPORTER_ROLE (the AttestationHub); once per (provider, epoch); only
    ///                    for epochs the provider was under the SLA
    function onUptimeReport(
        address provider,
        uint256 epoch,
        uint256 uptimeBps,
        address relayer
    ) external onlyRole(REPORTER_ROLE) {
        if (uptimeBps > BPS) revert UptimeOutOfRange(0, BPS, uptimeBps);
        if (relayer == provider) relayer = address(0); // a provider never earns from its own slash
        uint256 start = _requireReportable(epoch);
        uint256 slashable = _markUnderSla(provider, epoch, start);

        uint256 requested = 0;
        uint256 slashed = 0;
        uint256 reward = 0;
        if (uptimeBps < _slaBps) {
            requested = (slashable * _uptimeSlashBps) / BPS;
            if (requested > _uptimeSlashCap) requested = _uptimeSlashCap;
            (slashed, reward) = staking.slash(provider, requested, relayer, _relayerRewardBps, _relayerRewardCap);
        }
        emit UptimeReported(provider, epoch, relayer, uptimeBps, requested, slashed, reward);
    }

    /// @notice Sets all parameters. A new epoch length or statute takes effect at the next epoch
    ///         boundary; epochs that have started keep their times and deadlines. The rates apply
    ///         to reports from now on.
    /// @custom:constraint GOVERNOR_ROLE; (statuteEpochs + 1) * epochLength below the unbonding delay
    function setParams(Params calldata p) external onlyRole(GOVERNOR_ROLE) {
        _checkParams(p);
        if (p.epochLength != _epochLength || p.statuteEpochs != _statuteEpochs) {
            _setSchedule(p.epochLength, p.statuteEpochs);
        }
        _setRates(p);
        uint256 window = _declaredWindow();
        _requireWindowBelowUnbonding(window);
        staking.setReportWindow(window);
    }

    /// @notice Declares this contract's report window to the staking contract (needed once after
    ///         deployment, when this contract has received SLASHER_ROLE there).
    /// @custom:constraint anyone
    function syncReportWindow() external {
        staking.setReportWindow(_declaredWindow());
    }

    /// @dev Reverts unless `epoch` has ended and its reporting deadline has not passed; returns
    ///      its start.
    function _requireReportable(uint256 epoch) internal view returns (uint256 start) {
        uint256 current = currentEpoch();
        if (epoch >= current) revert EpochNotEnded(current, epoch);
        uint256 length;
        uint256 statute;
        (start, length, statute) = _locate(epoch);
        uint256 deadline = start + (statute + 1) * length;
        if (block.timestamp >= deadline) revert ReportWindowClosed(deadline, block.timestamp);
    }

    /// @dev Reverts unless `provider` is registered, not yet reported for `epoch` and under the
    ///      SLA in it; marks the report and returns the provider's slashable stake.
    function _markUnderSla(address provider, uint256 epoch, uint256 start) internal returns (uint256 slashable) {
        (bool registered, bool suspended, uint256 stake, uint256 slaFrom, uint256 leftAt) = staking.uptimeStatus(
            provider
        );
        if (!registered) revert UnknownProvider(provider);
        uint256 bit = 1 << (epoch & 0xff);
        uint256 bits = _reported[provider][epoch >> 8];
        if (bits & bit != 0) revert ReportAlreadyApplied(provider, epoch);
        if (suspended || start < slaFrom || (leftAt != 0 && start >= leftAt)) revert SlaNotInForce(provider, epoch);
        _reported[provider][epoch >> 8] = bits | bit;
        return stake;
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @notice The epoch the chain is in now.
    function currentEpoch() public view returns (uint256) {
        (uint256 first, uint256 start, uint256 length) = _activeSchedule();
        return first + (block.timestamp - start) / length;
    }

    /// @notice Start time of `epoch`.
    function epochStart(uint256 epoch) external view returns (uint256 start) {
        (start, , ) = _locate(epoch);
    }

    /// @notice End time of `epoch` (the start of the next one).
    function epochEnd(uint256 epoch) external view returns (uint256) {
        (uint256 start, uint256 length, ) = _locate(epoch);
        return start + length;
    }

    /// @notice Reports on `epoch` are accepted after its end and before this time.
    function reportDeadline(uint256 epoch) external view returns (uint256) {
        (uint256 start, uint256 length, uint256 statute) = _locate(epoch);
        return start + (statute + 1) * length;
    }

    /// @notice Seconds from an epoch's start to its reporting deadline, the longest among the
    ///         schedules whose epochs can still be reported: the unbonding delay must exceed it.
    function reportWindow() external view returns (uint256) {
        return _declaredWindow();
    }

    /// @notice Whether a report for (provider, epoch) has been applied.
    function isReported(address provider, uint256 epoch) external view returns (bool) {
        return _reported[provider][epoch >> 8] & (1 << (epoch & 0xff)) != 0;
    }

    /// @notice The current parameters (epoch length and statute of the latest schedule).
    function params() external view returns (Params memory p) {
        p.epochLength = _epochLength;
        p.statuteEpochs = _statuteEpochs;
        p.slaBps = _slaBps;
        p.uptimeSlashBps = _uptimeSlashBps;
        p.uptimeSlashCap = _uptimeSlashCap;
        p.relayerRewardBps = _relayerRewardBps;
        p.relayerRewardCap = _relayerRewardCap;
    }

    /// @notice Every schedule so far, oldest first; the last may start in the future.
    function schedules() external view returns (Schedule[] memory list) {
        uint256 n = _scheduleCount;
        list = new Schedule[](n);
        for (uint256 i; i + 1 < n; ++i) {
            PastSchedule memory s = _past[i];
            list[i] = Schedule(s.firstEpoch, s.startTime, s.epochLength, s.statuteEpochs);
        }
        list[n - 1] = Schedule(_firstEpoch, _startTime, _epochLength, _statuteEpochs);
    }

    // ─────────────────────────────── internals ───────────────────────────────

    /// @dev The schedule in force now: the latest, unless it is still pending.
    function _activeSchedule() internal view returns (uint256 first, uint256 start, uint256 length) {
        if (block.timestamp >= _startTime) return (_firstEpoch, _startTime, _epochLength);
        PastSchedule memory s = _past[_scheduleCount - 2]; // a pending schedule always has one before it
        return (s.firstEpoch, s.startTime, s.epochLength);
    }

    /// @dev Start, length and statute of `epoch`, from the schedule it belongs to.
    function _locate(uint256 epoch) internal view returns (uint256 start, uint256 length, uint256 statute) {
        uint256 first = _firstEpoch;
        if (epoch >= first) {
            length = _epochLength;
            return (_startTime + (epoch - first) * length, length, _statuteEpochs);
        }
        // Walk back: each schedule covers at least one epoch, and schedule 0 starts at epoch 0.
        uint256 i = _scheduleCount - 1;
        PastSchedule memory s;
        do {
            s = _past[--i];
        } while (s.firstEpoch > epoch);
        length = s.epochLength;
        return (uint256(s.startTime) + (epoch - s.firstEpoch) * length, length, s.statuteEpochs);
    }

    /// @dev A schedule change starts at the next epoch boundary; while it is pending, a further
    ///      change replaces it.
    function _setSchedule(uint256 length, uint256 statute) internal {
        uint256 count = _scheduleCount;
        if (_startTime > block.timestamp) {
            _epochLength = uint32(length);
            _statuteEpochs = uint16(statute);
            emit ScheduleSet(count - 1, _firstEpoch, _startTime, length, statute);
            return;
        }
        uint256 first = _firstEpoch;
        uint256 start = _startTime;
        uint256 oldLength = _epochLength;
        uint256 next = first + (block.timestamp - start) / oldLength + 1;
        uint256 nextStart = start + (next - first) * oldLength;
        _past[count - 1] = PastSchedule(uint64(first), uint40(start), uint32(oldLength), _statuteEpochs);
        _firstEpoch = uint64(next);
        _startTime = uint40(nextStart);
        _epochLength = uint32(length);
        _statuteEpochs = uint16(statute);
        _scheduleCount = uint32(count + 1);
        emit ScheduleSet(count, next, nextStart, length, statute);
    }

    /// @dev The longest reporting window (statute + 1 epochs) among the latest schedule and the
    ///      earlier ones whose epochs can still be reported: governance sets the schedule rarely,
    ///      so the walk is short. Anyone can push a shrunk window with `syncReportWindow`.
    function _declaredWindow() internal view returns (uint256 window) {
        window = (uint256(_statuteEpochs) + 1) * _epochLength;
        uint256 end = _startTime; // where the schedule before the one examined ends
        for (uint256 i = _scheduleCount - 1; i > 0; --i) {
            PastSchedule memory s = _past[i - 1];
            if (block.timestamp < end + uint256(s.statuteEpochs) * s.epochLength) {
                uint256 past = (uint256(s.statuteEpochs) + 1) * s.epochLength;
                if (past > window) window = past;
            }
            end = s.startTime;
        }
    }

    function _requireWindowBelowUnbonding(uint256 window) internal view {
        uint256 delay = staking.unbondingDelay();
        if (window >= delay) revert ReportWindowOutOfRange(0, delay == 0 ? 0 : delay - 1, window);
    }

    function _checkParams(Params memory p) internal pure {
        if (p.epochLength < MIN_EPOCH_LENGTH || p.epochLength > MAX_EPOCH_LENGTH) {
            revert EpochLengthOutOfRange(MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH, p.epochLength);
        }
        if (p.statuteEpochs < 1 || p.statuteEpochs > MAX_STATUTE_EPOCHS) {
            revert StatuteEpochsOutOfRange(1, MAX_STATUTE_EPOCHS, p.statuteEpochs);
        }
        if (p.slaBps > BPS) revert SlaBpsOutOfRange(0, BPS, p.slaBps);
        if (p.uptimeSlashBps > MAX_UPTIME_SLASH_BPS) {
            revert UptimeSlashBpsOutOfRange(0, MAX_UPTIME_SLASH_BPS, p.uptimeSlashBps);
        }
        if (p.uptimeSlashCap > type(uint128).max) {
            revert UptimeSlashCapOutOfRange(0, type(uint128).max, p.uptimeSlashCap);
        }
        if (p.relayerRewardBps > BPS) revert RelayerRewardBpsOutOfRange(0, BPS, p.relayerRewardBps);
        if (p.relayerRewardCap > type(uint128).max) {
            revert RelayerRewardCapOutOfRange(0, type(uint128).max, p.relayerRewardCap);
        }
    }

    function _setRates(Params memory p) internal {
        _slaBps = uint16(p.slaBps);
        _uptimeSlashBps = uint16(p.uptimeSlashBps);
        _uptimeSlashCap = uint128(p.uptimeSlashCap);
        _relayerRewardBps = uint16(p.relayerRewardBps);
        _relayerRewardCap = uint128(p.relayerRewardCap);
        emit ParamsSet(p);
    }
}
