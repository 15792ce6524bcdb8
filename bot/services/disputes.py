"""Disputes: renter or provider opens one; support staff decide the split."""
from __future__ import annotations

from sqlalchemy import select

from bot.chain.escrow import EscrowError, Status, TxFailed, UnsignedTx
from bot.db.models import Dispute, Provider, Rental, User
from bot.domain.errors import Conflict, InvalidInput, PermissionDenied
from bot.domain.states import RentalState, Step
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.services.common import add_timeline, get_rental, move, rental_view
from bot.services.context import Actor, ServiceContext
from bot.services.views import DisputeView, RentalView

MAX_REASON = 1000
MAX_NOTE = 500
S = RentalState


def _not_disputed_on_chain(rental_id: int, status: Status, chain, tail: str = " Nothing was changed.") -> str:
    if status == Status.ACTIVE:
        hours = chain.dispute_window_s / 3600
        return (f"the dispute on rental #{rental_id} is not registered on chain, so the escrow cannot pay a split: "
                "the renter or the provider must first send the dispute transaction /dispute showed them "
                f"(possible until {hours:g} h after the rental's end)." + tail)
    if status == Status.RESOLVED:
        return (f"the escrow already resolved rental #{rental_id}; the bot records it when the event arrives. "
                + tail.lstrip())
    return (f"the escrow holds rental #{rental_id} as {status.name.lower()}, not disputed, so it cannot pay a "
            "split." + tail)


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
            await notify(session, Kind.DISPUTE_OPENED, f"dispute:{rental.id}:opened", rental_id=rental.id, data={
                "rental": rental.id, "gpu": view.gpu_summary, "renter": view.renter, "provider": view.provider,
                "by": actor.name, "reason": reason, "timeline": [[t.at.isoformat(), t.text] for t in view.timeline]})
            return view

    async def list_open(self, actor: Actor) -> list[DisputeView]:
        self._require_support(actor)
        async with self.ctx.sessions() as session:
            rows = (await session.scalars(
                select(Dispute).where(Dispute.status == "open").order_by(Dispute.id))).all()
            return [await self._view(session, d) for d in rows]

    async def resolve(self, actor: Actor, rental_id: int, renter_percent: int, note: str = "") -> RentalView:
        """Record support's decision. With the arbiter key the escrow pays the split first, and only
        if it did is the decision recorded; without it the decision is recorded and the arbiter must
        send the resolve transaction (payout_tx) themselves."""
        self._require_support(actor)
        if not 0 <= renter_percent <= 100:
            raise InvalidInput("the renter's share must be a percentage from 0 to 100")
        note = _clean_text(note, MAX_NOTE, "note") if note.strip() else ""
        async with self.ctx.sessions() as session:     # read-only checks before anything is paid
            rental = await get_rental(session, rental_id)
            await self._open_dispute(session, actor, rental)
            escrow_id = rental.escrow_id
        paid = ""
        escrow = self.ctx.escrow
        if escrow is not None and escrow.arbiter is not None:
            paid = await self._pay_on_chain(rental_id, escrow_id, renter_percent * 100)
        async with self.ctx.sessions.begin() as session:
            rental = await get_rental(session, rental_id)
            if paid:   # paid already: record it even if the watcher applied the Resolved event meanwhile
                dispute = await session.scalar(select(Dispute).where(Dispute.rental_id == rental.id))
            else:
                dispute = await self._open_dispute(session, actor, rental)
            detail = (f"{actor.name} resolved: {renter_percent}% to the renter" + (f" ({note})" if note else "")
                      + paid)
            if rental.state == S.RESOLVED.value and paid:
                # the watcher already applied the Resolved event of the transaction just sent
                add_timeline(session, rental.id, "resolve_decision", detail, actor_user_id=actor.user_id)
            else:
                await move(session, rental, Step.RESOLVE, detail, actor_user_id=actor.user_id,
                           credentials_sealed=None)
            dispute.status, dispute.renter_bps, dispute.note = "resolved", renter_percent * 100, note or None
            dispute.resolved_by, dispute.resolved_at = actor.user_id, self.ctx.now()
            return await rental_view(session, self.ctx.settings, rental, with_timeline=True)

    async def _open_dispute(self, session, actor: Actor, rental: Rental) -> Dispute:
        dispute = await session.scalar(select(Dispute).where(Dispute.rental_id == rental.id))
        if dispute is None or dispute.status != "open":
            raise Conflict(f"rental #{rental.id} has no open dispute")
        if actor.user_id == rental.renter_id:
            raise PermissionDenied("you cannot resolve a dispute on your own rental")
        provider = await session.get(Provider, rental.provider_id)
        if provider is not None and provider.user_id == actor.user_id:
            raise PermissionDenied("you cannot resolve a dispute on your own offer")
        return dispute

    async def _pay_on_chain(self, rental_id: int, escrow_id: str, renter_bps: int) -> str:
        """Send resolve as the arbiter; a clear Conflict (and nothing changed) if the escrow refuses."""
        escrow = self.ctx.escrow
        record = await escrow.rental(escrow_id)
        if record.status != Status.DISPUTED:
            raise Conflict(_not_disputed_on_chain(rental_id, record.status, self.ctx.settings.chain))
        try:
            outcome = await escrow.resolve(escrow_id, renter_bps)
        except EscrowError as exc:
            if exc.error == "TooLate":
                raise Conflict(f"the dispute on rental #{rental_id} timed out on chain; it can only be settled "
                               "pro rata now (the bot does this by itself). Nothing was changed.") from None
            raise Conflict(f"the escrow refused the resolution of rental #{rental_id} ({exc.error}); "
                           "nothing was changed") from None
        except TxFailed:
            raise Conflict(f"the resolve transaction for rental #{rental_id} reverted; nothing was changed") from None
        return f"; the escrow paid the split in tx {outcome.tx_hash}"

    async def payout_tx(self, rental_id: int, renter_percent: int) -> tuple[UnsignedTx, str] | None:
        """When the bot holds no arbiter key: the resolve transaction the arbiter must send, and a
        warning if the escrow does not hold the rental as disputed (the call would fail). None when
        the bot pays itself or has no escrow."""
        escrow = self.ctx.escrow
        if escrow is None or escrow.arbiter is not None:
            return None
        async with self.ctx.sessions() as session:
            escrow_id = (await get_rental(session, rental_id)).escrow_id
        record = await escrow.rental(escrow_id)
        warning = ""
        if record.status != Status.DISPUTED:
            warning = _not_disputed_on_chain(rental_id, record.status, self.ctx.settings.chain,
                                             " Until then the arbiter's resolve would be refused.")
        return escrow.resolve_tx(escrow_id, renter_percent * 100), warning

    def _require_support(self, actor: Actor) -> None:
        if not actor.is_staff:
            raise PermissionDenied("only support staff can do this")

    async def _view(self, session, d: Dispute) -> DisputeView:
        user = await session.get(User, d.opened_by)
        return DisputeView(rental_id=d.rental_id, opened_by=user.display_name if user else "?", reason=d.reason,
                           status=d.status, renter_bps=d.renter_bps, note=d.note, opened_at=d.opened_at)

