"""Keeps the store- and chain-derived gauges current while the bot runs, and serves /metrics.

Why a refresher and not a custom collector: prometheus_client collects synchronously in its HTTP
thread, while the store and the RPC are async; so the gauges are refreshed in the bot's own loop
every `every_s`, and a scrape reads the last values (never a database query per scrape).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from bot.chain.models import ChainCursor
from bot.db.models import Rental
from bot.delivery.models import DeliveryRow
from bot.domain.states import RentalState
from bot.observability import metrics

log = logging.getLogger(__name__)
WAITING = ("pending", "claimed")          # deliveries not yet sent, failed or superseded


class MetricsExporter:
    """`await exporter.refresh()` once, or `start()` / `stop()` around a running bot."""

    def __init__(self, runtime: Any, *, every_s: float = 15.0) -> None:
        self.runtime = runtime
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self._server: Any = None

    async def refresh(self) -> None:
        ctx = self.runtime.services.ctx
        async with ctx.sessions() as session:
            counts = dict((await session.execute(select(Rental.state, func.count()).group_by(Rental.state))).all())
            oldest, waiting = (await session.execute(
                select(func.min(DeliveryRow.created_at), func.count())
                .where(DeliveryRow.status.in_(WAITING)))).one()
            watcher = self.runtime.watcher
            checkpoint = None if watcher is None else await session.scalar(
                select(ChainCursor.block_number).where(ChainCursor.chain_id == watcher.chain_id,
                                                       ChainCursor.contract == watcher.address))
        for state in RentalState:
            metrics.RENTALS.labels(state=state.value).set(counts.get(state.value, 0))
        metrics.DELIVERIES_PENDING.set(waiting or 0)
        metrics.DELIVERY_LAG.set(max((ctx.now() - _aware(oldest)).total_seconds(), 0) if oldest else 0)
        if watcher is not None:
            head = await watcher.w3.eth.block_number
            metrics.WATCHER_HEAD.set(head)
            start = checkpoint if checkpoint is not None else watcher.start_block - 1
            metrics.WATCHER_LAG.set(max(head - start, 0))

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - a scrape shows the last values; the bot goes on
                metrics.REFRESH_ERRORS.inc()
                log.warning("refreshing the metrics failed: %s", type(exc).__name__)
            await asyncio.sleep(self.every_s)

    def start(self, port: int, host: str = "127.0.0.1") -> None:
        self._server = metrics.serve(port, host)
        self._task = asyncio.get_running_loop().create_task(self._loop())
        log.info("serving Prometheus metrics on http://%s:%s/metrics", host, port)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
