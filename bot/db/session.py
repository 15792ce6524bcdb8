"""Engine and session factory for SQLite (default) and PostgreSQL: the same code on both."""
from __future__ import annotations

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.db.files import prepare_sqlite, sqlite_path, tighten_sidecars


def make_engine(url: str, **kwargs) -> AsyncEngine:
    if url.startswith("sqlite"):
        prepare_sqlite(url)          # the file exists 0600 before SQLite opens it (its -wal/-shm follow)
        path = sqlite_path(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # WAL lets readers run beside the writer; foreign keys are off by default in SQLite
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            if path is not None:
                tighten_sidecars(path)

        return engine
    # `?schema=NAME` (ours, not the driver's): keep all tables in that PostgreSQL schema
    parsed = make_url(url)
    schema = parsed.query.get("schema")
    if schema:
        parsed = parsed.difference_update_query(["schema"])
        kwargs.setdefault("connect_args", {})["server_settings"] = {"search_path": schema}
    return create_async_engine(parsed, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from bot.services.reputation import StoreSession   # its commit hook keeps reputations current

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=StoreSession)
