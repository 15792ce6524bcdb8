"""Listings through the delivery queue: an offer is posted in the listings channel with a Rent
button that opens the private chat; edits, pauses and removal change or remove that post."""
from __future__ import annotations

import asyncio

from bot.services import OfferSpec
from devnet.telegram import LoopbackTelegram
from tests.helpers import provider_with_offer


async def until(predicate, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "not reached in time"
        await asyncio.sleep(0.1)


async def test_a_listing_is_posted_edited_and_removed(tg: LoopbackTelegram, frontend_factory) -> None:
    channel = tg.add_channel("GPU listings", username="gpu_listings")
    front = await frontend_factory(telegram={"listings_chat_id": channel.id})
    provider, offer_id = await provider_with_offer(front.runtime.app, "prov", price="0.5")
    post = await tg.wait_for(channel, f"#{offer_id}")
    rent = post.button("Rent")
    assert rent["url"] == f"https://t.me/{tg.bot_username}?start=rent_{offer_id}"

    reader = tg.add_user("Reader")
    channel.members[reader.id] = type(channel.members[tg.emu.bot.id])(reader.id)
    await reader.press(post, "Rent")                        # follows the deep link into the DM
    await tg.wait_for(reader.dm, "which hours?")

    await front.services.offers.edit(provider, offer_id, OfferSpec(price="0.45"))
    await until(lambda: "0.45" in post.text)
    assert post.edited and len(tg.messages(channel)) == 1

    await front.services.offers.set_status(provider, offer_id, "removed")
    await until(lambda: post.deleted or "removed" in post.text)
    assert tg.violations == []
