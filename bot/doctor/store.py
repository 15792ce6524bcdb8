"""Doctor: the database answers and its schema is at the newest revision."""
from __future__ import annotations

from alembic.script import ScriptDirectory

from bot.config import Settings
from bot.db.files import sqlite_path
from bot.db.migrate import alembic_config, current_revision
from bot.db.session import make_engine
from bot.doctor import Check, fail, ok
from bot.observability.redact import redact


def newest_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def check_database(settings: Settings) -> list[Check]:
    url = settings.resolved_database_url
    shown = redact(url) if not url.startswith("sqlite") else url.split("///", 1)[-1]
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if path is not None and not path.exists():      # never create a database while checking
        return [fail("database", f"no database at {path}: run `gpuflow-bot migrate`")]
    engine = make_engine(url)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    newest = newest_revision()
    if current is None:
        return [fail("database", f"{shown} answers but was never migrated: run `gpuflow-bot migrate`")]
    if current != newest:
        return [fail("database", f"{shown} is at revision {current}, this version needs {newest}: "
                                 f"run `gpuflow-bot migrate`")]
    return [ok("database", f"{shown} answers, schema at the newest revision ({newest})")]
