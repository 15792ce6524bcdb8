"""Disputes: renter or provider opens one; support staff decide the split."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Dispute, Provider, User
from bot.domain.errors import Conflict, InvalidInput, PermissionDenied
from bot.domain.states import Step
from bot.services.common import enqueue, get_rental, move, rental_view
from bot.services.context import Actor, ServiceContext
from bot.services.views import DisputeView, RentalView

MAX_REASON = 1000
MAX_NOTE = 500


def _clean_text(text: str, limit: int, what: str) -> str:
    cleaned = " ".join("".join(ch for ch in text if ch.isprintable() or ch in "\n\t").split())
    if not cleaned:
        raise InvalidInput(f"please give a {what}")
    if len(cleaned) > limit:
        raise InvalidInput(f"the {what} is too long (at most {limit} characters)")
    return cleaned


class DisputeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def open(self, actor: Actor, rental_id: int, reason: str) -> RentalView:
        reason = _clean_text(reason, MAX_REASON, "reason")
        async with self.ctx.sessions.begin() as session:
            rental = await get_rental(session, rental_id)
            provider = await session.get(Provider, rental.provider_id)
            if actor.user_id not in (rental.renter_id, provider.user_id if provider else None):
                raise PermissionDenied(f"only the renter or the provider of rental #{rental_id} can open a dispute")
            if await session.scalar(select(Dispute.id).where(Dispute.rental_id == rental.id)) is not None:
                raise Conflict(f"rental #{rental_id} already has a dispute")
            await move(session, rental, Step.DISPUTE, f"{actor.name} opened a dispute: {reason}",
                       actor_user_id=actor.user_id)
            session.add(Dispute(rental_id=rental.id, opened_by=actor.user_id, reason=reason))
            view = await rental_view(session, self.ctx.settings, rental, with_timeline=True)
            await enqueue(session, f"dispute:{rental.id}:opened", "support",
                          f"Dispute on rental #{rental.id} opened by {actor.name}: {reason}", rental_id=rental.id)
            return view

    async def list_open(self, actor: Actor) -> list[DisputeView]:
        self._require_support(actor)
        async with self.ctx.sessions() as session:
            rows = (await session.scalars(
                select(Dispute).where(Dispute.status == "open").order_by(Dispute.id))).all()
            return [await self._view(session, d) for d in rows]

    async def resolve(self, actor: Actor, rental_id: int, renter_percent: int, note: str = "") -> RentalView:
        self._require_support(actor)
        if not 0 <= renter_percent <= 100:
            raise InvalidInput("the renter's share must be a percentage from 0 to 100")
        note = _clean_text(note, MAX_NOTE, "note") if note.strip() else ""
        async with self.ctx.sessions.begin() as session:
            rental = await get_rental(session, rental_id)
            dispute = await session.scalar(select(Dispute).where(Dispute.rental_id == rental.id))
            if dispute is None or dispute.status != "open":
                raise Conflict(f"rental #{rental_id} has no open dispute")
            if actor.user_id == rental.renter_id:
                raise PermissionDenied("you cannot resolve a dispute on your own rental")
            provider = await session.get(Provider, rental.provider_id)
            if provider is not None and provider.user_id == actor.user_id:
                raise PermissionDenied("you cannot resolve a dispute on your own offer")
            await move(session, rental, Step.RESOLVE,
                       f"{actor.name} resolved: {renter_percent}% to the renter" + (f" ({note})" if note else ""),
                       actor_user_id=actor.user_id)
            dispute.status, dispute.renter_bps, dispute.note = "resolved", renter_percent * 100, note or None
            dispute.resolved_by, dispute.resolved_at = actor.user_id, self.ctx.now()
            return await rental_view(session, self.ctx.settings, rental, with_timeline=True)

    def _require_support(self, actor: Actor) -> None:
        if not actor.is_staff:
            raise PermissionDenied("only support staff can do this")

    async def _view(self, session, d: Dispute) -> DisputeView:
        user = await session.get(User, d.opened_by)
        return DisputeView(rental_id=d.rental_id, opened_by=user.display_name if user else "?", reason=d.reason,
                           status=d.status, renter_bps=d.renter_bps, note=d.note, opened_at=d.opened_at)

