"""Refunds: mark a rental that cannot be delivered, and cancel it on chain once the contract's
record says a refund is right (FUNDED and no start of ours still open; never from a revert alone)."""
from __future__ import annotations

from sqlalchemy import select

from bot.chain.escrow import Status, rental_ref
from bot.db.models import Offer, Provider, Rental
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.reputation import provider_failure
from bot.domain.states import RentalState
from bot.services.common import add_timeline, offer_view
from bot.services.listing import listing_changed
from bot.services.fulfilment.base import BATCH, Part, each, log

S = RentalState
REFUNDABLE = [S.FUNDED.value, S.PROVISIONING.value, S.EXPIRED.value, S.CANCELLED.value]


async def open_tx(escrow, rental_escrow_id: str, purpose: str):
    """The bot's own still-open transaction of `purpose` for a rental (None without a journal)."""
    journal = getattr(escrow.operator, "journal", None) if escrow is not None else None
    return await journal.open_for(rental_ref(rental_escrow_id), purpose) if journal is not None else None


async def open_starts(escrow, rental_escrow_ids: list[str]) -> set[str]:
    """Which of these rentals (by rental_ref) have a start of ours still open, in one query."""
    journal = getattr(escrow.operator, "journal", None) if escrow is not None else None
    if journal is None:
        return set()
    return await journal.open_refs([rental_ref(i) for i in rental_escrow_ids], "start")


class Refunds(Part):
    async def flag(self, rental_id: int, reason: str, *, flag_offer: bool = False) -> None:
        """Mark the rental for a refund with a reason the renter may read (plain words: never a raw
        error with the host's address). `flag_offer` pauses the offer for review."""
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            if rental.refund_reason is not None:
                return
            rental.refund_reason = reason
            rental.retry_at = None
            add_timeline(session, rental.id, "delivery_failed", f"cannot deliver: {reason}; refunding")
            if flag_offer:
                rental.outcome = provider_failure(reason).value      # counts against the provider's reputation
                await self.flag_offer(session, rental, reason)

    async def flag_offer(self, session, rental: Rental, reason: str) -> None:
        """Pause the offer for review, keeping `reason` (plain words) to show its owner, renters
        and its listing post, which now says it is paused and why. A removed offer stays removed."""
        offer = await session.get(Offer, rental.offer_id)
        if offer.status == "flagged":
            return
        if offer.status != "removed":
            offer.status, offer.flag_reason, offer.flags = "flagged", reason, (offer.flags or 0) + 1
        provider = await session.get(Provider, rental.provider_id)
        provider.failed_count += 1
        await session.flush()
        view = await offer_view(session, self.ctx.settings, offer)
        await notify(session, Kind.PROVIDER_FAILED, f"rental:{rental.id}:provider-failed",
                     data={"rental": rental.id, "offer": offer.id, "reason": reason,
                           "refunded": rental.refund_reason is not None, "review": view.review},
                     user_id=provider.user_id, rental_id=rental.id)
        if offer.status == "flagged":
            await listing_changed(session, Kind.LISTING_PAUSED, view)

    async def send_due(self) -> int:
        """Cancel on chain every flagged rental whose record is still FUNDED."""
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.refund_reason.is_not(None),
                                                          Rental.state.in_(REFUNDABLE))
                .order_by(Rental.id).limit(BATCH))).all()
        return await each(rows, self._send_one, "refund")

    async def _send_one(self, row: tuple[int, str]) -> bool:
        rental_id, escrow_id = row
        if await open_tx(self.escrow, escrow_id, "cancel") is not None:
            return False          # sent already; its Cancelled event will arrive
        if await open_tx(self.escrow, escrow_id, "start") is not None:
            return False          # a start of ours may still be mined: the record decides after it
        record = await self.escrow.rental(escrow_id)
        if record.status == Status.ACTIVE:
            await self._started_instead(rental_id)
            return False
        if record.status != Status.FUNDED:
            return False          # cancelled already (the event will arrive) or never funded
        await self.escrow.submit("cancel", escrow_id)
        return True

    async def _started_instead(self, rental_id: int) -> None:
        """The chain shows the rental running (an earlier start mined late): it is started, not
        refunded. The flag goes and the worker delivers access for the chain's time."""
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            if rental.state not in (S.FUNDED.value, S.PROVISIONING.value) or rental.refund_reason is None:
                return
            log.warning("rental %s was started on chain while flagged for a refund; delivering instead", rental_id)
            add_timeline(session, rental.id, "chain_note", f"the rental is running on chain, so it is not refunded "
                         f"(it was flagged: {rental.refund_reason}); delivering access instead")
            rental.refund_reason, rental.retry_at = None, None
