"""Helpers shared by the services: timeline, notices, view building, guarded state moves."""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.crypto import SecretBox
from bot.db.base import utcnow
from bot.db.models import Host, Offer, Provider, Rental, TimelineEntry, User
from bot.domain.errors import Conflict, NotFound
from bot.domain.listing import FLAGGED, Gap, listing_gaps, review_path
from bot.domain.pricing import Token
from bot.domain.reputation import NEW_BELOW
from bot.domain.states import HOLDS_CAPACITY, RentalState, Step, next_state
from bot.services.reputation import rental_closed
from bot.services.views import OfferView, RentalView, TimelineView

MAX_ID = 2**31 - 1


def token_of(settings: Settings, symbol: str, decimals: int | None = None, address: str | None = None) -> Token:
    """The configured token, or (for history made under an older config) one rebuilt from the row."""
    found = settings.token(symbol)
    if found is not None:
        return found
    return Token(symbol=symbol, decimals=decimals if decimals is not None else 18, address=address)


def check_id(value: int, what: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"there is no {what} #{value}")
    return value


async def get_offer(session: AsyncSession, offer_id: int, *, include_removed: bool = False) -> Offer:
    check_id(offer_id, "offer")
    offer = await session.get(Offer, offer_id)
    if offer is None or (offer.status == "removed" and not include_removed):
        raise NotFound(f"there is no offer #{offer_id}")
    return offer


async def get_rental(session: AsyncSession, rental_id: int) -> Rental:
    check_id(rental_id, "rental")
    rental = await session.get(Rental, rental_id)
    if rental is None:
        raise NotFound(f"there is no rental #{rental_id}")
    return rental


def host_verified(host: Host | None) -> bool:
    """Verified: /host verify passed (and has not failed since) with a host key pinned."""
    return host is not None and host.verified_at is not None and host.host_key is not None


async def offer_gaps(session: AsyncSession, offer: Offer) -> list[Gap]:
    """What keeps `offer` from being listed now (bot.domain.listing), read from the store."""
    provider = await session.get(Provider, offer.provider_id)
    host = await session.get(Host, offer.host_id) if offer.host_id else None
    wallet = await session.scalar(select(User.wallet_address).where(User.id == provider.user_id)) if provider else None
    return listing_gaps(host.name if host else None, host_verified(host), wallet is not None)


async def offer_view(session: AsyncSession, settings: Settings, offer: Offer) -> OfferView:
    """The offer with what keeps it unlisted and, when flagged, how to get it reviewed: the owner's
    view (OfferService.show strips those for others)."""
    provider = await session.get(Provider, offer.provider_id)
    host = await session.get(Host, offer.host_id) if offer.host_id else None
    view = make_offer_view(settings, offer, provider.name if provider else "?", host.name if host else None)
    if offer.status == "removed":
        return view
    return replace(view, missing=tuple(await offer_gaps(session, offer)),
                   review=review_path(view.host, offer.flags or 0) if offer.status == FLAGGED else None)


def make_offer_view(settings: Settings, offer: Offer, provider_name: str, host_name: str | None) -> OfferView:
    return OfferView(
        id=offer.id, provider=provider_name, gpu_model=offer.gpu_model,
        gpu_count=offer.gpu_count, vram_gb=offer.vram_gb, token=token_of(settings, offer.token_symbol),
        price_per_hour=offer.price_per_hour, min_hours=offer.min_hours, max_hours=offer.max_hours,
        region=offer.region, capacity=offer.capacity, reserved=offer.reserved, status=offer.status,
        reliability_bps=offer.reliability_bps, provider_new=offer.provider_outcomes < NEW_BELOW, host=host_name,
        flag_reason=offer.flag_reason if offer.status == FLAGGED else None,
    )


