// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MockUSD
/// @notice Devnet payment token: 6 decimals like USDC, with EIP-2612 permit and an open faucet.
contract MockUSD is ERC20Permit {
    constructor() ERC20("Mock USD", "mUSD") ERC20Permit("Mock USD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Devnet faucet: anyone may mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
