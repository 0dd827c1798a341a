// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IUptimeSlasher
/// @notice Applies quorum-signed uptime reports: a provider below the SLA in an ended epoch is
///         slashed a share of its stake (capped) and jailed. A capped share of the slash goes
///         to whoever relayed the report, the rest to the treasury.
/// @dev Epochs are numbered from an anchor; changing the epoch length re-anchors so that epoch
///      numbers only grow and a (provider, epoch) pair can never be reported twice.
interface IUptimeSlasher {
    struct Params {
        uint256 epochLength; // seconds
        uint256 statuteEpochs; // reports older than this many epochs are refused
        uint256 slaBps; // uptime below this is slashed
        uint256 uptimeSlashBps; // share of slashable stake taken
        uint256 uptimeSlashCap; // most stake taken by one report
        uint256 relayerRewardBps; // relayer's share of the slash
        uint256 relayerRewardCap; // most a relayer receives for one report
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
    event ParamsSet(Params params, uint256 anchorEpoch, uint256 anchorTime);

    error UptimeOutOfRange(uint256 maxBps, uint256 uptimeBps);
    error EpochNotEnded(uint256 currentEpoch, uint256 epoch);
    error ReportTooOld(uint256 oldestEpoch, uint256 epoch);
    error ReportAlreadyApplied(address provider, uint256 epoch);
    error UnknownProvider(address provider);
    error ParamOutOfRange(string name, uint256 min, uint256 max, uint256 value);
    error ZeroAddress();

    function onUptimeReport(address provider, uint256 epoch, uint256 uptimeBps, address relayer) external;
    function currentEpoch() external view returns (uint256);
    function epochStart(uint256 epoch) external view returns (uint256);
    function isReported(address provider, uint256 epoch) external view returns (bool);
    function params() external view returns (Params memory);
}
