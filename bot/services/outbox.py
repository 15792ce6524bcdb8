"""A read-only look at queued notices, as plain text (tests, the demo, operators' checks).

Front-ends do not deliver from here: they claim deliveries from `bot.delivery.queue.DeliveryQueue`
(see bot/chat/DELIVERY.md), which also marks them sent or failed.
"""
from __future__ import annotations

import json

from sqlalchemy import exists, select

from bot.delivery.kinds import Audience
from bot.delivery.models import DeliveryRow, NoticeRow
from bot.delivery.notify import seal_aad
from bot.delivery.render import render, text_with_files
from bot.services.context import ServiceContext
from bot.services.views import Notice

TARGET = {Audience.PERSON.value: "dm", Audience.LISTINGS.value: "listings", Audience.SUPPORT.value: "support"}


class OutboxService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def pending(self, limit: int = 100) -> list[Notice]:
        """Notices not delivered anywhere yet, oldest first (sensitive ones opened, unless wiped)."""
        delivered = exists().where(DeliveryRow.notice_id == NoticeRow.id,
                                   DeliveryRow.status.in_(("sent", "skipped")))
        return await self._list(select(NoticeRow).where(~delivered), limit)

    async def notices(self, *, user_id: int | None = None, rental_id: int | None = None,
                      limit: int = 1000) -> list[Notice]:
        """Every notice (delivered or not), oldest first, optionally for one user or rental."""
        stmt = select(NoticeRow)
        if user_id is not None:
            stmt = stmt.where(NoticeRow.user_id == user_id)
        if rental_id is not None:
            stmt = stmt.where(NoticeRow.rental_id == rental_id)
        return await self._list(stmt, limit)

    async def _list(self, stmt, limit: int) -> list[Notice]:
        async with self.ctx.sessions() as session:
            rows = (await session.scalars(stmt.order_by(NoticeRow.id).limit(limit))).all()
        return [self._notice(n) for n in rows]

    def _notice(self, n: NoticeRow) -> Notice:
        if n.sensitive:
            opened = (self.ctx.box.open(n.data, seal_aad(n.dedupe_key))
                      if n.wiped_at is None and self.ctx.box is not None else None)
            data = json.loads(opened) if opened else None
        else:
            data = json.loads(n.data)
        body = text_with_files(render(n.kind, data)) if data is not None else "(delivered; its secret content is wiped)"
        return Notice(id=n.id, target=TARGET[n.audience], user_id=n.user_id, body=body, sensitive=n.sensitive,
                      rental_id=n.rental_id, offer_id=n.offer_id, kind=n.kind)
