"""Wiring: from Settings to a ready service layer (engine, migrations, secret box, router)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import CommandRouter
from bot.config import Settings
from bot.crypto import SecretBox, parse_master_key
from bot.db.files import private_dir
from bot.db.migrate import current_revision, upgrade
from bot.db.session import make_engine, make_sessionmaker
from bot.observability.logs import register_settings_secrets
from bot.services import ServiceContext, Services


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    services: Services
    router: CommandRouter

    async def close(self) -> None:
        await self.engine.dispose()


async def open_app(settings: Settings, *, migrate: bool = True, clock=None) -> App:
    register_settings_secrets(settings)   # masked in every log line, whoever set up the logging
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        private_dir(settings.data_dir)   # 0700: the store holds sealed secrets
    engine = make_engine(url)
    if migrate:
        await upgrade(engine)
    box = SecretBox(parse_master_key(settings.master_key.get_secret_value())) if settings.master_key else None
    ctx = ServiceContext(sessions=make_sessionmaker(engine), settings=settings, box=box)
    if clock is not None:
        ctx.clock = clock
    services = Services(ctx)
    await services.maintain_store()
    await services.place_store.sync_from_config()   # the listings / support places the config names
    return App(settings=settings, engine=engine, services=services, router=CommandRouter(services))


async def migrate_database(settings: Settings) -> str | None:
    """Bring the schema to the newest revision; returns that revision."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        private_dir(settings.data_dir)   # 0700: the store holds sealed secrets
    engine = make_engine(url)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()
