// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev A smart-contract account for tests: it makes any call it is told to (as a renter or provider
///      would), and refuses native-coin payments while `rejecting` is set, like a contract wallet
///      without a receive function, so only withdrawTo can pay out what it is owed.
contract ContractWallet {
    bool public rejecting = true;

    error Rejected();

    function setRejecting(bool rejecting_) external {
        rejecting = rejecting_;
    }

    /// @dev Call `target` with `data` and `msg.value`, bubbling up its revert data unchanged.
    function exec(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        if (rejecting) revert Rejected();
    }
}
