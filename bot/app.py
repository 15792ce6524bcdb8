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


async def deploy_contract(settings: Settings) -> tuple[str, int]:
    """Deploy GpuEscrow with the operator key; the operator, arbiter, admin, fee, windows and maximum
    duration come from the configuration and are fixed in the contract for good (no owner can change
    them). The operator, arbiter and admin must be three different accounts."""
    from eth_account import Account

    from bot.chain.deploy import deploy_escrow
    from bot.chain.rpc import make_web3
    from bot.config import ConfigError

    c = settings.chain
    problems = []
    if settings.operator_key is None:
        problems.append("GPUFLOW_OPERATOR_KEY is needed: the operator deploys the contract and starts rentals")
    arbiter = c.arbiter_address or (Account.from_key(settings.arbiter_key.get_secret_value()).address
                                    if settings.arbiter_key else None)
    if arbiter is None:
        problems.append("set chain.arbiter_address or GPUFLOW_ARBITER_KEY: disputes need an arbiter")
    if c.admin_address is None:
        problems.append("set chain.admin_address: the account that edits the token allow-list (not the operator "
                        "or the arbiter)")
    if settings.fee_recipient is None:
        problems.append("set fee_recipient: where the platform fee is paid")
    if problems:
        raise ConfigError(problems)
    key = settings.operator_key.get_secret_value()
    w3 = make_web3(c.rpc_url, timeout_s=60)
    try:
        head = await w3.eth.block_number       # nobody knows the address before it is printed: no log is older
        address = await deploy_escrow(w3, key, operator=Account.from_key(key).address, arbiter=arbiter,
                                   admin=c.admin_address, fee_recipient=settings.fee_recipient,
                                   fee_bps=settings.fee_bps, start_window=c.start_window_s,
                                   dispute_window=c.dispute_window_s, dispute_timeout=c.dispute_timeout_s,
                                   max_duration=c.max_duration_s)
        return address, head
    except ValueError as exc:                 # a rule of the constructor, in words
        raise ConfigError([str(exc)]) from None
    finally:
        await w3.provider.disconnect()
