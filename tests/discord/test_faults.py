"""Faults Discord produces and discord.py must survive: 429 with retry_after and the rate-limit
headers, 5xx (before and after the request took effect), a dropped gateway with RESUME."""
from __future__ import annotations

import asyncio

import discord
import pytest

from tests.discord.minibot import MiniBot


async def test_429_is_waited_out_and_retried(emu, world, bot):
    fault = emu.faults.rate_limit(r"^/channels/\d+/messages$", method="POST", retry_after=0.3)
    channel = bot.client.get_channel(world["general"].id)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await channel.send("after the limit")
    assert loop.time() - started >= 0.3 and fault.hits == 1
    assert [m.content for m in emu.messages(world["general"])] == ["after the limit"]
    assert emu.requests.count(("POST", f"/channels/{world['general'].id}/messages")) == 2


async def test_global_429_on_an_interaction_callback_still_answers(emu, world, bot):
    emu.faults.rate_limit(r"/callback$", retry_after=0.2, scope="global")
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=1)
    await handle.answered()
    assert handle.message.content == "pong 1"


async def test_bucket_exhaustion_is_respected_from_the_headers(emu, world, bot):
    emu.buckets.set_limit("POST /channels/{channel_id}/messages", 2, 0.5)
    channel = bot.client.get_channel(world["general"].id)
    for i in range(5):
        await channel.send(f"m{i}")
    assert [m.content for m in emu.messages(world["general"])] == [f"m{i}" for i in range(5)]
    # discord.py read X-RateLimit-Remaining: 0 and waited instead of hitting a 429
    assert emu.requests.count(("POST", f"/channels/{world['general'].id}/messages")) == 5


async def test_5xx_before_commit_is_retried_once_delivered(emu, world, bot):
    emu.faults.server_error(r"^/channels/\d+/messages$", method="POST", status=502)
    channel = bot.client.get_channel(world["general"].id)
    await channel.send("through a 502")
    assert [m.content for m in emu.messages(world["general"])] == ["through a 502"]


async def test_lost_answer_with_nonce_gives_one_message_without_gives_two(emu, world, bot):
    """discord.py's send() always adds a random nonce with enforce_nonce, so its own 5xx retry
    is deduplicated; a raw send without a nonce shows the duplicate that prevents."""
    channel = bot.client.get_channel(world["general"].id)
    emu.faults.server_error(r"^/channels/\d+/messages$", method="POST", after_commit=True)
    await channel.send("deduped", nonce="delivery-1")
    emu.faults.server_error(r"^/channels/\d+/messages$", method="POST", after_commit=True)
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    await bot.client.http.request(route, json={"content": "doubled"})
    assert [m.content for m in emu.messages(world["general"])] == ["deduped", "doubled", "doubled"]


async def test_gateway_drop_resumes_and_replays_missed_interactions(emu, world, bot):
    resumed = asyncio.Event()
    bot.client.event(_set_on(resumed, "on_resumed"))
    await emu.gateway.drop()
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=2)   # sent while down
    await asyncio.wait_for(resumed.wait(), 10)
    await handle.answered()
    assert handle.message.content == "pong 2"
    assert emu.gateway.identifies == 1 and emu.gateway.resumes == 1
    assert [f["op"] for f in emu.gateway.frames_in].count(6) == 1


async def test_reconnect_request_resumes(emu, world, bot):
    await emu.gateway.request_reconnect()
    await asyncio.wait_for(emu.gateway.resumed.wait(), 10)
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=4)
    await handle.answered()
    assert emu.gateway.resumes == 1 and emu.gateway.identifies == 1


async def test_unknown_session_on_resume_makes_the_client_identify_again(emu, world, bot):
    await emu.gateway.drop(forget=True)          # the RESUME will get INVALID_SESSION
    await emu.wait_until(lambda: emu.gateway.identifies == 2 and emu.gateway.connected, 15, "a new IDENTIFY")
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=5)
    await handle.answered()


async def test_privileged_intents_are_refused_unless_enabled(emu, world):
    minibot = MiniBot(world["guild"].id, intents=discord.Intents.all())
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await minibot.start(emu.token)
    await minibot.stop()
    emu.gateway.allowed_intents = (1 << 1) | (1 << 8) | (1 << 15)
    allowed = MiniBot(world["guild"].id, intents=discord.Intents.all())
    await allowed.start(emu.token)
    try:
        members = {m.id for m in allowed.client.get_guild(world["guild"].id).members}
        assert {world["alice"].id, world["sue"].id} <= members       # chunked with the members intent
    finally:
        await allowed.stop()


async def test_a_wrong_token_fails_login(emu, world):
    minibot = MiniBot(world["guild"].id)
    with pytest.raises(discord.LoginFailure):
        await minibot.start("not-the-token")
    await minibot.stop()


async def test_auto_sharded_client_gets_each_guild_on_its_shard(emu, world):
    emu.recommended_shards = 2
    guilds = [world["guild"]]
    while len({(g.id >> 22) % 2 for g in guilds}) < 2:
        guilds.append(emu.add_guild(f"Other {len(guilds)}"))
    minibot = MiniBot(world["guild"].id, client_cls=discord.AutoShardedClient)
    await minibot.start(emu.token)
    try:
        assert {s.shard for s in emu.gateway.sessions.values()} == {(0, 2), (1, 2)}
        assert {g.id for g in minibot.client.guilds} == {g.id for g in guilds}
        handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=6)
        await handle.answered()
    finally:
        await minibot.stop()


def _set_on(event: asyncio.Event, name: str):
    async def handler() -> None:
        event.set()
    handler.__name__ = name
    return handler

