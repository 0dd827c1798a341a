// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title TokenTransfers
/// @notice Pulls exactly the amount a caller owes, or reverts with the amount that arrived.
/// @dev Fee-on-transfer and other balance-changing tokens would otherwise let the books run
///      ahead of the tokens held; the protocol refuses them at the door instead.
library TokenTransfers {
    using SafeERC20 for IERC20;

    /// @notice The token balance moved by a transfer differs from the amount requested.
    /// @param expected the amount requested
    /// @param received the change in this contract's balance
    error TransferAmountMismatch(uint256 expected, uint256 received);

    /// @dev Moves `amount` of `token` from the caller to this contract and checks it all arrived.
    ///      Always from msg.sender: nobody can be made to pay for someone else's call.
    function pullExact(IERC20 token, uint256 amount) internal {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 afterwards = token.balanceOf(address(this));
        // A balance that shrank (a hostile or rebasing token) counts as nothing received.
        uint256 received = afterwards > before ? afterwards - before : 0;
        if (received != amount) revert TransferAmountMismatch(amount, received);
    }
}
