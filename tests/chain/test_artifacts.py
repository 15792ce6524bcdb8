"""The committed artifacts are exactly what the pinned compiler makes of the committed sources."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from tests.chain.conftest import ROOT

NODE_ENV = {"NODE_PATH": str(ROOT / "node_modules"), "PATH": "/usr/local/bin:/usr/bin:/bin"}


def _check(contracts_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(contracts_dir / "build.mjs"), "--check"], capture_output=True,
                          text=True, timeout=120, env=NODE_ENV)


def test_artifacts_are_up_to_date() -> None:
    result = _check(ROOT / "contracts")
    assert result.returncode == 0, result.stderr


def test_a_changed_source_makes_the_check_fail(tmp_path: Path) -> None:
    copy = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", copy)
    shutil.copytree(ROOT / "bot" / "chain" / "artifacts", tmp_path / "bot" / "chain" / "artifacts")
    assert _check(copy).returncode == 0  # the copy alone is up to date: only the change below makes it stale
    src = copy / "GpuEscrow.sol"
    src.write_text(src.read_text().replace("MAX_FEE_BPS = 1_000", "MAX_FEE_BPS = 2_000"))
    result = _check(copy)
    assert result.returncode == 1
    assert "GpuEscrow.json" in result.stderr


def test_artifact_records_compiler_settings_and_source_hash() -> None:
    art = json.loads((ROOT / "bot/chain/artifacts/GpuEscrow.json").read_text())
    assert art["compiler"]["version"].startswith("0.8.37+")
    assert art["settings"] == {"evmVersion": "cancun", "optimizer": {"enabled": True, "runs": 200}}
    source = (ROOT / "contracts/GpuEscrow.sol").read_bytes()
    assert art["sourceSha256"] == hashlib.sha256(source).hexdigest()
    assert art["bytecode"].startswith("0x6") and len(art["deployedBytecode"]) > 1000
    assert {e["name"] for e in art["abi"] if e["type"] == "event"} >= {
        "Deposited", "Started", "Cancelled", "EndedEarly", "Extended", "Disputed", "Resolved", "Settled",
        "Withdrawn", "TokenAllowed"}
