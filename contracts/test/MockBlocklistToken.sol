// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockBlocklistToken
/// @notice Test-only USDC-style token with a blocklist: the owner can block an address, and
///         every transfer from or to a blocked address reverts with Blocked(account).
/// @dev Models a regulated stablecoin freezing one party: the protocol must keep that party's
///      balance owed (claimable) and keep paying everyone else.
contract MockBlocklistToken is ERC20, Ownable {
    mapping(address account => bool) public blocked;

    event BlockedSet(address indexed account, bool blocked);

    error Blocked(address account);

    constructor(address owner_) ERC20("Mock Blocklist USD", "mBLK") Ownable(owner_) {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Test faucet: anyone may mint (to an address that is not blocked).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Blocks or unblocks an address.
    function setBlocked(address account, bool isBlocked) external onlyOwner {
        blocked[account] = isBlocked;
        emit BlockedSet(account, isBlocked);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[from]) revert Blocked(from);
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
