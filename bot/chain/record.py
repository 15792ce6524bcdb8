"""The deployment record `contract deploy` writes (data_dir/deployment.json by default): the escrow's
chain, address, block, transaction and fixed parameters, so the configuration need not be edited by
hand after a deploy, and a second deploy on the same chain is refused.

Why refuse: a redeploy by mistake orphans the old contract. Its live rentals stay in it (renters can
still cancel or settle there), but the bot would follow only the new one. The record holds no secret
(no key, no RPC URL), so it may be read by anyone who may read the configuration.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from bot.config import Settings

RECORD_NAME = "deployment.json"
_HEX_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class RecordError(ValueError):
    """The record exists but cannot be read or is not a deployment record."""


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    chain_id: int = Field(gt=0)
    address: str = Field(pattern=_HEX_ADDRESS)
    block: int = Field(ge=0, description="the block of the deployment's receipt: the watcher starts there")
    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")
    parameters: dict[str, str | int] = Field(description="the constructor's parameters, fixed for good")
    code_hash: str = Field(description="keccak256 of the artifact's runtime code (immutables zeroed)")
    deployed_at: str = Field(description="the deployment block's time, ISO 8601 UTC")


def record_path(settings: Settings) -> Path:
    """chain.deployment_file, else data_dir/deployment.json."""
    return settings.chain.deployment_file or settings.data_dir / RECORD_NAME


def read_record(path: Path) -> DeploymentRecord | None:
    """The record at `path`; None if there is none. Raises RecordError if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"deployment record {path} cannot be read ({getattr(exc, 'strerror', None) or exc})") \
            from None
    try:
        return DeploymentRecord.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the file"
        raise RecordError(f"{path} is not a deployment record ({where}: {first.get('msg', 'invalid')}): "
                          "fix it or move it away") from None


def write_problems(path: Path, chain_id: int, *, force: bool) -> list[str]:
    """Why the record could not be written after a deployment on `chain_id` (checked before sending)."""
    if path.is_dir():
        return [f"{path} is a directory: --out names the record's file"]
    try:
        existing = read_record(path)
    except RecordError as exc:
        return [] if force else [f"{exc}; or use --force to replace it"]
    if existing is not None and existing.chain_id == chain_id and not force:
        return [f"{path} already records an escrow on chain {chain_id}: {existing.address} (block {existing.block}). "
                "Deploying again would orphan it: its live rentals stay in the old contract and the bot would "
                "follow only the new one. Use --force to deploy anyway (the record is then replaced: keep a copy)"]
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return [f"cannot write the deployment record {path}: {folder} is not writable"]
    return []


def write_record(path: Path, record: DeploymentRecord) -> None:
    """Write the record whole or not at all (a temporary file renamed over it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def adopt_record(settings: Settings) -> list[str]:
    """When chain.escrow_address is not set, take the escrow's address and start block (and, when
    chain.chain_id is not set either, its chain id) from the deployment record. Returns problems."""
    c = settings.chain
    path = record_path(settings)
    try:
        record = read_record(path)
    except RecordError as exc:
        return [str(exc)]
    if record is None or c.escrow_address:
        return []          # an explicit escrow_address wins; check-config reports a difference
    if "chain_id" in c.model_fields_set and record.chain_id != c.chain_id:
        return [f"{path} records an escrow on chain {record.chain_id}, but chain.chain_id is {c.chain_id}: "
                f"point the configuration at chain {record.chain_id}, or set chain.deployment_file to the "
                f"record of chain {c.chain_id}"]
    c.escrow_address, c.start_block, c.chain_id = record.address, record.block, record.chain_id
    c._record = path
    return []


def record_disagreement(settings: Settings) -> str | None:
    """An explicit chain.escrow_address that is not the recorded deployment (a redeploy not yet
    copied into the configuration, or a record left from an older deployment)."""
    c = settings.chain
    if not c.escrow_address or c.escrow_record is not None:
        return None
    path = record_path(settings)
    try:
        record = read_record(path)
    except RecordError:
        return None          # load_settings reported it already
    if record is None or (record.address.lower() == c.escrow_address.lower() and record.chain_id == c.chain_id):
        return None
    return (f"chain.escrow_address is {c.escrow_address} (chain {c.chain_id}), but {path} records "
            f"{record.address} on chain {record.chain_id} (block {record.block}); the configured address is "
            "used: remove escrow_address to use the record, or move the record away")
