// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Errors shared by more than one ComputeRails contract, declared once, at file level. A contract
// imports the ones it reverts with, and solc lists each of them in that contract's ABI; an error
// that only one contract uses is declared in that contract's interface (contracts/interfaces/).
//
// The convention every protocol error follows (docs/AUDITING.md, "Error convention"):
// - Name: subject + problem (`NotJobClient`, `StakeBelowMinimum`, `ChallengeWindowClosed`).
// - Arguments: what the call was checked against (the expected value, the bound, the deadline)
//   before what it had (the caller, the amount, the time now); an id or account naming the
//   subject comes first of all: `UnexpectedJobStatus(jobId, expected, actual)`,
//   `InsufficientFreeStake(free, requested)`, `AcceptWindowClosed(acceptBy, nowTime)`.
// - A parameter outside its allowed range reverts `<Name>OutOfRange(uint256 min, uint256 max,
//   uint256 value)`: inclusive bounds, then the value given. `<Name>` names the parameter
//   (`FeeOutOfRange`, `EpochLengthOutOfRange`); the shared `BpsOutOfRange` serves the dispute
//   bond and the slash shares, and JobEscrow's `WindowOutOfRange` its four time windows.
// - An amount compared with a balance or a cap keeps a name that says so (`AmountTooLarge`,
//   `CollateralTooLarge`, `UnitsExceedMax`), with the same order: the bound, then the amount.

/// @notice An address that must be set is address(0).
error ZeroAddress();

/// @notice An amount that must be positive is zero.
error ZeroAmount();

/// @notice A batch call was given an empty list.
error EmptyBatch();

/// @notice A share in basis points is outside [min, max] (10_000 is the whole).
/// @param min the least share accepted
/// @param max the most share accepted
/// @param value the share given
error BpsOutOfRange(uint256 min, uint256 max, uint256 value);

/// @notice A payment token is not on the contract's allowlist.
/// @param token the token given
error TokenNotAllowed(address token);

/// @notice The caller has nothing claimable in `token`.
/// @param account the caller
/// @param token the token asked for
error NothingToWithdraw(address account, address token);

/// @notice A protocol fee is outside [min, max] basis points.
/// @param min the least fee accepted
/// @param max the most fee accepted (the contract's MAX_FEE_BPS)
/// @param value the fee given
error FeeOutOfRange(uint256 min, uint256 max, uint256 value);

/// @notice An epoch length is outside [min, max] seconds.
/// @param min the shortest epoch accepted
/// @param max the longest epoch accepted
/// @param value the length given
error EpochLengthOutOfRange(uint256 min, uint256 max, uint256 value);
