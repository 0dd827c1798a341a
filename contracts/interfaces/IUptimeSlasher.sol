// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IUptimeSlasher
/// @notice Applies quorum-signed uptime reports: a provider below the SLA in an ended epoch is
///         slashed a share of its stake (capped) and jailed for downtime. A capped share of the
///         slash goes to the relayer the oracles named in the report, the rest to the treasury.
/// @dev Time is cut into numbered epochs by a list of schedules. A schedule fixes the epoch
///      length and the statute (how many epochs after its end an epoch can still be reported).
///      A change of either applies from the next epoch boundary on, never to an epoch that has
///      started: every epoch keeps its start, its end and its reporting deadline in seconds.
///      Epoch numbers only grow, so a (provider, epoch) pair can never be reported twice.
///
///      The SLA applies to an epoch only while the provider is under it: the epoch starts at or
///      after the provider's `slaFrom` (registration, or its last unjail from a downtime jail)
///      and before it left, and the provider is not jailed for downtime now.
interface IUptimeSlasher {
    struct Params {
        uint256 epochLength; // seconds
        uint256 statuteEpochs; // an epoch can be reported until this many epochs after its end
        uint256 slaBps; // uptime below this is slashed
        uint256 uptimeSlashBps; // share of slashable stake taken
        uint256 uptimeSlashCap; // most stake taken by one report
        uint256 relayerRewardBps; // named relayer's share of the slash
        uint256 relayerRewardCap; // most a relayer receives for one report
    }

    /// @notice One stretch of epochs of equal length.
    struct Schedule {
        uint256 firstEpoch; // number of its first epoch
        uint256 startTime; // start of its first epoch
        uint256 epochLength; // seconds
        uint256 statuteEpochs; // reporting window after each epoch's end, in its epochs
    }

    event UptimeReported(
        address indexed provider,
        uint256 indexed epoch,
        address indexed relayer,
        uint256 uptimeBps,
        uint256 slashRequested,
        uint256 slashed,
        uint256 relayerReward
    );
    event ParamsSet(Params params);
    /// @notice A schedule takes effect at `startTime` (the next epoch boundary when it was set).
    event ScheduleSet(
        uint256 indexed index,
        uint256 firstEpoch,
        uint256 startTime,
        uint256 epochLength,
        uint256 statuteEpochs
    );

    // The shared ZeroAddress is declared once in libraries/Errors.sol, which states the
    // convention: expected or bound first, actual last; a parameter out of range reverts
    // <Name>OutOfRange(min, max, value), bounds inclusive.

    /// @notice A report's uptime must lie in [0, 10_000] basis points.
    error UptimeOutOfRange(uint256 min, uint256 max, uint256 value);
    error EpochNotEnded(uint256 currentEpoch, uint256 epoch);
    /// @notice Reports on an epoch are accepted until its deadline (its end plus the statute).
    error ReportWindowClosed(uint256 deadline, uint256 nowTime);
    error ReportAlreadyApplied(address provider, uint256 epoch);
    error UnknownProvider(address provider);
    /// @notice The provider was not under the SLA in that epoch: it registered or unjailed after
    ///         the epoch started, left before it started, or is jailed for downtime now.
    error SlaNotInForce(address provider, uint256 epoch);
    // One error per field of Params, checked in the order of the struct:
    // Params.epochLength must lie in [1 minute, 30 days]: the shared EpochLengthOutOfRange.
    /// @notice Params.statuteEpochs must lie in [1, 1_000].
    error StatuteEpochsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice Params.slaBps must lie in [0, 10_000].
    error SlaBpsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice Params.uptimeSlashBps must lie in [0, MAX_UPTIME_SLASH_BPS].
    error UptimeSlashBpsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice Params.uptimeSlashCap must lie in [0, 2^128-1].
    error UptimeSlashCapOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice Params.relayerRewardBps must lie in [0, 10_000].
    error RelayerRewardBpsOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice Params.relayerRewardCap must lie in [0, 2^128-1].
    error RelayerRewardCapOutOfRange(uint256 min, uint256 max, uint256 value);
    /// @notice The report window, (statuteEpochs + 1) * epochLength (the longest among schedules
    ///         still reportable), must stay below the staking unbonding delay: max is the delay
    ///         minus one.
    error ReportWindowOutOfRange(uint256 min, uint256 max, uint256 value);

    function onUptimeReport(address provider, uint256 epoch, uint256 uptimeBps, address relayer) external;
    function syncReportWindow() external;
    function currentEpoch() external view returns (uint256);
    function epochStart(uint256 epoch) external view returns (uint256);
    function epochEnd(uint256 epoch) external view returns (uint256);
    function reportDeadline(uint256 epoch) external view returns (uint256);
    function reportWindow() external view returns (uint256);
    function isReported(address provider, uint256 epoch) external view returns (bool);
    function params() external view returns (Params memory);
    function schedules() external view returns (Schedule[] memory);
}
