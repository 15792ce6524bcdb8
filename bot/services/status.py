"""The bot's health at a glance for admins (/status): the same figures the metrics export, read
on demand, so an operator without Prometheus can still see a backlog or a stalled watcher."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import func, select

from bot.chain.models import ChainCursor
from bot.db.models import Rental
from bot.delivery.models import DeliveryRow
from bot.domain.errors import PermissionDenied
from bot.services.context import Actor, ServiceContext

WAITING = ("pending", "claimed")


@dataclass(frozen=True)
class StatusView:
    rentals: dict[str, int]                 # rentals by state (only states that occur)
    deliveries_waiting: dict[str, int]      # per platform: not yet sent
    deliveries_failed: dict[str, int]       # per platform: given up on, with the reason stored
    oldest_waiting_s: float | None          # the oldest waiting delivery's age
    watcher_block: int | None               # the last block the watcher applied
    chain_head: int | None                  # None: no chain configured, or the RPC did not answer
    operator: str | None
    operator_balance: int | None            # wei


class StatusService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def snapshot(self, actor: Actor) -> StatusView:
        if not actor.is_admin:
            raise PermissionDenied("only the bot's admins can see its status")
        async with self.ctx.sessions() as session:
            rentals = dict((await session.execute(
                select(Rental.state, func.count()).group_by(Rental.state))).all())
            by_status = (await session.execute(
                select(DeliveryRow.platform, DeliveryRow.status, func.count())
                .where(DeliveryRow.status.in_((*WAITING, "failed")))
                .group_by(DeliveryRow.platform, DeliveryRow.status))).all()
            oldest = await session.scalar(select(func.min(DeliveryRow.created_at))
                                          .where(DeliveryRow.status.in_(WAITING)))
            watcher_block = await session.scalar(select(func.max(ChainCursor.block_number)).where(
                ChainCursor.chain_id == self.ctx.settings.chain.chain_id))
        waiting: dict[str, int] = {}
        failed: dict[str, int] = {}
        for platform, status, n in by_status:
            target = failed if status == "failed" else waiting
            target[platform] = target.get(platform, 0) + n
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        head, operator, balance = await self._chain()
        return StatusView(rentals=rentals, deliveries_waiting=waiting, deliveries_failed=failed,
                          oldest_waiting_s=(self.ctx.now() - oldest).total_seconds() if oldest else None,
                          watcher_block=watcher_block, chain_head=head, operator=operator, operator_balance=balance)

    async def _chain(self) -> tuple[int | None, str | None, int | None]:
        escrow = self.ctx.escrow
        if escrow is None:
            return None, None, None
        operator = escrow.operator.address if escrow.operator is not None else None
        try:
            head = await escrow.w3.eth.block_number
            balance = await escrow.w3.eth.get_balance(operator) if operator else None
        except Exception:  # noqa: BLE001 - an RPC outage is itself what the status should show
            return None, operator, None
        return head, operator, balance
