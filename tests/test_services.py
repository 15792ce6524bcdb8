"""The service layer on SQLite and PostgreSQL: the market's use cases and their rules."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import Offer, TimelineEntry
from bot.domain.errors import Conflict, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.services import OfferSpec
from tests.helpers import person, provider_with_offer


async def test_browse_filters_sorts_and_pages(app):
    prov, _ = await provider_with_offer(app, "p1", gpu="rtx4090", count=2, price="0.8")
    await app.services.offers.create(prov, OfferSpec(gpu="A100", count=1, vram=80, price="1.5", token="USDC",
                                                     min_hours=1, max_hours=10, region="us"))
    await app.services.offers.create(prov, OfferSpec(gpu="RTX 4090", count=4, vram=24, price="0.0003",
                                                     token="ETH", min_hours=1, max_hours=10, region="eu"))
    page = await app.services.offers.browse("gpu=rtx4090 sort=-count")
    assert [o.gpu_count for o in page.offers] == [4, 2]
    page = await app.services.offers.browse("price<=1 sort=price")
    assert [str(o.price_per_hour) for o in page.offers] == ["300000000000000", "800000"]
    page = await app.services.offers.browse("vram>=80")
    assert [o.gpu_model for o in page.offers] == ["A100"]
    page = await app.services.offers.browse("sort=price limit=1 page=3")
    assert page.total == 3 and page.pages == 3 and page.offers[0].gpu_model == "A100"
    assert (await app.services.offers.browse("provider=p1 region!=eu")).total == 1


async def test_rent_reserves_capacity_and_cancel_releases_it(app):
    _, offer_id = await provider_with_offer(app)
    alice, bob = await person(app, "alice"), await person(app, "bob")
    rental = await app.services.rentals.create(alice, offer_id, 3)
    assert rental.state == "awaiting_deposit"
    assert rental.amount == 1_500_000 and rental.fee == 15_000
    with pytest.raises(Conflict):
        await app.services.rentals.create(bob, offer_id, 2)
    await app.services.rentals.cancel(alice, rental.id)
    assert (await app.services.offers.show(offer_id)).reserved == 0
    again = await app.services.rentals.create(bob, offer_id, 2)
    assert again.state == "awaiting_deposit"


async def test_cancel_twice_is_refused_and_releases_once(app):
    _, offer_id = await provider_with_offer(app, capacity=2)
    alice, bob = await person(app, "alice"), await person(app, "bob")
    r1 = await app.services.rentals.create(alice, offer_id, 1)
    await app.services.rentals.create(bob, offer_id, 1)
    await app.services.rentals.cancel(alice, r1.id)
    with pytest.raises(InvalidTransition):
        await app.services.rentals.cancel(alice, r1.id)
    assert (await app.services.offers.show(offer_id)).reserved == 1


async def test_last_slot_goes_to_exactly_one_of_many_concurrent_renters(app):
    _, offer_id = await provider_with_offer(app)
    renters = [await person(app, f"r{i}") for i in range(8)]
    results = await asyncio.gather(*(app.services.rentals.create(r, offer_id, 1) for r in renters),
                                   return_exceptions=True)
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1
    assert all(isinstance(e, Conflict) for e in lost), lost
    assert (await app.services.offers.show(offer_id)).reserved == 1


async def test_unpaid_rentals_expire_after_the_deposit_timeout(app, clock):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, 2)
    clock.advance(seconds=1799)
    assert await app.services.housekeeping() == 0
    clock.advance(seconds=2)
    assert await app.services.housekeeping() == 1
    assert await app.services.housekeeping() == 0
    view = await app.services.rentals.show(alice, rental.id)
    assert view.state == "expired"
    assert (await app.services.offers.show(offer_id)).reserved == 0


async def test_only_owner_manages_offers_admin_may_pause(app):
    owner, offer_id = await provider_with_offer(app)
    mallory = await person(app, "mallory")
    await app.services.hosts.add(mallory, "m1", "m.example.net", 22, "gpuflow")
    with pytest.raises(PermissionDenied):
        await app.services.offers.edit(mallory, offer_id, OfferSpec(price="0.01"))
    with pytest.raises(PermissionDenied):
        await app.services.offers.set_status(mallory, offer_id, "removed")
    root = await person(app, "root")
    assert root.is_admin
    assert (await app.services.offers.set_status(root, offer_id, "paused")).status == "paused"
    with pytest.raises(PermissionDenied):
        await app.services.offers.set_status(root, offer_id, "active")
    await app.services.offers.set_status(owner, offer_id, "active")
    await app.services.offers.set_status(owner, offer_id, "removed")
    with pytest.raises(NotFound):
        await app.services.offers.show(offer_id)


async def test_non_provider_cannot_create_offers(app):
    alice = await person(app, "alice")
    with pytest.raises(PermissionDenied):
        await app.services.offers.create(alice, OfferSpec(gpu="rtx4090", count=1, vram=24, price="1",
                                                          min_hours=1, max_hours=2, region="eu"))


async def test_rentals_are_private_to_renter_provider_and_support(app):
    prov, offer_id = await provider_with_offer(app)
    alice, eve, sue = await person(app, "alice"), await person(app, "eve"), await person(app, "sue")
    rental = await app.services.rentals.create(alice, offer_id, 1)
    assert (await app.services.rentals.show(prov, rental.id)).renter == "alice"
    assert (await app.services.rentals.show(sue, rental.id)).id == rental.id
    with pytest.raises(NotFound):
        await app.services.rentals.show(eve, rental.id)
    with pytest.raises(PermissionDenied):
        await app.services.rentals.cancel(prov, rental.id)
    assert [r.id for r in await app.services.rentals.mine(prov)] == [rental.id]
    assert await app.services.rentals.mine(eve) == []


async def test_cannot_rent_own_offer_or_outside_hours(app):
    prov, offer_id = await provider_with_offer(app, min_hours=2, max_hours=4)
    with pytest.raises(InvalidInput):
        await app.services.rentals.create(prov, offer_id, 3)
    alice = await person(app, "alice")
    for hours in (1, 5):
        with pytest.raises(InvalidInput):
            await app.services.rentals.create(alice, offer_id, hours)


async def _active_rental(app, alice, offer_id):
    """Drive a rental to active the way the chain layer will (deposit, provision, start)."""
    from bot.db.models import Rental
    from bot.domain.states import Step
    from bot.services.common import move

    rental = await app.services.rentals.create(alice, offer_id, 2)
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rental.id)
        for step in (Step.DEPOSIT_CONFIRMED, Step.PROVISION, Step.START):
            await move(session, row, step, step.value)
    return rental.id


async def test_dispute_then_resolve_by_support_only(app):
    prov, offer_id = await provider_with_offer(app)
    alice, eve, sue = await person(app, "alice"), await person(app, "eve"), await person(app, "sue")
    rid = await _active_rental(app, alice, offer_id)
    with pytest.raises(PermissionDenied):
        await app.services.disputes.open(eve, rid, "not mine")
    await app.services.disputes.open(alice, rid, "GPU is slower than listed")
    with pytest.raises(Conflict):
        await app.services.disputes.open(prov, rid, "again")
    with pytest.raises(PermissionDenied):
        await app.services.disputes.resolve(alice, rid, 100)
    with pytest.raises(PermissionDenied):
        await app.services.disputes.list_open(prov)
    assert [d.rental_id for d in await app.services.disputes.list_open(sue)] == [rid]
    view = await app.services.disputes.resolve(sue, rid, 70, "half the time lost")
    assert view.state == "resolved"
    assert [t.kind for t in view.timeline] == ["created", "deposit_confirmed", "provision", "start",
                                               "dispute", "resolve"]
    with pytest.raises(Conflict):
        await app.services.disputes.resolve(sue, rid, 10)
    assert (await app.services.offers.show(offer_id)).reserved == 0


async def test_dispute_on_unpaid_rental_is_refused(app):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, 1)
    with pytest.raises(InvalidTransition):
        await app.services.disputes.open(alice, rental.id, "too slow")


async def test_timeline_is_ordered_and_kept(app):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, 1)
    await app.services.rentals.cancel(alice, rental.id)
    async with app.services.ctx.sessions() as session:
        rows = (await session.scalars(select(TimelineEntry).where(TimelineEntry.rental_id == rental.id)
                                      .order_by(TimelineEntry.id))).all()
    assert [(r.from_state, r.to_state) for r in rows] == [(None, "awaiting_deposit"),
                                                          ("awaiting_deposit", "cancelled")]


async def test_listing_is_queued_once_for_each_listings_place(app):
    await app.services.place_store.set(None, "console", "listings", "console")
    _, offer_id = await provider_with_offer(app)
    pending = await app.services.outbox.pending()
    assert [(n.target, n.offer_id, n.kind) for n in pending] == [("listings", offer_id, "listing-created")]
    assert "rtx4090" in pending[0].body
    queue = app.services.deliveries
    (delivery,) = await queue.claim("console")
    assert (delivery.purpose, delivery.action, delivery.offer_id) == ("listings", "post", offer_id)
    assert await queue.sent(delivery)
    assert not await queue.sent(delivery)
    assert await queue.claim("console") == [] and await app.services.outbox.pending() == []


async def test_host_private_key_is_sealed_at_rest(app):
    prov = await person(app, "prov")
    view = await app.services.hosts.add(prov, "rig", "rig.example.net", 2222, "gpuflow")
    assert view.public_key.startswith("ssh-ed25519 ")
    from bot.db.models import Host

    async with app.services.ctx.sessions() as session:
        host = await session.scalar(select(Host))
    assert "PRIVATE KEY" not in host.private_key_sealed
    opened = app.services.ctx.box.open(host.private_key_sealed, f"host-ssh-key:{host.provider_id}:rig")
    assert opened.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")


async def test_large_amounts_are_exact(app):
    prov, _ = await provider_with_offer(app)
    view = await app.services.offers.create(prov, OfferSpec(gpu="h100", count=8, vram=80, price="123456.123456789012345678",
                                                            token="ETH", min_hours=1, max_hours=2000, region="eu"))
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, view.id, 2000)
    assert rental.amount == 123456123456789012345678 * 2000
    async with app.services.ctx.sessions() as session:
        offer = await session.get(Offer, view.id)
    assert offer.price_per_hour == 123456123456789012345678


async def test_timeline_uses_the_service_clock(app, clock):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, 1)
    clock.advance(hours=5)
    await app.services.rentals.cancel(alice, rental.id)
    view = await app.services.rentals.show(alice, rental.id)
    assert [t.at for t in view.timeline] == [clock.now - timedelta(hours=5), clock.now]


async def test_support_gets_the_whole_timeline_with_a_dispute(app):
    prov, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rid = await _active_rental(app, alice, offer_id)
    await app.services.disputes.open(alice, rid, "GPU missing")
    (notice,) = [n for n in await app.services.outbox.pending() if n.target == "support"]
    for expected in ("GPU missing", "asked for 2 h", "deposit_confirmed", "opened a dispute", f"/resolve #{rid}"):
        assert expected in notice.body, expected
