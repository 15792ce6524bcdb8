"""Offers are listed only with a verified host and a payout wallet; a flagged offer says why and
how to get reviewed (bot.domain.listing, bot.services.listing)."""
from __future__ import annotations

import pytest

from bot.db.models import Rental
from bot.domain.errors import Conflict, PermissionDenied
from bot.services import OfferSpec
from bot.services.fulfilment.refunding import Refunds
from tests.helpers import closed_port, console, link_wallet, person, provider_with_offer, verify_host, verify_over_ssh

SPEC = OfferSpec(gpu="rtx4090", count=1, vram=24, price="0.5", token="USDC", min_hours=1, max_hours=24, region="eu")
CREATE = "/offer create gpu=rtx4090 count=1 vram=24 price=0.5 token=USDC hours=1-24 region=eu"


async def listing_notices(app, offer_id: int) -> list[str]:
    return [n.kind for n in await app.services.outbox.notices() if n.target == "listings" and n.offer_id == offer_id]


@pytest.fixture
async def listings(app):
    await app.services.place_store.set(None, "console", "listings", "console")
    return app


async def test_without_a_verified_host_the_offer_is_saved_but_not_listed(listings):
    app = listings
    prov = await person(app, "prov")
    await link_wallet(app, prov)
    await app.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    reply = await app.router.handle_text(console("prov"), CREATE)
    assert reply.ok, reply.text
    assert "is saved, not listed yet" in reply.text and "is listed" not in reply.text
    assert "host rig is not verified: /host verify rig" in reply.text
    assert "/wallet link" not in reply.text and "/rent" not in reply.text
    (view,) = reply.views
    assert view.status == "unlisted"
    assert await listing_notices(app, view.id) == []                          # not posted anywhere
    assert (await app.services.offers.browse("")).total == 0                  # nor in /offers
    shown = await app.router.handle_text(console("prov"), f"/offer {view.id}")   # the owner sees why
    assert "not listed yet" in shown.text and "/host verify rig" in shown.text
    other = await app.router.handle_text(console("alice"), f"/offer {view.id}")  # others do not
    assert "not listed" in other.text and "/host verify" not in other.text and "Rent" not in other.text


async def test_without_a_payout_wallet_the_offer_is_saved_but_not_listed(listings):
    app = listings
    prov = await person(app, "prov")
    await app.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    await verify_host(app, prov)
    reply = await app.router.handle_text(console("prov"), CREATE)
    assert "is saved, not listed yet" in reply.text
    assert "no payout wallet is linked: /wallet link" in reply.text and "/host verify" not in reply.text
    (view,) = reply.views
    assert view.status == "unlisted" and await listing_notices(app, view.id) == []
    assert (await app.services.offers.browse("")).total == 0


async def test_listed_by_itself_once_both_hold_and_once_only(listings):
    app = listings
    prov = await person(app, "prov")
    await app.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    view = await app.services.offers.create(prov, SPEC)
    assert [g.fix for g in view.missing] == ["/host verify rig", "/wallet link"]
    host = await verify_host(app, prov)                # one gap closed: still waiting
    assert [(o.id, o.status) for o in host.offers] == [(view.id, "unlisted")]
    assert await listing_notices(app, view.id) == []
    await link_wallet(app, prov)                       # the last gap: listed now, with its post
    assert (await app.services.offers.show(view.id)).status == "active"
    assert await listing_notices(app, view.id) == ["listing-created"]
    again = await verify_host(app, prov)               # a replayed / repeated verify posts nothing more
    await link_wallet(app, prov)
    assert [o.status for o in again.offers] == ["active"]
    assert await listing_notices(app, view.id) == ["listing-created"]
    assert (await app.services.offers.browse("")).total == 1
    rental = await app.services.rentals.create(await person(app, "alice"), view.id, 1)
    assert rental.state == "awaiting_deposit"


async def test_rent_is_refused_on_an_unlisted_offer(app):
    _, offer_id = await provider_with_offer(app, listed=False)
    alice = await person(app, "alice")
    with pytest.raises(Conflict, match="not listed yet"):
        await app.services.rentals.create(alice, offer_id, 1)
    reply = await app.router.handle_text(console("alice"), f"/rent {offer_id} 1")
    assert not reply.ok and f"offer #{offer_id} is not listed yet" in reply.text, reply.text


async def test_resume_and_edit_do_not_list_an_offer_with_a_gap(listings):
    app = listings
    prov = await person(app, "prov")
    await app.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    view = await app.services.offers.create(prov, SPEC)
    reply = await app.router.handle_text(console("prov"), f"/offer resume {view.id}")
    assert not reply.ok and "not listed yet" in reply.text and "/host verify rig" in reply.text
    await app.services.offers.edit(prov, view.id, OfferSpec(price="0.4"))
    await app.services.offers.set_status(prov, view.id, "paused")
    assert (await app.services.offers.set_status(prov, view.id, "active")).status == "unlisted"
    assert await listing_notices(app, view.id) == []


