"""`gpuflow-bot contract deploy | show | tokens allow|deny` on anvil, as an operator runs them."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ADDRESS, ARBITER_KEY, DEPLOYER_KEY, FEE_KEY, OPERATOR_KEY

ROOT = Path(__file__).resolve().parents[2]
USDC = "0x" + "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    return subprocess.run([sys.executable, "-m", "handlers.cli", "contract", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, env={**base, "PYTHONPATH": str(ROOT), **env})


def test_deploy_show_and_allow_a_token(anvil, tmp_path):
    env = {"GPUFLOW_DATA_DIR": str(tmp_path), "GPUFLOW_CHAIN__RPC_URL": anvil.rpc_url,
           "GPUFLOW_OPERATOR_KEY": OPERATOR_KEY, "GPUFLOW_CHAIN__ARBITER_ADDRESS": ADDRESS[ARBITER_KEY],
           "GPUFLOW_CHAIN__ADMIN_ADDRESS": ADDRESS[DEPLOYER_KEY], "GPUFLOW_FEE_RECIPIENT": ADDRESS[FEE_KEY],
           "GPUFLOW_CHAIN__TOKENS": f'[{{"symbol": "ETH", "decimals": 18}}, '
                                    f'{{"symbol": "USDC", "decimals": 6, "address": "{USDC}"}}]'}
    deployed = cli(env, "deploy")
    assert deployed.returncode == 0, deployed.stderr
    found = re.search(r"GpuEscrow deployed at (0x[0-9a-fA-F]{40}) in block ([0-9]+)", deployed.stdout)
    assert found, deployed.stdout
    address, block = found.group(1), int(found.group(2))
    tx_hash = re.search(r"transaction (0x[0-9a-f]{64})", deployed.stdout).group(1)
    receipt = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
    assert int(receipt["blockNumber"], 16) == block and receipt["contractAddress"].lower() == address.lower()
    # show and tokens find the escrow through the deployment record the deploy wrote (no escrow_address set)

    shown = cli(env, "show")
    assert shown.returncode == 0, shown.stderr
    assert "GpuEscrow version 2" in shown.stdout and "matches the committed artifact" in shown.stdout
    assert f"admin {ADDRESS[DEPLOYER_KEY]}" in shown.stdout
    assert "USDC" in shown.stdout and "NOT allowed" in shown.stdout

    refused = cli(env, "tokens", "allow", "USDC")                 # no admin key: said plainly, nothing sent
    assert refused.returncode == 1 and "GPUFLOW_ADMIN_KEY is needed" in refused.stderr
    assert "Traceback" not in refused.stderr
    wrong = cli({**env, "GPUFLOW_ADMIN_KEY": OPERATOR_KEY}, "tokens", "allow", "USDC")
    assert wrong.returncode == 1 and "the escrow's admin is" in wrong.stderr

    admin = {**env, "GPUFLOW_ADMIN_KEY": DEPLOYER_KEY}
    allowed = cli(admin, "tokens", "allow", "usdc")
    assert allowed.returncode == 0, allowed.stderr
    assert "USDC is now allowed" in allowed.stdout and DEPLOYER_KEY.removeprefix("0x") not in allowed.stdout
    assert "allowed for deposits" in cli(env, "show").stdout
    assert cli(admin, "tokens", "deny", "USDC").returncode == 0
    assert "NOT allowed" in cli(env, "show").stdout
