"""Slither finds no high-severity issue in the escrow (and does flag a planted one)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chain.conftest import ROOT

VULNERABLE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Vault {
    mapping(address => uint256) public balance;
    function put() external payable { balance[msg.sender] += msg.value; }
    function take() external {
        (bool ok,) = msg.sender.call{value: balance[msg.sender]}("");
        require(ok);
        balance[msg.sender] = 0;
    }
}
"""


def _slither(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts/slither.sh"), *args], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)


@pytest.mark.slow
def test_escrow_has_no_high_severity_findings() -> None:
    result = _slither()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "analyzed" in result.stderr


@pytest.mark.slow
def test_slither_gate_fails_on_a_high_finding(tmp_path: Path) -> None:
    bad = tmp_path / "Vault.sol"
    bad.write_text(VULNERABLE)
    result = _slither(str(bad))
    assert result.returncode != 0
    assert "reentrancy-eth" in result.stderr
