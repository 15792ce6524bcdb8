"""Waking front-ends when deliveries arrive, instead of polling tightly.

In one process an asyncio.Event per platform is rung after the transaction that queued the work
commits (a ring before the commit would send a front-end looking for rows it cannot see yet).
Across processes on PostgreSQL, `pg_notify` inside that transaction reaches every listener at
commit; a listener in another process rings its own events. A missed ring (a dropped listening
connection) only delays work until the waiter's timeout, never loses it: the rows are the truth.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

log = logging.getLogger(__name__)
CHANNEL = "gpuflow_delivery"
_RING = "delivery_ring"          # session.info key: platforms to ring after commit
_HOOKED = "delivery_ring_hooked"


class Doorbell:
    """One per process (it lives on the ServiceContext)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._listener: AsyncConnection | None = None
        self._listen_lock: asyncio.Lock | None = None

    def event(self, platform: str) -> asyncio.Event:
        ev = self._events.get(platform)
        if ev is None:
            ev = self._events[platform] = asyncio.Event()
        return ev

    def ring(self, platforms) -> None:
        for platform in platforms:
            self.event(platform).set()

    async def wait(self, platform: str, timeout: float) -> bool:
        """Until rung or `timeout` seconds; True when rung. Clears the ring it consumed."""
        ev = self.event(platform)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            ev.clear()

    async def listen(self, engine: AsyncEngine) -> None:
        """On PostgreSQL, hear other processes' rings (LISTEN on one held connection)."""
        if engine.dialect.name != "postgresql" or self._listener is not None:
            return
        if self._listen_lock is None:
            self._listen_lock = asyncio.Lock()
        async with self._listen_lock:
            if self._listener is not None:
                return
            conn = await engine.connect()
            try:
                raw = (await conn.get_raw_connection()).driver_connection
                await raw.add_listener(CHANNEL, self._heard)
            except BaseException:
                await conn.close()
                raise
            self._listener = conn

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.ring([payload])

    async def close(self) -> None:
        if self._listener is not None:
            conn, self._listener = self._listener, None
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - closing a connection that is gone already
                log.debug("closing the LISTEN connection failed", exc_info=True)


async def ring_after_commit(session: AsyncSession, platforms: set[str]) -> None:
    """Arrange for `platforms` to be woken once this session's transaction commits."""
    if not platforms:
        return
    info = session.info
    pending: set[str] = info.setdefault(_RING, set())
    new = platforms - pending
    pending |= platforms
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for platform in sorted(new):
            await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": platform})
    if not info.get(_HOOKED):
        info[_HOOKED] = True
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)


def _after_commit(sync_session) -> None:
    platforms = sync_session.info.pop(_RING, set())
    ctx = sync_session.info.get("ctx")
    bell = getattr(ctx, "doorbell", None)
    if bell is not None and platforms:
        bell.ring(platforms)


def _after_rollback(sync_session) -> None:
    sync_session.info.pop(_RING, None)
