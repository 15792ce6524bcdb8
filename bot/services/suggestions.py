"""Autocomplete sources: short lists a front-end shows while someone types an option (Discord
autocomplete, Telegram inline buttons). Read-only, bounded, and scoped to what the caller may
see: their own offers, rentals and hosts; open disputes only for support staff."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from bot.db.models import Dispute, Host, Offer, Provider, Rental
from bot.services.context import Actor, ServiceContext

MAX_SUGGESTIONS = 25      # Discord's limit for autocomplete choices


@dataclass(frozen=True)
class Suggestion:
    value: str | int      # what the option is set to
    label: str            # what the person sees (user text: escape it)


class SuggestionService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def gpu_models(self, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        """GPU models listed in active offers, most offered first."""
        from bot.domain.query import normalize_gpu

        key = normalize_gpu(prefix)
        stmt = (select(Offer.gpu_key, func.min(Offer.gpu_model), func.count()).where(Offer.status == "active")
                .group_by(Offer.gpu_key).order_by(func.count().desc(), Offer.gpu_key).limit(_bound(limit)))
        if key:
            stmt = stmt.where(Offer.gpu_key.startswith(key, autoescape=True))
        async with self.ctx.sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [Suggestion(gpu_key, f"{model} ({n} offer{'s' if n != 1 else ''})") for gpu_key, model, n in rows]

    async def regions(self, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        stmt = (select(Offer.region).where(Offer.status == "active").group_by(Offer.region)
                .order_by(Offer.region).limit(_bound(limit)))
        if prefix:
            stmt = stmt.where(Offer.region.startswith(prefix.lower()[:32], autoescape=True))
        async with self.ctx.sessions() as session:
            return [Suggestion(r, r) for r in (await session.scalars(stmt)).all()]

    async def offers(self, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        """Active offers with a free slot, cheapest first (matching an id or a model prefix)."""
        stmt = select(Offer).where(Offer.status == "active", Offer.reserved < Offer.capacity)
        stmt = _match(stmt, prefix).order_by(Offer.price_nano, Offer.id).limit(_bound(limit))
        async with self.ctx.sessions() as session:
            return [_offer(o) for o in (await session.scalars(stmt)).all()]

    async def my_offers(self, actor: Actor, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        stmt = (select(Offer).join(Provider, Provider.id == Offer.provider_id)
                .where(Provider.user_id == actor.user_id, Offer.status != "removed"))
        stmt = _match(stmt, prefix).order_by(Offer.id.desc()).limit(_bound(limit))
        async with self.ctx.sessions() as session:
            return [_offer(o) for o in (await session.scalars(stmt)).all()]

    async def my_rentals(self, actor: Actor, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        """The caller's rentals as renter or provider, newest first."""
        async with self.ctx.sessions() as session:
            provider_id = await session.scalar(select(Provider.id).where(Provider.user_id == actor.user_id))
            cond = Rental.renter_id == actor.user_id
            if provider_id is not None:
                cond = or_(cond, Rental.provider_id == provider_id)
            stmt = select(Rental.id, Rental.state, Offer.gpu_model).join(Offer, Offer.id == Rental.offer_id).where(cond)
            if prefix.lstrip("#").isdigit():
                stmt = stmt.where(Rental.id == int(prefix.lstrip("#")[:9]))
            rows = (await session.execute(stmt.order_by(Rental.id.desc()).limit(_bound(limit)))).all()
        return [Suggestion(rid, f"#{rid} {model} ({state.replace('_', ' ')})") for rid, state, model in rows]

    async def my_hosts(self, actor: Actor, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        stmt = (select(Host.name, Host.verified_at).join(Provider, Provider.id == Host.provider_id)
                .where(Provider.user_id == actor.user_id).order_by(Host.name).limit(_bound(limit)))
        if prefix:
            stmt = stmt.where(Host.name.startswith(prefix.lower()[:32], autoescape=True))
        async with self.ctx.sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [Suggestion(name, f"{name} ({'verified' if verified else 'not verified'})") for name, verified in rows]

    def tokens(self, prefix: str = "") -> list[Suggestion]:
        return [Suggestion(t.symbol, t.symbol) for t in self.ctx.settings.tokens()
                if t.symbol.startswith(prefix.upper())]

    async def open_disputes(self, actor: Actor, prefix: str = "", limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        if not actor.is_staff:
            return []
        stmt = select(Dispute.rental_id, Dispute.reason).where(Dispute.status == "open")
        if prefix.lstrip("#").isdigit():
            stmt = stmt.where(Dispute.rental_id == int(prefix.lstrip("#")[:9]))
        async with self.ctx.sessions() as session:
            rows = (await session.execute(stmt.order_by(Dispute.id).limit(_bound(limit)))).all()
        return [Suggestion(rid, f"#{rid}: {reason[:60]}") for rid, reason in rows]


def _bound(limit: int) -> int:
    return max(1, min(limit, MAX_SUGGESTIONS))


def _match(stmt, prefix: str):
    from bot.domain.query import normalize_gpu

    text = prefix.strip().lstrip("#")
    if text.isdigit():
        return stmt.where(Offer.id == int(text[:9]))
    key = normalize_gpu(text)
    return stmt.where(Offer.gpu_key.startswith(key, autoescape=True)) if key else stmt


def _offer(o: Offer) -> Suggestion:
    return Suggestion(o.id, f"#{o.id} {o.gpu_count}x {o.gpu_model} {o.vram_gb} GB, {o.region} ({o.status})")
