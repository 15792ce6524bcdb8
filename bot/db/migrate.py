"""Run Alembic migrations from code (the CLI's `migrate`, the app's start-up, the tests)."""
from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = files("bot.db") / "migrations"   # package data: found the same in a checkout and a wheel


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def _run(connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # processes starting together (worker, discord, telegram) migrate one after the other:
            # the others wait here, then find the schema current and do nothing
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gpuflow-migrate:' || current_schema()))"))
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
