"""Telegram failing the front-end: a 5xx on a reply is retried once, a 429 is waited out, a
failed delivery is retried by the queue with backoff; nothing is lost and nothing doubled."""
from __future__ import annotations

import asyncio

from devnet.telegram import LoopbackTelegram
from tests.helpers import provider_with_offer


async def test_a_reply_survives_a_5xx_and_a_429_once_each(tg: LoopbackTelegram, frontend_factory) -> None:
    await frontend_factory()
    alice = tg.add_user("Alice")
    await alice.start()
    await tg.wait_for(alice.dm, "Commands:")
    tg.faults.inject("sendMessage", status=502)
    await alice.send("/help")
    await tg.wait_for(alice.dm, "Commands:")
    tg.faults.inject("sendMessage", status=429, retry_after=1)
    await alice.send("/help rent")
    await tg.wait_for(alice.dm, "/rent <offer> <hours>")
    await asyncio.sleep(0.5)
    helps = [m for m in tg.messages(alice.dm) if m.text.startswith("Commands:")]
    assert len(helps) == 2                                  # /start's and the retried one: no double
    assert len([m for m in tg.messages(alice.dm) if "/rent <offer> <hours>" in m.text and "—" in m.text]) >= 1
    assert ("sendMessage", 502) in tg.faults.fired and ("sendMessage", 429) in tg.faults.fired


async def test_a_failed_delivery_is_retried_by_the_queue(tg: LoopbackTelegram, frontend_factory) -> None:
    channel = tg.add_channel("Listings")
    front = await frontend_factory(telegram={"listings_chat_id": channel.id},
                                   delivery={"retry_base_s": 0.5, "retry_max_s": 1.0})
    tg.faults.inject("sendMessage", status=500, times=3)       # beyond the sender's one retry
    _, offer_id = await provider_with_offer(front.runtime.app, "prov")
    post = await tg.wait_for(channel, f"#{offer_id}", timeout=30)
    await asyncio.sleep(1.0)
    assert len(tg.messages(channel)) == 1 and post.button("Rent")
    assert [s for m, s in tg.faults.fired] == [500, 500, 500]
