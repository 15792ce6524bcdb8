"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

PostgreSQL: GPUFLOW_TEST_PG_URL (default: the local test server). Each test gets its own schema,
so parallel runs never collide. When the server does not answer, the PostgreSQL half is skipped
with a plain message, unless GPUFLOW_REQUIRE_POSTGRES=1 (CI), which fails the run instead.
"""
from __future__ import annotations

import asyncio
import os
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key

PG_URL = os.environ.get("GPUFLOW_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("GPUFLOW_REQUIRE_POSTGRES") == "1"
USDC = "0x" + "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
_pg_state: dict[str, object] = {}


def _pg_reachable() -> tuple[bool, str]:
    if "ok" not in _pg_state:
        import asyncpg

        dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

        async def probe() -> None:
            conn = await asyncpg.connect(dsn, timeout=5)
            await conn.close()

        try:
            asyncio.run(probe())
            _pg_state.update(ok=True, why="")
        except Exception as exc:  # any failure to connect means "not reachable"
            _pg_state.update(ok=False, why=f"{type(exc).__name__}: {exc}")
    return bool(_pg_state["ok"]), str(_pg_state["why"])


def pytest_sessionstart(session) -> None:
    if REQUIRE_PG:
        ok, why = _pg_reachable()
        if not ok:
            pytest.exit(f"PostgreSQL is required (GPUFLOW_REQUIRE_POSTGRES=1) but {PG_URL} is unreachable: {why}",
                        returncode=1)


def _pg_status() -> str:
    ok, why = _pg_reachable()
    return (f"PostgreSQL: {PG_URL} answers; the PostgreSQL half ran" if ok else
            f"PostgreSQL: {PG_URL} does NOT answer ({why}); the PostgreSQL half was SKIPPED")


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(_pg_status())


def test_settings(database_url: str, **overrides) -> Settings:
    base = dict(
        database_url=database_url, fee_bps=100, deposit_timeout_s=1800, master_key=generate_master_key(),
        support=["console:sue"], admins=["console:root"],
        chain={"tokens": [TokenSettings(symbol="USDC", decimals=6, address=USDC),
                          TokenSettings(symbol="ETH", decimals=18)]},
    )
    base.update(overrides)
    return Settings(**base)


class Clock:
    """A clock the tests move by hand (deposit timeouts, expiry)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A database URL for an empty database (SQLite file, or a fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    ok, why = _pg_reachable()
    if not ok:
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {why}")
    import asyncpg

    schema = "t_" + secrets.token_hex(6)
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}schema={schema}"
    asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
def sshd():
    """One real OpenSSH server for the whole run (tests/support/sshd.py; needs root)."""
    from tests.support.sshd import shared_sshd

    with shared_sshd() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_gpus(request):
    """A test may make the fake nvidia-smi print another GPU; the next one starts from the default."""
    yield
    if "sshd" in request.fixturenames:
        from tests.support.sshd import DEFAULT_GPUS

        request.getfixturevalue("sshd").set_gpus(DEFAULT_GPUS)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(database_url, clock, tmp_path):
    from bot.app import open_app

    application = await open_app(test_settings(database_url, data_dir=tmp_path), clock=clock)
    yield application
    await application.close()
