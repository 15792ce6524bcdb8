// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MockERC20} from "./MockERC20.sol";

/// @dev ERC-20 that burns 1 % of every transfer, so the receiver gets less than `amount`.
contract FeeOnTransferToken is MockERC20 {
    constructor() MockERC20("Fee Token", "FOT", 6) {}

    function _move(address from, address to, uint256 amount) internal override {
        require(balanceOf[from] >= amount, "balance");
        uint256 burned = amount / 100;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - burned;
        totalSupply -= burned;
        emit Transfer(from, to, amount - burned);
        emit Transfer(from, address(0), burned);
    }
}
