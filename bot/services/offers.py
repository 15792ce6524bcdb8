"""Listings: browse with the query language; providers create and manage their own."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Host, Offer, Provider
from bot.domain.errors import InvalidInput, NotFound, PermissionDenied
from bot.domain.listing import ACTIVE, FLAGGED, UNLISTED, listed_status
from bot.domain.pricing import parse_amount
from bot.domain.query import PRICE_SCALE, OfferQuery, describe, normalize_gpu, parse_query
from bot.delivery.kinds import Kind
from bot.services.common import get_offer, make_offer_view, offer_gaps, offer_view
from bot.services.listing import announce, listing_changed
from bot.services.context import Actor, ServiceContext
from bot.services.views import OfferPage, OfferView

_GPU_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}")
_REGION_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_HOURS = 24 * 90
OFFER_STATUSES = ("active", "unlisted", "paused", "removed", "flagged")   # unlisted: see bot.domain.listing

_COLUMNS = {
    "gpu": Offer.gpu_key, "count": Offer.gpu_count, "vram": Offer.vram_gb, "price": Offer.price_nano,
    "region": Offer.region, "provider": Provider.name, "reliability": Offer.reliability_bps,
}
_OPS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}


@dataclass(frozen=True)
class OfferSpec:
    """What a provider writes in /offer create or /offer edit (None = unchanged on edit)."""

    gpu: str | None = None
    count: int | None = None
    vram: int | None = None
    price: str | None = None
    token: str | None = None
    min_hours: int | None = None
    max_hours: int | None = None
    region: str | None = None
    host: str | None = None
    capacity: int | None = None


def price_nano(price_per_hour: int, decimals: int) -> int:
    """Price in 1e-9 tokens (rounded down): the common scale the query language compares on."""
    shift = PRICE_SCALE - decimals
    return price_per_hour * 10**shift if shift >= 0 else price_per_hour // 10**(-shift)


def apply_query(stmt, query: OfferQuery):
    """Add the query's filters. A provider filter becomes a sub-select on provider ids, so the
    offers themselves are filtered on the covering index alone."""
    for f in query.filters:
        if f.field == "provider":
            names = select(Provider.id).where(getattr(Provider.name, _OPS[f.op])(f.value))
            stmt = stmt.where(Offer.provider_id.in_(names))
        else:
            stmt = stmt.where(getattr(_COLUMNS[f.field], _OPS[f.op])(f.value))
    return stmt


class OfferService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def browse(self, query_text: str = "") -> OfferPage:
        """One page of active offers: the total and the page's ids come from the covering index
        alone; then only the page's rows are loaded, with their names, in one query."""
        query = parse_query(query_text)
        where = apply_query(select(Offer.id).where(Offer.status == "active"), query)
        order = [(_COLUMNS[k].desc() if d else _COLUMNS[k].asc()) for k, d in query.sort] or [Offer.price_nano.asc()]
        if any(k == "provider" for k, _ in query.sort):
            where = where.join(Provider, Provider.id == Offer.provider_id)
        page_ids = where.order_by(*order, Offer.id.asc()).offset(query.offset).limit(query.limit)
        async with self.ctx.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(where.subquery())) or 0
            ids = list((await session.scalars(page_ids)).all())
            rows = (await session.execute(
                select(Offer, Provider.name, Host.name)
                .join(Provider, Provider.id == Offer.provider_id)
                .outerjoin(Host, Host.id == Offer.host_id)
                .where(Offer.id.in_(ids)))).all()
        by_id = {o.id: make_offer_view(self.ctx.settings, o, pname, hname) for o, pname, hname in rows}
        pages = max(1, math.ceil(total / query.limit))
        return OfferPage(offers=[by_id[i] for i in ids], total=total, page=query.page, pages=pages,
                         query=describe(query))

    async def show(self, offer_id: int, actor: Actor | None = None) -> OfferView:
        """Anyone may look an offer up by id; what keeps it unlisted and how a flagged one gets
        reviewed are for its owner and staff only."""
        async with self.ctx.sessions() as session:
            offer = await get_offer(session, offer_id)
            view = await offer_view(session, self.ctx.settings, offer)
            provider = await session.get(Provider, offer.provider_id)
        if actor is not None and (actor.is_staff or (provider is not None and provider.user_id == actor.user_id)):
            return view
        return replace(view, missing=(), review=None)

    async def create(self, actor: Actor, spec: OfferSpec) -> OfferView:
        """Saved at once; listed (its post queued) only when its host is verified and the provider
        has a payout wallet, else it waits as unlisted and the view says what is missing."""
        missing = [n for n in ("gpu", "count", "vram", "price", "min_hours", "max_hours", "region")
                   if getattr(spec, n) is None]
        if missing:
            raise InvalidInput("missing " + ", ".join(missing) + ": write e.g. /offer create gpu=rtx4090 "
                               "count=1 vram=24 price=0.5 hours=1-72 region=eu")
        async with self.ctx.sessions.begin() as session:
            provider = await self._provider_of(session, actor)
            host = await self._pick_host(session, provider, spec.host)
            offer = Offer(provider_id=provider.id, host_id=host.id, reserved=0, status=UNLISTED, flags=0,
                          reliability_bps=provider.reliability_bps, provider_outcomes=provider.outcome_count)
            self._apply(offer, spec, creating=True)
            session.add(offer)
            await session.flush()
            if await offer_gaps(session, offer):
                return await offer_view(session, self.ctx.settings, offer)
            offer.status = ACTIVE
            await session.flush()
            return await announce(session, self.ctx.settings, offer)

    async def edit(self, actor: Actor, offer_id: int, spec: OfferSpec) -> OfferView:
        if all(getattr(spec, n) is None for n in OfferSpec.__dataclass_fields__):
            raise InvalidInput("nothing to change: write e.g. /offer edit 12 price=0.45 max_hours=48")
        async with self.ctx.sessions.begin() as session:
            offer = await self._own_offer(session, actor, offer_id)
            if spec.token is not None and spec.token.upper() != offer.token_symbol and offer.reserved:
                raise InvalidInput("cannot change the token while the offer has rentals in progress")
            if spec.host is not None:
                provider = await session.get(Provider, offer.provider_id)
                offer.host_id = (await self._pick_host(session, provider, spec.host)).id
            self._apply(offer, spec, creating=False)
            await session.flush()
            if offer.status in (ACTIVE, UNLISTED):     # another host may close or open a gap
                was, offer.status = offer.status, listed_status(ACTIVE, await offer_gaps(session, offer))
                await session.flush()
                if was == UNLISTED and offer.status == ACTIVE:
                    return await announce(session, self.ctx.settings, offer)
                if was == ACTIVE and offer.status == UNLISTED:
                    view = await offer_view(session, self.ctx.settings, offer)
                    await listing_changed(session, Kind.LISTING_REMOVED, view)
                    return view
            view = await offer_view(session, self.ctx.settings, offer)
            await listing_changed(session, Kind.LISTING_UPDATED, view)
            return view

    async def set_status(self, actor: Actor, offer_id: int, status: str) -> OfferView:
        """pause / resume / remove. The owner may do all three; admins may pause or remove any;
        support staff review flagged offers: resuming one clears its flag. Resuming lists the offer
        only when nothing is missing (bot.domain.listing); else it waits as unlisted."""
        if status not in ("active", "paused", "removed"):
            raise InvalidInput("status must be active, paused or removed")
        async with self.ctx.sessions.begin() as session:
            review = status == ACTIVE and actor.is_staff and (await get_offer(session, offer_id)).status == FLAGGED
            offer = await self._own_offer(session, actor, offer_id, admin_ok=status != "active", staff_ok=review)
            if offer.status == FLAGGED and status == ACTIVE and not actor.is_staff:
                view = await offer_view(session, self.ctx.settings, offer)
                raise PermissionDenied(f"offer #{offer_id} was flagged after a failed delivery"
                                       f"{': ' + view.flag_reason if view.flag_reason else ''}. "
                                       f"To get it reviewed: {view.review}")
            gaps = await offer_gaps(session, offer) if status == ACTIVE else []
            target = listed_status(status, gaps)
            if offer.status == target:
                if target == UNLISTED:
                    raise InvalidInput(f"offer #{offer_id} is not listed yet: "
                                       + "; ".join(g.text() for g in gaps))
                raise InvalidInput(f"offer #{offer_id} is already {status}")
            offer.status = target
            if offer.status != FLAGGED:
                offer.flag_reason = None
            await session.flush()
            view = await offer_view(session, self.ctx.settings, offer)
            kind = {ACTIVE: Kind.LISTING_RESUMED, "paused": Kind.LISTING_PAUSED, "removed": Kind.LISTING_REMOVED}
            if target in kind:
                await listing_changed(session, kind[target], view)
            return view

    # -- helpers -----------------------------------------------------------------------------

    async def _provider_of(self, session: AsyncSession, actor: Actor) -> Provider:
        provider = await session.scalar(select(Provider).where(Provider.user_id == actor.user_id))
        if provider is None:
            raise PermissionDenied("only providers can do this: register a machine first with "
                                   "/host add <name> <address> <port> <user>")
        return provider

    async def _pick_host(self, session: AsyncSession, provider: Provider, name: str | None) -> Host:
        hosts = (await session.scalars(select(Host).where(Host.provider_id == provider.id))).all()
        if name is not None:
            host = next((h for h in hosts if h.name == name.lower()), None)
            if host is None:
                raise NotFound(f"you have no host named {name[:64]!r} (see /host list)")
            return host
        if not hosts:
            raise InvalidInput("add the machine first with /host add <name> <address> <port> <user>")
        if len(hosts) > 1:
            raise InvalidInput("you have several hosts: say which with host=<name>")
        return hosts[0]

    async def _own_offer(self, session: AsyncSession, actor: Actor, offer_id: int, *,
                         admin_ok: bool = False, staff_ok: bool = False) -> Offer:
        offer = await get_offer(session, offer_id)
        provider = await session.get(Provider, offer.provider_id)
        if provider.user_id != actor.user_id and not (admin_ok and actor.is_admin) and not (staff_ok and actor.is_staff):
            raise PermissionDenied(f"offer #{offer_id} is not yours")
        return offer

    def _apply(self, offer: Offer, spec: OfferSpec, *, creating: bool) -> None:
        """Validate every given field first, then write: a bad field changes nothing."""
        settings = self.ctx.settings
        new: dict[str, object] = {}
        token_symbol = (spec.token or (offer.token_symbol if not creating else settings.tokens()[0].symbol)).upper()
        token = settings.token(token_symbol)
        if token is None:
            raise InvalidInput(f"token {token_symbol[:12]!r} is not accepted here "
                               f"(accepted: {', '.join(t.symbol for t in settings.tokens())})")
        if spec.gpu is not None:
            if not _GPU_MODEL_RE.fullmatch(spec.gpu.strip()) or not normalize_gpu(spec.gpu):
                raise InvalidInput("gpu must be a model name like rtx4090 or A100-80GB (at most 40 characters)")
            new["gpu_model"] = spec.gpu.strip()
            new["gpu_key"] = normalize_gpu(spec.gpu)
        for name, column, lo, hi in (("count", "gpu_count", 1, 64), ("vram", "vram_gb", 1, 4096),
                                     ("capacity", "capacity", 1, 64)):
            value = getattr(spec, name)
            if value is not None:
                if not lo <= value <= hi:
                    raise InvalidInput(f"{name} must be between {lo} and {hi}")
                new[column] = value
        if spec.price is not None or (spec.token is not None and not creating):
            price_text = spec.price
            if price_text is None:
                raise InvalidInput("when changing the token, give the price in that token too")
            price = parse_amount(price_text, token.decimals, what="price")
            if price == 0:
                raise InvalidInput("price must be greater than 0")
            if price_nano(price, token.decimals) >= 2**63 or price >= 2**128:
                raise InvalidInput("price is too large")
            new["price_per_hour"] = price
            new["price_nano"] = price_nano(price, token.decimals)
            new["token_symbol"] = token.symbol
        lo_h = spec.min_hours if spec.min_hours is not None else offer.min_hours
        hi_h = spec.max_hours if spec.max_hours is not None else offer.max_hours
        if spec.min_hours is not None or spec.max_hours is not None:
            if not (1 <= lo_h <= hi_h <= MAX_HOURS):
                raise InvalidInput(f"hours must satisfy 1 <= min <= max <= {MAX_HOURS}")
            new["min_hours"], new["max_hours"] = lo_h, hi_h
        if spec.region is not None:
            region = spec.region.lower()
            if not _REGION_RE.fullmatch(region):
                raise InvalidInput("region must be a short code like eu, us-east or ap-south")
            new["region"] = region
        capacity = new.get("capacity", offer.capacity if not creating else 1)
        if not creating and capacity < offer.reserved:
            raise InvalidInput(f"capacity cannot go below the {offer.reserved} rental(s) in progress")
        if creating:
            new.setdefault("capacity", 1)
        for key, value in new.items():
            setattr(offer, key, value)

