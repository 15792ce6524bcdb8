"""Places set by an admin's /setup are where that platform's listings and disputes go; a dispute's
thread, once the front-end opened it, is how a /resolve typed inside it finds its rental."""
from __future__ import annotations

import pytest

from bot.chat import Invocation
from bot.delivery.refs import PlatformRef
from tests.delivery.test_two_platforms import provider_offer
from tests.delivery.test_timers import make_active


@pytest.fixture
def settings_overrides() -> dict:
    return {"admins": ["alpha:root"], "support": ["alpha:sue"]}


def inv(user: str, *, chat: str | None = "guild-2", thread: str | None = None, roles=()) -> Invocation:
    return Invocation(platform="alpha", platform_user_id=user, display_name=user.title(), chat_id=chat,
                      channel_id="general", thread_id=thread, roles=frozenset(roles))


async def test_setup_adds_a_listings_place_and_a_support_role(market):
    m = market
    router = m.app.router
    refused = await router.invoke(inv("eve"), "setup", {"listings": "offers-2"})
    assert not refused.ok
    reply = await router.invoke(inv("root"), "setup", {"listings": "offers-2", "support": "help-2",
                                                       "support_role": "staff"})
    assert reply.ok, reply.text
    shown = await router.invoke(inv("root"), "setup", {})
    assert "offers-2" in shown.text and "help-2" in shown.text and "staff" in shown.text
    await provider_offer(m)
    await m.drain()
    assert sorted(p.where for p in m.alpha.live("listings:")) == ["listings:alpha-guild", "listings:guild-2"]
    assert len(m.beta.live("listings:")) == 1
    assert (await m.services.places.actor(inv("kim", roles={"staff"}))).is_support
    assert not (await m.services.places.actor(inv("kim", chat="guild-3", roles={"staff"}))).is_support
    assert not (await m.services.places.actor(inv("eve"))).is_support


async def test_resolve_inside_the_dispute_thread_finds_its_rental(market, clock):
    m = market
    rid, _ = await make_active(m.app, clock)
    alice = await m.services.users.identify("console", "alice", "alice")
    await m.services.disputes.open(alice, rid, "the GPU is missing")
    threads = [d for d in await m.queue.claim("alpha") if d.thread]
    (d,) = [d for d in threads if d.chat_id == "alpha-guild"]
    assert d.purpose == "support" and "the GPU is missing" in d.message.text()
    assert await m.queue.sent(d, PlatformRef(chat_id="alpha-guild", channel_id="alpha-help", message_id="m1",
                                             thread_id="t-77"))
    inside = Invocation(platform="alpha", platform_user_id="sue", display_name="Sue", chat_id="alpha-guild",
                        channel_id="alpha-help", thread_id="t-77")
    assert await m.services.places.rental_at(inside) == rid
    elsewhere = Invocation(platform="alpha", platform_user_id="sue", display_name="Sue", chat_id="alpha-guild",
                           channel_id="alpha-help", thread_id="t-78")
    assert await m.services.places.rental_at(elsewhere) is None
    reply = await m.app.router.invoke(inside, "resolve", {"renter_percent": 70, "note": "no GPU"})
    assert reply.ok, reply.text
    assert f"Rental #{rid} resolved: 70%" in reply.text


async def test_a_place_posting_into_another_chat_edits_the_post_there(market):
    """Telegram: /setup in a group names a channel (another chat) for the listings; the post is made
    there, and the edit finds it there: a message is at `channel_id or chat_id`."""
    m = market
    for platform in ("alpha", "beta"):
        await m.services.place_store.remove(None, platform, "listings", f"{platform}-guild")
    await m.services.place_store.set(None, "alpha", "listings", "group-1", "channel-9")
    prov, offer_id = await provider_offer(m)
    (d,) = [d for d in await m.queue.claim("alpha") if d.purpose == "listings"]
    assert (d.action, d.channel_id or d.chat_id) == ("post", "channel-9")
    assert await m.queue.sent(d, PlatformRef(chat_id="channel-9", message_id="5"))
    from bot.services import OfferSpec

    await m.services.offers.edit(prov, offer_id, OfferSpec(price="0.3"))
    (edit,) = [d for d in await m.queue.claim("alpha") if d.purpose == "listings"]
    assert edit.action == "edit" and (edit.ref.channel_id or edit.ref.chat_id, edit.ref.message_id) == ("channel-9", "5")
