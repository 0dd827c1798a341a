// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockReentrantToken
/// @notice Test-only hostile token: after a transfer or transferFrom has moved the balances,
///         it calls `target` with `payload` (ERC-777 / hook style), once per arming.
/// @dev The token is also an account: `execute` lets the test act *as* the token (create a
///      job, withdraw, claim), so a re-entrant call arrives with the same msg.sender as the
///      call it interrupts, which is what a real attacker with a receive hook would do.
///      With `bubble` set a failed re-entry reverts the whole transfer with the inner revert
///      data; otherwise the outcome is recorded in `lastReentrySucceeded` / `lastReentryData`.
contract MockReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    bool public bubble;

    /// @notice How many times the hook called the target.
    uint256 public reentries;
    bool public lastReentrySucceeded;
    bytes public lastReentryData;

    error ExecuteFailed(bytes data);

    constructor() ERC20("Mock Reentrant Token", "mRE") {}

    /// @notice Test faucet: anyone may mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook: the next transfer calls `target_` with `payload_`.
    function arm(address target_, bytes calldata payload_, bool bubble_) external {
        (target, payload, armed, bubble) = (target_, payload_, true, bubble_);
    }

    /// @notice Calls `to` with `data` as this contract; bubbles a revert.
    function execute(address to, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed || from == address(0) || to == address(0)) return;
        armed = false; // one shot: the re-entrant call's own transfers do not recurse
        ++reentries;
        (bool ok, bytes memory data) = target.call(payload);
        if (!ok && bubble) {
            assembly ("memory-safe") {
                revert(add(data, 32), mload(data))
            }
        }
        lastReentrySucceeded = ok;
        lastReentryData = data;
    }
}
