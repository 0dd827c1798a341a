// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title ProtocolTimelock
/// @notice Holds every admin and governor role of a production deployment. A parameter change,
///         role grant or oracle-set change waits `getMinDelay()` seconds between being scheduled
///         and taking effect; the deploy script makes that longer than the staking unbonding
///         delay, so every provider can see a hostile change coming and exit before it lands.
/// @dev OpenZeppelin's TimelockController, self-administered (no admin account): changing its
///      own delay or proposers goes through the same delay. Pausing is not behind it: the
///      guardian holds the escrow's PAUSER_ROLE directly.
contract ProtocolTimelock is TimelockController {
    /// @param minDelay seconds every operation waits
    /// @param proposers may schedule and cancel operations (governance)
    /// @param executors may execute operations once ready
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors
    ) TimelockController(minDelay, proposers, executors, address(0)) {}
}
