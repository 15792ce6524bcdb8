"""Fixtures for the SSH tests: one real sshd per test session, a fresh pool per test."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.ssh import GpuSpec, SshLimits, SshPool

RTX4090 = GpuSpec(model="RTX 4090", count=1, vram_gb=24)


@pytest.fixture
async def pool() -> AsyncIterator[SshPool]:
    p = SshPool(SshLimits(attempts=2, backoff_initial=0.05, backoff_max=0.2, command_timeout=20))
    try:
        yield p
    finally:
        await p.aclose()


def in_hours(h: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=h)


def write_key(tmp_path: Path, name: str, private: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(private)
    path.chmod(0o600)
    return path
