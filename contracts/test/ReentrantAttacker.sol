// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IGpuEscrow {
    function deposit(
        bytes32 id,
        address provider,
        address token,
        uint256 amount,
        uint256 duration,
        uint256 expiry,
        bytes calldata signature
    ) external payable;
    function withdraw(address token) external;
    function cancel(bytes32 id) external;
    function settle(bytes32 id) external;
}

/// @dev A renter contract that tries to re-enter the escrow when it receives its refund.
///      mode 1: re-enter withdraw; mode 2: re-enter settle(reenterId); mode 3: re-enter and let a
///      failed re-entry bubble up (revert the whole withdraw).
contract ReentrantAttacker {
    IGpuEscrow public immutable escrow;
    uint8 public mode;
    bytes32 public reenterId;
    uint256 public attempts;
    uint256 public blocked;
    uint256 public received;

    constructor(IGpuEscrow escrow_) {
        escrow = escrow_;
    }

    function configure(uint8 mode_, bytes32 reenterId_) external {
        mode = mode_;
        reenterId = reenterId_;
    }

    /// @dev Deposit under a quote the operator signed for this contract's address.
    function depositNative(bytes32 id, address provider, uint256 duration, uint256 expiry, bytes calldata signature)
        external
        payable
    {
        escrow.deposit{value: msg.value}(id, provider, address(0), msg.value, duration, expiry, signature);
    }

    function cancel(bytes32 id) external {
        escrow.cancel(id);
    }

    function attack() external {
        escrow.withdraw(address(0));
    }

    receive() external payable {
        received += msg.value;
        if (attempts > 0 || mode == 0) return;
        attempts += 1;
        if (mode == 3) {
            escrow.withdraw(address(0));
            return;
        }
        if (mode == 1) {
            try escrow.withdraw(address(0)) {} catch { blocked += 1; }
        } else if (mode == 2) {
            try escrow.settle(reenterId) {} catch { blocked += 1; }
        }
    }
}
