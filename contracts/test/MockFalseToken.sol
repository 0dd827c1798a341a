// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockFalseToken
/// @notice Test-only hostile token: `transfer` and `transferFrom` report failure by returning
///         false instead of reverting (pre-2017 ERC-20 style). They fail, moving nothing, while
///         `failing` is set, and also whenever the balance or allowance is too small.
/// @dev A caller that ignores the return value would book a payment that never happened;
///      SafeERC20 turns `false` into SafeERC20FailedOperation(token).
contract MockFalseToken is ERC20 {
    /// @notice While true every transfer returns false and moves nothing.
    bool public failing;

    constructor() ERC20("Mock False Token", "mFALSE") {}

    /// @notice Test faucet: anyone may mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Switches failure on or off (anyone: it is a test token).
    function setFailing(bool failing_) external {
        failing = failing_;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (failing || balanceOf(msg.sender) < value) return false;
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (failing || balanceOf(from) < value || allowance(from, msg.sender) < value) return false;
        return super.transferFrom(from, to, value);
    }
}