async def test_unlinking_the_wallet_takes_the_offers_off_the_listings(listings):
    app = listings
    prov, offer_id = await provider_with_offer(app)
    await app.services.wallets.unlink(prov)
    assert (await app.services.offers.show(offer_id)).status == "unlisted"
    assert await listing_notices(app, offer_id) == ["listing-created", "listing-removed"]
    assert (await app.services.offers.browse("")).total == 0
    await link_wallet(app, prov)
    assert (await app.services.offers.show(offer_id)).status == "active"
    assert await listing_notices(app, offer_id) == ["listing-created", "listing-removed", "listing-resumed"]


async def test_a_failed_verify_unlists_until_it_passes_again(listings):
    app = listings
    prov = await person(app, "prov")
    await link_wallet(app, prov)
    await app.services.hosts.add(prov, "rig", "127.0.0.1", closed_port(), "gpuflow")
    await verify_host(app, prov)           # it answered once (a stand-in for that verify)
    view = await app.services.offers.create(prov, SPEC)
    assert view.status == "active"
    reply = await verify_over_ssh(app, "prov")
    assert not reply.ok and "not listed until /host verify rig passes" in reply.text, reply.text
    assert (await app.services.offers.show(view.id)).status == "unlisted"
    assert await listing_notices(app, view.id) == ["listing-created", "listing-removed"]
    assert not (await app.services.hosts.list(prov))[0].verified
    await verify_host(app, prov)           # passes again (the pinned key unchanged): listed again
    assert (await app.services.offers.show(view.id)).status == "active"
    assert await listing_notices(app, view.id) == ["listing-created", "listing-removed", "listing-resumed"]


async def _flag(app, offer_id: int, reason: str) -> int:
    """Flag the offer the way the worker does after a failed delivery (bot.services.fulfilment)."""
    rental = await app.services.rentals.create(await person(app, f"renter{offer_id}"), offer_id, 1)
    await Refunds(app.services.ctx, None, None).flag(rental.id, reason, flag_offer=True)
    async with app.services.ctx.sessions() as session:
        assert (await session.get(Rental, rental.id)).refund_reason == reason
    return rental.id


async def test_a_flagged_offer_says_why_and_how_to_get_reviewed(listings):
    app = listings
    prov, offer_id = await provider_with_offer(app, capacity=4)
    await _flag(app, offer_id, "the provider's machine could not be reached to set up your access")
    shown = await app.router.handle_text(console("prov"), f"/offer {offer_id}")
    assert "Paused after a failed delivery: the provider's machine could not be reached" in shown.text
    assert "To get it reviewed: fix the machine, then run /host verify rig" in shown.text and "ask support" in shown.text
    other = await app.router.handle_text(console("alice"), f"/offer {offer_id}")
    assert "could not be reached" in other.text and "/host verify rig" not in other.text
    (post,) = [n for n in await app.services.outbox.notices() if n.kind == "listing-paused"]
    assert "Paused after a failed delivery: the provider's machine could not be reached" in post.body
    assert "Its provider can have it reviewed" in post.body
    (dm,) = [n for n in await app.services.outbox.notices(user_id=prov.user_id) if n.kind == "provider-failed"]
    assert "/host verify rig" in dm.body
    with pytest.raises(Conflict, match="paused after a failed delivery"):
        await app.services.rentals.create(await person(app, "bob"), offer_id, 1)
    with pytest.raises(PermissionDenied, match="/host verify rig"):
        await app.services.offers.set_status(prov, offer_id, "active")

    # a verify whose GPUs do not match the offer leaves the flag; a matching one clears it and lists it
    kept = await verify_host(app, prov, gpu="rtx3090")
    assert kept.kept_flagged and "do not match" in kept.kept_flagged[0][1]
    assert (await app.services.offers.show(offer_id)).status == "flagged"
    cleared = await verify_host(app, prov)
    assert [o.status for o in cleared.offers] == ["active"] and cleared.offers[0].flag_reason is None
    assert (await listing_notices(app, offer_id))[-1] == "listing-resumed"
    await app.services.rentals.create(await person(app, "bob"), offer_id, 1)


async def test_after_repeated_flags_only_support_clears_it(app):
    prov, offer_id = await provider_with_offer(app, capacity=8)
    for _ in range(3):
        await _flag(app, offer_id, "GPU check failed: found 0 GPUs, the listing promises 1")
        if (await app.services.offers.show(offer_id)).status == "flagged":
            host = await verify_host(app, prov)
    assert (await app.services.offers.show(offer_id)).status == "flagged"
    assert "support has to review it" in host.kept_flagged[0][1]
    shown = await app.services.offers.show(offer_id, prov)
    assert "flagged 3 times, so support has to review it" in shown.review
    root = await app.services.users.identify("console", "root", "root")
    assert (await app.services.offers.set_status(root, offer_id, "active")).status == "active"
