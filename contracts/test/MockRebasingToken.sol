// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title MockRebasingToken
/// @notice Test-only rebasing token (stETH / AMPL style): accounts hold shares, and
///         `balanceOf = shares * factor / 1e18`. The owner changes `factor` at will, which
///         scales every balance up (positive rebase) or down (negative rebase) at once.
/// @dev A transfer of `value` moves `value * 1e18 / factor` shares (rounded down), so at a
///      factor other than 1e18 the recipient's balance may grow by less than `value`.
contract MockRebasingToken is IERC20, Ownable {
    uint256 public constant ONE = 1e18;

    string public constant name = "Mock Rebasing Token";
    string public constant symbol = "mREB";
    uint8 public constant decimals = 18;

    /// @notice Balance units per share, scaled by 1e18.
    uint256 public factor = ONE;
    uint256 public totalShares;
    mapping(address account => uint256) public sharesOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    event Rebased(uint256 factor);

    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ZeroFactor();

    constructor(address owner_) Ownable(owner_) {}

    /// @notice Test faucet: anyone may mint `amount` at the current factor.
    function mint(address to, uint256 amount) external {
        uint256 shares = (amount * ONE) / factor;
        totalShares += shares;
        sharesOf[to] += shares;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Sets balance units per share: above 1e18 inflates every balance, below deflates.
    function rebase(uint256 factor_) external onlyOwner {
        if (factor_ == 0) revert ZeroFactor();
        factor = factor_;
        emit Rebased(factor_);
    }

    function totalSupply() external view returns (uint256) {
        return (totalShares * factor) / ONE;
    }

    function balanceOf(address account) public view returns (uint256) {
        return (sharesOf[account] * factor) / ONE;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(msg.sender, allowed, value);
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) internal {
        uint256 balance = balanceOf(from);
        if (balance < value) revert InsufficientBalance(from, balance, value);
        uint256 shares = (value * ONE) / factor;
        sharesOf[from] -= shares;
        sharesOf[to] += shares;
        emit Transfer(from, to, value);
    }
}
