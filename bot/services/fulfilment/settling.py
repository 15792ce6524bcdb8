"""Settlement: ask the escrow to pay out what the chain lets anyone settle, once per rental (a
settle of ours still open is waited on, not sent again); the Settled event updates the store."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.faults import checkpoint
from bot.chain.escrow import EscrowError, Status
from bot.db.models import Rental
from bot.domain.states import RentalState
from bot.services.fulfilment.base import BATCH, Part, each, log
from bot.services.fulfilment.refunding import open_tx

S = RentalState


class Settling(Part):
    async def settle_due(self) -> int:
        """Settle ended rentals after the dispute window, and disputes nobody resolved after the
        dispute timeout (from the chain's disputedAt)."""
        chain = self.ctx.settings.chain
        now = self.ctx.now()
        window, timeout = timedelta(seconds=chain.dispute_window_s), timedelta(seconds=chain.dispute_timeout_s)
        async with self.ctx.sessions() as session:
            rows = list((await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.state == S.ENDED.value,
                                                          Rental.ended_at <= now - window)
                .order_by(Rental.id).limit(BATCH))).all())
            # disputed: a cheap filter first (the chain's disputedAt is never before the start; a dispute
            # that was never registered on chain is due like any rental, from its end)
            disputed = (await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.state == S.DISPUTED.value,
                                                          (Rental.started_at <= now - timeout)
                                                          | (Rental.ends_at <= now - window))
                .order_by(Rental.id).limit(BATCH))).all()
        due_disputes: list[tuple[int, str]] = []

        async def check(row: tuple[int, str]) -> bool:
            record = await self.escrow.rental(row[1])
            if record.status == Status.DISPUTED:
                due = record.disputed_at + chain.dispute_timeout_s
            elif record.status == Status.ACTIVE:
                due = (record.stopped_at or record.started_at + record.duration) + chain.dispute_window_s
            else:
                return False      # resolved or settled already; the event brings the store along
            if now.timestamp() >= due:
                due_disputes.append(row)
            return False

        await each(disputed, check, "settle check")
        return await each(rows + due_disputes, self._settle_one, "settling")

    async def _settle_one(self, row: tuple[int, str]) -> bool:
        rental_id, escrow_id = row
        if await open_tx(self.escrow, escrow_id, "settle") is not None:
            return False          # sent already: its Settled event will arrive
        try:
            await self.escrow.submit("settle", escrow_id)
        except EscrowError as exc:   # e.g. TooEarly by the chain's clock: next round
            log.info("settle of rental %s deferred: %s", rental_id, exc)
            return False
        checkpoint("settle-sent")
        return True
