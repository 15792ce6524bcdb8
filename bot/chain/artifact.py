"""Load the committed, compiled escrow artifact so that running the bot needs no compiler."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

ARTIFACT_DIR = files("bot.chain") / "artifacts"   # package data, written by contracts/build.mjs
ARTIFACT_ENV = "GPUFLOW_ESCROW_ARTIFACT"   # optional override: path to GpuEscrow.json


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    source_sha256: str
    immutable_ranges: tuple[tuple[int, int], ...] = ()   # (start, length) in the runtime code, per immutable


@lru_cache(maxsize=8)
def load_artifact(name: str = "GpuEscrow", path: str | None = None) -> Artifact:
    """Read bot/chain/artifacts/<name>.json (or `path`, or $GPUFLOW_ESCROW_ARTIFACT for the escrow)."""
    if path is None and name == "GpuEscrow":
        path = os.environ.get(ARTIFACT_ENV)
    file = Path(path) if path else ARTIFACT_DIR / f"{name}.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    return Artifact(name=data["contractName"], abi=data["abi"], bytecode=data["bytecode"],
                    deployed_bytecode=data["deployedBytecode"], compiler_version=data["compiler"]["version"],
                    source_sha256=data["sourceSha256"],
                    immutable_ranges=tuple((r["start"], r["length"]) for refs in data.get("immutableReferences", {}).values()
                                           for r in refs))
