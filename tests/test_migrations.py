"""Alembic's migrations build exactly the schema the models describe, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.db.base import Base
from bot.db.migrate import current_revision, upgrade
from bot.db.session import make_engine


async def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        assert await current_revision(engine) is not None

        def diff(conn):
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == [], f"migrations and models differ: {differences}"
        await upgrade(engine)   # idempotent: a second run changes nothing
    finally:
        await engine.dispose()


async def test_a_model_change_without_migration_is_detected(database_url):
    """The comparison above can fail: an extra column in the models shows up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        meta = MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(meta)
        Table("users", meta, Column("shoe_size", Integer), extend_existing=True)

        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), meta))
        assert any(d[0] == "add_column" and d[3].name == "shoe_size" for d in differences)
    finally:
        await engine.dispose()
