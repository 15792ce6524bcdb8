"""Doctor: the bot can log in to each verified host with its key, the host still presents the
pinned host key, and the helper answers (a read-only `gpuinfo`)."""
from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot.config import Settings
from bot.crypto import SecretBox, parse_master_key
from bot.db.models import Host
from bot.db.session import make_engine, make_sessionmaker
from bot.doctor import Check, fail, ok, skip
from bot.doctor.explain import describe_failure
from bot.services.context import ServiceContext
from bot.services.hosts import HostService
from bot.ssh import HostKeyMismatch, SshError, SshLimits, SshPool
from bot.ssh.helper import gpuinfo_raw

MAX_PARALLEL = 8


async def check_hosts(settings: Settings) -> list[Check]:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            hosts = (await session.scalars(select(Host).order_by(Host.id))).all()
        if not hosts:
            return [skip("hosts", "no host registered yet")]
        if settings.master_key is None:
            return [fail("hosts", f"{len(hosts)} host(s), but GPUFLOW_MASTER_KEY is not set: their keys cannot be opened")]
        ctx = ServiceContext(sessions=make_sessionmaker(engine), settings=settings,
                             box=SecretBox(parse_master_key(settings.master_key.get_secret_value())))
        s = settings.ssh
        pool = SshPool(SshLimits(per_host=1, connect_timeout=s.connect_timeout_s, command_timeout=s.command_timeout_s,
                                 attempts=1))
        gate = asyncio.Semaphore(MAX_PARALLEL)
        try:
            return list(await asyncio.gather(*(_one(HostService(ctx), pool, gate, h) for h in hosts)))
        finally:
            await pool.aclose()
    finally:
        await engine.dispose()


async def _one(service: HostService, pool: SshPool, gate: asyncio.Semaphore, host: Host) -> Check:
    name = f"host {host.name} (#{host.id}, {host.login_user}@{host.address}:{host.port})"
    if not host.host_key:
        return skip(name, "not verified yet (/host verify): no host key pinned")
    async with gate:
        started = time.monotonic()
        try:
            await gpuinfo_raw(pool, service.target(host))
        except HostKeyMismatch:
            return fail(name, f"presents another host key than the pinned {host.host_key_fingerprint}: reinstalled, "
                              f"or someone is in between; the provider must remove and add the host again")
        except SshError as exc:
            return fail(name, describe_failure(exc))
        elapsed_ms = (time.monotonic() - started) * 1000
    return ok(name, f"logged in, pinned key {host.host_key_fingerprint} matches, helper answers ({elapsed_ms:.0f} ms)")
