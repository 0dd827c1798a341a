// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IUptimeSlasher} from "./interfaces/IUptimeSlasher.sol";

/// @title UptimeSlasher
/// @notice Turns quorum-signed uptime reports into slashes. See {IUptimeSlasher}.
/// @dev Who calls what: the AttestationHub (REPORTER_ROLE) after verifying a quorum;
///      governance (GOVERNOR_ROLE) for parameters. Slashes go through ProviderStaking, which
///      clamps them to what the provider has and jails it.
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

    IProviderStaking public immutable staking;

    // One slot: everything a report reads.
    uint40 internal _anchorTime; // start of epoch `_anchorEpoch`
    uint64 internal _anchorEpoch; // epoch number at `_anchorTime`
    uint32 internal _epochLength;
    uint16 internal _statuteEpochs;
    uint16 internal _slaBps;
    uint16 internal _uptimeSlashBps;
    uint16 internal _relayerRewardBps;
    // One slot: the caps.
    uint128 internal _uptimeSlashCap;
    uint128 internal _relayerRewardCap;

    /// @dev 256 epochs per word: a provider's first report in a word costs a fresh slot, the
    ///      next 255 only a bit flip.
    mapping(address provider => mapping(uint256 word => uint256 bits)) internal _reported;

    /// @param staking_ the ProviderStaking contract; grant this contract SLASHER_ROLE there
    /// @param admin governance
    /// @param p initial parameters; epoch 0 starts at deployment
    constructor(IProviderStaking staking_, address admin, Params memory p) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        staking = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _anchorTime = uint40(block.timestamp);
        _setParams(p);
    }

    /// @notice Applies one verified uptime report.
    /// @param provider the provider reported on
    /// @param epoch an ended epoch no older than `statuteEpochs`
    /// @param uptimeBps observed uptime, 0 .. 10_000
    /// @param relayer who relayed the quorum; receives a capped share of any slash
    /// @custom:constraint REPORTER_ROLE (the AttestationHub); once per (provider, epoch)
    function onUptimeReport(address provider, uint256 epoch, uint256 uptimeBps, address relayer)
        external
        onlyRole(REPORTER_ROLE)
    {
        if (uptimeBps > BPS) revert UptimeOutOfRange(BPS, uptimeBps);
        uint256 current = currentEpoch();
        if (epoch >= current) revert EpochNotEnded(current, epoch);
        uint256 statute = _statuteEpochs;
        if (epoch + statute < current) revert ReportTooOld(current - statute, epoch);
        // One call in the common case: only a provider with nothing slashable needs the
        // registration lookup.
        uint256 slashable = staking.slashableStake(provider);
        if (slashable == 0 && !staking.isRegistered(provider)) revert UnknownProvider(provider);
        _markReported(provider, epoch);

        uint256 requested = 0;
        uint256 slashed = 0;
        uint256 reward = 0;
        if (uptimeBps < _slaBps) {
            requested = slashable * _uptimeSlashBps / BPS;
            if (requested > _uptimeSlashCap) requested = _uptimeSlashCap;
            (slashed, reward) = staking.slash(provider, requested, 0, relayer, _relayerRewardBps, _relayerRewardCap);
        }
        emit UptimeReported(provider, epoch, relayer, uptimeBps, requested, slashed, reward);
    }

    /// @notice Sets all parameters. A new epoch length starts a new epoch now, numbered one
    ///         past the current one, so epoch numbers never repeat.
    /// @custom:constraint GOVERNOR_ROLE
    function setParams(Params calldata p) external onlyRole(GOVERNOR_ROLE) {
        if (p.epochLength != _epochLength) {
            _anchorEpoch = uint64(currentEpoch() + 1);
            _anchorTime = uint40(block.timestamp);
        }
        _setParams(p);
    }

    /// @notice The epoch the chain is in now.
    function currentEpoch() public view returns (uint256) {
        return _anchorEpoch + (block.timestamp - _anchorTime) / _epochLength;
    }

    /// @notice Start time of `epoch` (epochs since the last change of epoch length; 0 before).
    function epochStart(uint256 epoch) external view returns (uint256) {
        if (epoch < _anchorEpoch) return 0;
        return _anchorTime + (epoch - _anchorEpoch) * _epochLength;
    }

    /// @notice Whether a report for (provider, epoch) has been applied.
    function isReported(address provider, uint256 epoch) external view returns (bool) {
        return _reported[provider][epoch >> 8] & (1 << (epoch & 0xff)) != 0;
    }

    /// @notice The current parameters.
    function params() external view returns (Params memory p) {
        p.epochLength = _epochLength;
        p.statuteEpochs = _statuteEpochs;
        p.slaBps = _slaBps;
        p.uptimeSlashBps = _uptimeSlashBps;
        p.uptimeSlashCap = _uptimeSlashCap;
        p.relayerRewardBps = _relayerRewardBps;
        p.relayerRewardCap = _relayerRewardCap;
    }

    function _markReported(address provider, uint256 epoch) internal {
        uint256 bit = 1 << (epoch & 0xff);
        uint256 bits = _reported[provider][epoch >> 8];
        if (bits & bit != 0) revert ReportAlreadyApplied(provider, epoch);
        _reported[provider][epoch >> 8] = bits | bit;
    }

    function _setParams(Params memory p) internal {
        _check("epochLength", p.epochLength, MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH);
        _check("statuteEpochs", p.statuteEpochs, 1, MAX_STATUTE_EPOCHS);
        _check("slaBps", p.slaBps, 0, BPS);
        _check("uptimeSlashBps", p.uptimeSlashBps, 0, MAX_UPTIME_SLASH_BPS);
        _check("uptimeSlashCap", p.uptimeSlashCap, 0, type(uint128).max);
        _check("relayerRewardBps", p.relayerRewardBps, 0, BPS);
        _check("relayerRewardCap", p.relayerRewardCap, 0, type(uint128).max);
        _epochLength = uint32(p.epochLength);
        _statuteEpochs = uint16(p.statuteEpochs);
        _slaBps = uint16(p.slaBps);
        _uptimeSlashBps = uint16(p.uptimeSlashBps);
        _uptimeSlashCap = uint128(p.uptimeSlashCap);
        _relayerRewardBps = uint16(p.relayerRewardBps);
        _relayerRewardCap = uint128(p.relayerRewardCap);
        emit ParamsSet(p, _anchorEpoch, _anchorTime);
    }

    function _check(string memory name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert ParamOutOfRange(name, min, max, value);
    }
}
