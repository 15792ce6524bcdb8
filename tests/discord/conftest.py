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
