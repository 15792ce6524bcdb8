"""Keeping the listings in step with the rule of bot.domain.listing: an offer is listed only while
its host is verified and its provider has a payout wallet.

Called, inside the caller's transaction, whenever one of those facts changes: a host verifies
(its waiting offers are listed, flagged ones may be cleared), a host fails verification or a
wallet is unlinked (active offers go back to waiting). Every status change is a guarded UPDATE,
so a replayed or concurrent verify lists an offer once and queues one listing post, never two.

An offer with a gap has no listing post: when a gap opens, the posts of its offers (active,
paused or flagged) are deleted, and changes to such an offer post nothing.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Host, Offer
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.delivery.render import offer_data
from bot.domain.listing import ACTIVE, FLAGGED, PAUSED, UNLISTED, may_self_review
from bot.services.common import offer_gaps, offer_view
from bot.services.views import OfferView
from bot.ssh.gpu import GpuSpec, check_gpus


async def listing_changed(session: AsyncSession, kind: Kind, view: OfferView) -> None:
    """Edit (or delete) the offer's listing posts on every platform. Each change is its own
    notice (one command, one transaction); the posts show the offer as it is when sent. An offer
    that cannot be listed (unlisted, or paused/flagged with a gap) has no post, so nothing is sent."""
    if kind is not Kind.LISTING_REMOVED and (view.status == UNLISTED or view.missing):
        return
    await notify(session, kind, f"listing:{view.id}:{kind.value}:{secrets.token_hex(8)}",
                 data={"offer": offer_data(view)}, offer_id=view.id)


async def announce(session: AsyncSession, settings, offer: Offer) -> OfferView:
    """The offer has just become active: its first listing post (once per offer, by key), or, when
    it was listed before and unlisted since, a fresh post (or an edit of the flagged one)."""
    view = await offer_view(session, settings, offer)
    if await notify(session, Kind.LISTING_CREATED, f"listing:{offer.id}:created", data={"offer": offer_data(view)},
                    offer_id=offer.id) is None:
        await listing_changed(session, Kind.LISTING_RESUMED, view)
    return view


async def _move(session: AsyncSession, offer: Offer, was: str, to: str, **values) -> bool:
    """The offer's guarded status change (`was` -> `to`): False when another transaction moved it
    first. The offer is refreshed either way, so callers see the status that holds."""
    done = await session.execute(update(Offer).where(Offer.id == offer.id, Offer.status == was)
                                 .values(status=to, **values).execution_options(synchronize_session=False))
    await session.refresh(offer)
    return done.rowcount == 1


async def list_waiting(session: AsyncSession, settings, provider_id: int, *, host_id: int | None = None) -> list[int]:
    """List every waiting (unlisted) offer of the provider (on `host_id`) whose gaps are closed now;
    the ids listed. Guarded (unlisted -> active), so each is listed and announced once."""
    stmt = select(Offer.id).where(Offer.provider_id == provider_id, Offer.status == UNLISTED).order_by(Offer.id)
    if host_id is not None:
        stmt = stmt.where(Offer.host_id == host_id)
    listed = []
    for offer_id in (await session.scalars(stmt)).all():
        offer = await session.get(Offer, offer_id)
        if await offer_gaps(session, offer):
            continue
        if not await _move(session, offer, UNLISTED, ACTIVE):
            continue
        await announce(session, settings, offer)
        listed.append(offer_id)
    return listed


async def unlist_gapped(session: AsyncSession, settings, provider_id: int, *, host_id: int | None = None) -> list[int]:
    """A gap opened (a host failed verification, the wallet was unlinked): the provider's active
    offers with a gap wait again (unlisted) and the posts of every offer with a gap are deleted.
    Paused and flagged offers keep their status: the owner's choice and the flag stand."""
    stmt = select(Offer.id).where(Offer.provider_id == provider_id, Offer.status.in_((ACTIVE, PAUSED, FLAGGED)))
    if host_id is not None:
        stmt = stmt.where(Offer.host_id == host_id)
    unlisted = []
    for offer_id in (await session.scalars(stmt.order_by(Offer.id))).all():
        offer = await session.get(Offer, offer_id)
        if not await offer_gaps(session, offer):
            continue
        if offer.status == ACTIVE and await _move(session, offer, ACTIVE, UNLISTED):
            unlisted.append(offer_id)
        await listing_changed(session, Kind.LISTING_REMOVED, await offer_view(session, settings, offer))
    return unlisted


async def review_flagged(session: AsyncSession, host: Host, gpus) -> list[tuple[int, str]]:
    """A verify of `host` passed: clear the flag of each of its flagged offers whose GPUs the host
    reports as listed, within the self-review bound (the offer then waits to be listed, like a
    new one). Returns the offers left flagged, each with why."""
    kept = []
    rows = (await session.scalars(select(Offer).where(Offer.host_id == host.id, Offer.status == FLAGGED)
                                  .order_by(Offer.id))).all()
    for offer in rows:
        if not may_self_review(offer.flags or 0):
            kept.append((offer.id, f"it was flagged {offer.flags} times, so support has to review it"))
            continue
        check = check_gpus(tuple(gpus), GpuSpec(model=offer.gpu_key, count=offer.gpu_count, vram_gb=offer.vram_gb))
        if not check.ok:
            kept.append((offer.id, f"the machine's GPUs do not match the offer: {check.reason}"))
            continue
        await _move(session, offer, FLAGGED, UNLISTED, flag_reason=None)
    return kept


async def host_offer_views(session: AsyncSession, settings, host_id: int) -> tuple[OfferView, ...]:
    rows = (await session.scalars(select(Offer).where(Offer.host_id == host_id, Offer.status != "removed")
                                  .order_by(Offer.id))).all()
    return tuple([await offer_view(session, settings, o) for o in rows])
