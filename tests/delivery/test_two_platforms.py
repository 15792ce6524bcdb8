"""Two platforms served at once by one core: listings on both, DMs where the rental was made,
a failing platform retried and marked failed while the other carries on."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.delivery.kinds import Kind
from bot.delivery.models import DeliveryRow
from bot.delivery.notify import notify
from bot.services import OfferSpec
from tests.helpers import link_wallet, verify_host


async def provider_offer(m, platform: str = "alpha") -> tuple[object, int]:
    prov = await m.on(platform, "prov", "Prov")
    await m.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    await verify_host(m.app, prov)          # listed only on a verified host, with a payout wallet
    await link_wallet(m.app, prov)
    view = await m.services.offers.create(prov, OfferSpec(gpu="rtx4090", count=1, vram=24, price="0.5", token="USDC",
                                                           min_hours=1, max_hours=24, region="eu"))
    return prov, view.id


async def deliveries(m) -> list[DeliveryRow]:
    async with m.services.ctx.sessions() as session:
        return list((await session.scalars(select(DeliveryRow).order_by(DeliveryRow.id))).all())


async def test_a_listing_is_posted_on_both_platforms_and_edited_on_both(market):
    m = market
    prov, offer_id = await provider_offer(m)
    await m.drain()
    for platform in (m.alpha, m.beta):
        (post,) = platform.live("listings:")
        assert f"Offer #{offer_id}" in post.text and "0.5 USDC/h" in post.text and post.kind == "listing-created"
    await m.services.offers.edit(prov, offer_id, OfferSpec(price="0.45"))
    await m.drain()
    for platform in (m.alpha, m.beta):
        (post,) = platform.live("listings:")          # the same post, edited: not a second one
        assert "0.45 USDC/h" in post.text and post.edits == 1
    await m.services.offers.set_status(prov, offer_id, "paused")
    await m.drain()
    assert all("Paused by the provider" in p.live("listings:")[0].text for p in (m.alpha, m.beta))
    await m.services.offers.set_status(prov, offer_id, "removed")
    await m.drain()
    assert m.alpha.live("listings:") == [] and m.beta.live("listings:") == []
    assert len(m.alpha.posted) == len(m.beta.posted) == 1     # one post each, edited, then deleted


async def test_edits_made_before_the_first_post_went_out_post_once_with_the_latest_data(market):
    m = market
    prov, offer_id = await provider_offer(m)
    for price in ("0.4", "0.3", "0.2"):
        await m.services.offers.edit(prov, offer_id, OfferSpec(price=price))
    await m.drain()
    for platform in (m.alpha, m.beta):
        (post,) = platform.posted
        assert "0.2 USDC/h" in post.text and post.edits == 0
    statuses = [d.status for d in await deliveries(m) if d.platform == "alpha"]
    assert statuses.count("superseded") == 3 and statuses.count("sent") == 1


async def test_a_dm_goes_only_to_the_platform_the_rental_was_made_on(market):
    m = market
    _, offer_id = await provider_offer(m)
    renter_a = await m.on("alpha", "ann", "Ann")
    renter_b = await m.on("beta", "ann-b", "Ann")
    # the same person on both platforms (as after signing in with one wallet: tests/delivery/test_identity.py)
    from bot.services.identity import attach

    async with m.services.ctx.sessions.begin() as session:
        await attach(session, renter_b.user_id, renter_a.user_id)
    renter_on_beta = await m.on("beta", "ann-b", "Ann")
    assert renter_on_beta.user_id == renter_a.user_id
    rental = await m.services.rentals.create(renter_on_beta, offer_id, 2)      # rented on beta
    async with m.services.ctx.sessions.begin() as session:
        await notify(session, Kind.FUNDED, f"rental:{rental.id}:funded", data={"rental": rental.id},
                     user_id=renter_a.user_id, rental_id=rental.id)
    await m.drain()
    assert [p.text for p in m.beta.live("dm:ann-b")] == [f"Rental #{rental.id}: your deposit is confirmed. "
                                                         "Setting up your machine now."]
    assert m.alpha.live("dm:") == []


async def test_a_failing_platform_is_retried_with_backoff_then_failed_and_support_told(market, clock):
    m = market
    m.beta.fail = "HTTP 500 Internal Server Error"
    renter = await m.on("beta", "bea", "Bea")
    _, offer_id = await provider_offer(m)
    rental = await m.services.rentals.create(renter, offer_id, 1)
    async with m.services.ctx.sessions.begin() as session:
        await notify(session, Kind.CREDENTIALS, f"rental:{rental.id}:credentials", user_id=renter.user_id,
                     rental_id=rental.id, data={"rental": rental.id, "host": "h", "port": 22, "user": "r_1",
                                                "ssh_command": "ssh r_1@h", "private_key": "KEY-MATERIAL"})
    await m.drain()
    (creds,) = [d for d in await deliveries(m) if d.purpose == "dm"]
    assert (creds.status, creds.attempts, creds.last_error) == ("pending", 1, "HTTP 500 Internal Server Error")
    first_delay = (creds.next_attempt_at - clock.now).total_seconds()
    assert 8 <= first_delay <= 12                                     # retry_base_s 10, +-20 %
    assert len(m.alpha.live("listings:")) == 1                        # alpha is unaffected
    await m.drain()                                                   # not due yet: not tried again
    assert [d.attempts for d in await deliveries(m) if d.id == creds.id] == [1]
    clock.advance(seconds=first_delay + 0.1)
    await m.drain()
    (creds,) = [d for d in await deliveries(m) if d.id == creds.id]
    assert creds.attempts == 2 and 16 <= (creds.next_attempt_at - clock.now).total_seconds() <= 24   # doubled
    clock.advance(seconds=60)
    await m.drain()
    (creds,) = [d for d in await deliveries(m) if d.id == creds.id]
    assert (creds.status, creds.attempts) == ("failed", 3) and "HTTP 500" in creds.last_error
    await m.drain()                                                   # support hears of it on alpha
    (told,) = m.alpha.live("support:")
    assert "SSH login" in told.text and "Bea" in told.text and "HTTP 500" in told.text and "KEY-MATERIAL" not in told.text
    # the sealed credentials do not stay behind once the delivery is given up
    notices = await m.services.outbox.notices(rental_id=rental.id)
    assert [n.body for n in notices if n.sensitive] == ["(delivered; its secret content is wiped)"]
    m.beta.fail = None
    clock.advance(hours=1)
    await m.drain()
    assert m.beta.live("dm:") == []                                   # a failed delivery stays failed
    assert [p.kind for p in m.beta.live("support:")] == ["delivery-failed"]   # beta's support, once it is back


async def test_a_rate_limit_waits_without_counting_a_failure(market, clock):
    m = market
    renter = await m.on("alpha", "al", "Al")
    async with m.services.ctx.sessions.begin() as session:
        await notify(session, Kind.WALLET, "wallet:x", data={"text": "hello"}, user_id=renter.user_id)
    (d,) = await m.queue.claim("alpha")
    await m.queue.later(d, retry_after=30)
    assert await m.queue.claim("alpha") == []
    clock.advance(seconds=31)
    (again,) = await m.queue.claim("alpha")
    assert again.key == d.key and again.attempt == 1


async def test_a_lost_lease_is_claimed_again_with_the_same_idempotency_key(market, clock):
    m = market
    renter = await m.on("alpha", "al", "Al")
    async with m.services.ctx.sessions.begin() as session:
        await notify(session, Kind.WALLET, "wallet:y", data={"text": "hello"}, user_id=renter.user_id)
    (d,) = await m.queue.claim("alpha")
    assert await m.queue.claim("alpha") == []                         # leased
    clock.advance(seconds=m.services.ctx.settings.delivery.lease_s + 1)
    (again,) = await m.queue.claim("alpha")
    assert again.id == d.id and again.key == d.key and again.attempt == 2
    assert await m.queue.sent(again) and not await m.queue.sent(d)    # the late first worker changes nothing


async def test_a_booked_out_offer_says_so_on_both_platforms_and_again_when_a_slot_frees(market):
    m = market
    _, offer_id = await provider_offer(m)
    renter = await m.on("beta", "bea", "Bea")
    await m.drain()
    rental = await m.services.rentals.create(renter, offer_id, 1)          # its only slot
    await m.drain()
    for platform in (m.alpha, m.beta):
        (post,) = platform.live("listings:")
        assert "Fully booked right now" in post.text and post.edits == 1
    await m.services.rentals.cancel(renter, rental.id)
    await m.drain()
    for platform in (m.alpha, m.beta):
        (post,) = platform.live("listings:")
        assert "1 of 1 available" in post.text and post.edits == 2
