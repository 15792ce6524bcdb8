"""The SQLite store is private: data directory 0700, database and its -wal/-shm 0600 (issue 8 #10)."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import migrate_database, open_app
from tests.conftest import test_settings as settings_for


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)      # what a service account usually has: files 0644, directories 0755
    yield
    os.umask(old)


async def test_a_new_store_is_private_wal_and_shm_included(tmp_path: Path) -> None:
    data = tmp_path / "var" / "gpuflow"
    app = await open_app(settings_for(None, data_dir=data))
    try:
        async with app.services.ctx.sessions.begin() as session:   # a write, so the WAL is in use
            await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
            await session.execute(text("INSERT INTO scratch VALUES (1)"))
        db = data / "gpuflow.db"
        assert mode(data) == 0o700
        assert mode(db) == 0o600
        for side in ("gpuflow.db-wal", "gpuflow.db-shm"):
            assert (data / side).exists(), side
            assert mode(data / side) == 0o600, side
    finally:
        await app.close()


async def test_migrate_alone_creates_the_store_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    await migrate_database(settings_for(None, data_dir=data))
    assert mode(data) == 0o700 and mode(data / "gpuflow.db") == 0o600


async def test_a_looser_existing_store_is_tightened_with_a_warning(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "old"
    settings = settings_for(None, data_dir=data)
    await migrate_database(settings)
    db = data / "gpuflow.db"
    wal = data / "gpuflow.db-wal"
    wal.write_bytes(b"")
    os.chmod(data, 0o755)
    os.chmod(db, 0o644)
    os.chmod(wal, 0o664)
    caplog.set_level(logging.WARNING, logger="bot.db.files")
    app = await open_app(settings)
    await app.close()
    assert mode(data) == 0o700 and mode(db) == 0o600
    assert not wal.exists() or mode(wal) == 0o600
    warned = caplog.text
    assert "data directory" in warned and "was mode 755" in warned
    assert "database file" in warned and "was mode 644" in warned


async def test_an_explicit_database_url_is_private_too(tmp_path: Path) -> None:
    where = tmp_path / "elsewhere"
    app = await open_app(settings_for(f"sqlite+aiosqlite:///{where / 'bot.db'}", data_dir=tmp_path / "d"))
    await app.close()
    assert mode(where) == 0o700 and mode(where / "bot.db") == 0o600