async def rental_view(session: AsyncSession, settings: Settings, rental: Rental, *,
                      with_timeline: bool = False) -> RentalView:
    renter = await session.get(User, rental.renter_id)
    provider = await session.get(Provider, rental.provider_id)
    offer = await session.get(Offer, rental.offer_id)
    timeline: list[TimelineView] = []
    if with_timeline:
        rows = (await session.scalars(
            select(TimelineEntry).where(TimelineEntry.rental_id == rental.id).order_by(TimelineEntry.id)
        )).all()
        timeline = [TimelineView(at=r.at, kind=r.kind, text=r.detail) for r in rows]
    return RentalView(
        id=rental.id, escrow_id=rental.escrow_id, offer_id=rental.offer_id,
        renter=renter.display_name if renter else "?", provider=provider.name if provider else "?",
        gpu_summary=f"{offer.gpu_count}x {offer.gpu_model} {offer.vram_gb} GB" if offer else "?",
        token=token_of(settings, rental.token_symbol, rental.token_decimals, rental.token_address),
        hours=rental.hours, price_per_hour=rental.price_per_hour, amount=rental.amount, fee=rental.fee,
        fee_bps=rental.fee_bps, state=rental.state, deposit_deadline=rental.deposit_deadline,
        started_at=rental.started_at, ends_at=rental.ends_at, timeline=timeline, renter_id=rental.renter_id,
    )


def add_timeline(session: AsyncSession, rental_id: int, kind: str, detail: str, *,
                 actor_user_id: int | None = None, from_state: str | None = None,
                 to_state: str | None = None) -> None:
    now = session.info.get("now")
    session.add(TimelineEntry(rental_id=rental_id, kind=kind, detail=detail, actor_user_id=actor_user_id,
                              from_state=from_state, to_state=to_state, at=now() if now else utcnow()))


async def enqueue(session: AsyncSession, dedupe_key: str, target: str, body: str, *,
                  user_id: int | None = None, rental_id: int | None = None, offer_id: int | None = None,
                  sensitive: bool = False, box: SecretBox | None = None) -> None:
    """Queue finished prose once (compatibility path; new code calls bot.delivery.notify with a
    typed kind). Sensitive bodies (credentials) go to direct messages only and are sealed at rest."""
    from bot.delivery.kinds import Audience, Kind
    from bot.delivery.notify import notify

    audience = {"dm": Audience.PERSON, "listings": Audience.LISTINGS, "support": Audience.SUPPORT}[target]
    if sensitive and (target != "dm" or box is None):
        raise ValueError("sensitive messages go to direct messages only, sealed")
    await notify(session, Kind.CREDENTIALS if sensitive else Kind.TEXT, dedupe_key, data={"text": body},
                 audience=audience, user_id=user_id, rental_id=rental_id, offer_id=offer_id, sensitive=sensitive)


async def capacity_changed(session: AsyncSession, settings: Settings | None, offer_id: int, *, taken: bool) -> None:
    """A slot was taken or given back: when that booked the offer out (or freed its first slot
    again), its listing posts say so on every platform."""
    offer = await session.scalar(select(Offer).where(Offer.id == offer_id).execution_options(populate_existing=True))
    if offer is None or offer.status != "active" or settings is None:
        return
    if offer.reserved != (offer.capacity if taken else offer.capacity - 1):
        return
    from bot.delivery.kinds import Kind
    from bot.services.offers import listing_changed

    view = await offer_view(session, settings, offer)
    await listing_changed(session, Kind.LISTING_BOOKED_OUT if taken else Kind.LISTING_AVAILABLE, view)


async def move(session: AsyncSession, rental: Rental, step: Step, detail: str, *,
               actor_user_id: int | None = None, **changes) -> RentalState:
    """Apply one state-machine step with a guarded UPDATE (state must still be what we read).

    The guard makes concurrent or replayed steps safe: only one of two racing callers wins,
    the other gets Conflict and changes nothing. Capacity held by the rental is released
    exactly when it leaves the capacity-holding states.
    """
    current = RentalState(rental.state)
    target = next_state(current, step)
    result = await session.execute(
        update(Rental).where(Rental.id == rental.id, Rental.state == current.value)
        .values(state=target.value, **changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"rental #{rental.id} changed meanwhile; try again")
    if current in HOLDS_CAPACITY and target not in HOLDS_CAPACITY:
        await session.execute(
            update(Offer).where(Offer.id == rental.offer_id, Offer.reserved > 0)
            .values(reserved=Offer.reserved - 1).execution_options(synchronize_session=False)
        )
        await capacity_changed(session, session.info["ctx"].settings if "ctx" in session.info else None,
                               rental.offer_id, taken=False)
    await session.refresh(rental)
    rental_closed(session, rental.provider_id, target)
    add_timeline(session, rental.id, step.value, detail, actor_user_id=actor_user_id,
                 from_state=current.value, to_state=target.value)
    return target
