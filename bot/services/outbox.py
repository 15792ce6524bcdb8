"""Delivery side of the outbox: front-ends claim pending notices and mark them sent."""
from __future__ import annotations

from sqlalchemy import select, update

from bot.db.models import OutboxMessage
from bot.services.context import ServiceContext
from bot.services.views import Notice


class OutboxService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def pending(self, limit: int = 100) -> list[Notice]:
        async with self.ctx.sessions() as session:
            rows = (await session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id).limit(limit))).all()
            return [self._notice(m) for m in rows]

    async def mark_sent(self, notice_id: int) -> bool:
        """True if this call marked it; False if someone else already did (no double send)."""
        async with self.ctx.sessions.begin() as session:
            result = await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == notice_id, OutboxMessage.status == "pending")
                .values(status="sent", sent_at=self.ctx.now(), attempts=OutboxMessage.attempts + 1))
            return result.rowcount == 1

    def _notice(self, m: OutboxMessage) -> Notice:
        body = m.body
        if m.sensitive and self.ctx.box is not None:
            body = self.ctx.box.open(body, f"outbox:{m.dedupe_key}").decode()
        return Notice(id=m.id, target=m.target, user_id=m.user_id, body=body, sensitive=m.sensitive,
                      rental_id=m.rental_id, offer_id=m.offer_id)
