"""The loopback Discord for every test here; any violation it recorded fails the test."""
from __future__ import annotations

import pytest

from devnet.discord import DiscordEmulator, point_discord_py
from devnet.discord import restore_discord_py
from tests.discord.minibot import MiniBot


@pytest.fixture
async def emu():
    emulator = DiscordEmulator()
    await emulator.start()
    old = point_discord_py(emulator)
    try:
        yield emulator
    finally:
        restore_discord_py(old)
        await emulator.stop()
    assert not emulator.violations, "the emulator refused what the bot sent:\n" + "\n".join(
        map(str, emulator.violations))


@pytest.fixture
def world(emu):
    """A guild with #general and #listings, alice (member) and a support role held by sue."""
    guild = emu.add_guild("GPU Club", channels=["general", "listings"])
    alice = emu.add_user("alice")
    sue = emu.add_user("sue")
    support = emu.add_role(guild, "support")
    emu.add_member(guild, alice)
    emu.add_member(guild, sue, roles=[support])
    general, listings = (emu.state.channels[c] for c in guild.channel_ids)
    return {"guild": guild, "alice": alice, "sue": sue, "support": support, "general": general,
            "listings": listings}


@pytest.fixture
async def bot(emu, world):
    minibot = MiniBot(world["guild"].id)
    await minibot.start(emu.token)
    try:
        yield minibot
    finally:
        await minibot.stop()
    assert minibot.errors == [], f"the test bot's handlers failed: {minibot.errors}"


@pytest.fixture
async def market_app(emu, world, tmp_path):
    """The core (SQLite) configured for the emulated guild: support role, listings and support channels."""
    from bot.app import open_app
    from tests.conftest import Clock, test_settings

    discord_settings = {"enabled": True, "guild_id": world["guild"].id, "support_role_id": world["support"].id,
                        "listings_channel_id": world["listings"].id, "support_channel_id": world["general"].id,
                        "rest_base_url": emu.rest_base, "gateway_url": emu.gateway_url}
    settings = test_settings(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", data_dir=tmp_path, discord=discord_settings,
                             delivery={"retry_base_s": 0.2, "retry_max_s": 1.0, "max_attempts": 3})
    application = await open_app(settings, clock=Clock())
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def front_factory(emu, market_app):
    """Start the product's Discord front-end (settings overrides allowed), logged in and synced."""
    import asyncio

    from handlers.discord.client import DiscordFrontend

    started: list[tuple[DiscordFrontend, asyncio.Task]] = []

    async def start(**overrides) -> DiscordFrontend:
        settings = market_app.settings.discord.model_copy(update=overrides)
        frontend = DiscordFrontend(market_app, settings, emu.token)
        task = await frontend.start()
        started.append((frontend, task))
        done, _ = await asyncio.wait({task, asyncio.ensure_future(frontend.ready.wait())}, timeout=15,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert frontend.ready.is_set(), "the front-end did not become ready"
        return frontend

    try:
        yield start
    finally:
        for frontend, task in started:
            await frontend.close()
            await asyncio.wait({task}, timeout=10)


@pytest.fixture
async def front(front_factory):
    return await front_factory()
