"""Listings on Discord through the delivery queue: an embed with a Rent button in the listings
channel, edited when the offer is paused or booked out, deleted when it is removed; a failing
send is retried and, thanks to the nonce, never doubled."""
from __future__ import annotations

from tests.discord.test_frontend_basics import discord_person
from tests.helpers import link_wallet, verify_host


async def _offer(emu, world, market_app) -> int:
    provider = world["sue"]
    actor = await discord_person(market_app, provider)
    await market_app.services.hosts.add(actor, "rig", "rig.example.net", 22, "gpuflow")
    await verify_host(market_app, actor)
    await link_wallet(market_app, actor)
    handle = await emu.slash(provider, "offer create", channel=world["general"], gpu="rtx4090", count=1, vram=24,
                             region="eu", token="USDC")
    await handle.answered()
    reply = await (await emu.submit_modal(handle, {"price": "0.5", "min_hours": "1", "max_hours": "24"})).done()
    import re
    return int(re.search(r"#(\d+)", reply.embeds[0]["description"]).group(1))


def _post(emu, world):
    posts = emu.messages(world["listings"])
    return posts[0] if len(posts) == 1 else None


async def test_listing_is_posted_edited_and_deleted(emu, world, front, market_app):
    offer_id = await _offer(emu, world, market_app)
    post = await emu.wait_until(lambda: _post(emu, world), 10, "the listing post")
    embed = post.embeds[0]
    assert embed["title"] == f"Offer #{offer_id}: 1x rtx4090"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Price"].startswith("0.5") and fields["Availability"] == "free"
    assert [c["label"] for row in post.components for c in row["components"]][0].startswith("Rent")
    assert post.nonce is not None and len(post.nonce) <= 25

    await (await emu.slash(world["sue"], "offer pause", channel=world["general"], offer=offer_id)).done()
    await emu.wait_until(lambda: post.edited_timestamp and "paused" in str(post.embeds[0]["fields"]), 10,
                         "the post edited to paused")
    assert post.components == []                              # no Rent on a paused offer
    await (await emu.slash(world["sue"], "offer remove", channel=world["general"], offer=offer_id)).done()
    await emu.wait_until(lambda: post.deleted, 10, "the post deleted")


async def test_rent_from_the_listing_post(emu, world, front, market_app):
    offer_id = await _offer(emu, world, market_app)
    post = await emu.wait_until(lambda: _post(emu, world), 10, "the listing post")
    rent = next(c["custom_id"] for row in post.components for c in row["components"])
    click = await emu.click(world["alice"], post, rent)
    await click.answered()
    reply = await (await emu.submit_modal(click, {"hours": "2"})).done()
    assert "reserved" in reply.embeds[0]["description"] and not reply.ephemeral


async def test_a_5xx_on_a_listing_post_is_retried_and_not_doubled(emu, world, front, market_app):
    import asyncio

    # 503 is not retried by discord.py itself (500/502/504/524 are): the delivery queue retries, and
    # each failed try had already made the message: the nonce makes the resends return it
    emu.faults.server_error(rf"^/channels/{world['listings'].id}/messages$", method="POST", after_commit=True,
                            status=503, times=2)
    await _offer(emu, world, market_app)
    for _ in range(60):                  # the service clock is the test's: move it past each backoff
        if emu.requests.count(("POST", f"/channels/{world['listings'].id}/messages")) == 3:
            break
        market_app.services.ctx.clock.advance(seconds=2)
        await asyncio.sleep(0.3)
    await emu.wait_until(lambda: _post(emu, world), 10, "the post")
    from sqlalchemy import select

    from bot.delivery.models import DeliveryRow

    async def status() -> list[str]:
        async with market_app.services.ctx.sessions() as session:
            return [r.status for r in (await session.scalars(select(DeliveryRow).where(
                DeliveryRow.platform == "discord", DeliveryRow.purpose == "listings"))).all()]
    for _ in range(30):
        if await status() == ["sent"]:
            break
        await asyncio.sleep(0.2)
    assert await status() == ["sent"]
    assert len(emu.messages(world["listings"])) == 1
    assert emu.requests.count(("POST", f"/channels/{world['listings'].id}/messages")) == 3

