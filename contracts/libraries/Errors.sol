// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Errors shared by more than one ComputeRails contract, declared once, at file level. A contract
// imports the ones it reverts with, and solc lists each of them in that contract's ABI; an error
// that only one contract uses is declared in that contract's interface (contracts/interfaces/).

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
