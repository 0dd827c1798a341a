// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockStakeToken
/// @notice Devnet staking token: 18 decimals and an open faucet.
contract MockStakeToken is ERC20 {
    constructor() ERC20("Mock Compute Stake", "mCRS") {}

    /// @notice Devnet faucet: anyone may mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
