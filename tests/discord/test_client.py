"""The real discord.py client end to end through the emulator: login, command sync, slash
commands with typed options, subcommand groups, autocomplete, buttons, modals, deferrals, DMs
with a file, private threads."""
from __future__ import annotations

import asyncio

import discord
import pytest

from devnet.discord import ClientRefused


async def test_login_identifies_and_syncs_guild_commands(emu, world, bot):
    assert emu.gateway.identifies == 1 and emu.gateway.heartbeats >= 1
    assert bot.client.application_id == emu.state.application_id
    assert bot.client.get_guild(world["guild"].id).name == "GPU Club"
    names = sorted(c.name for c in emu.state.commands.values() if c.guild_id == world["guild"].id)
    assert names == ["dm", "market", "ping", "rent", "setup", "slow"]
    market = next(c for c in emu.state.commands.values() if c.name == "market")
    assert sorted((o["name"], o["type"]) for o in market.options) == [("admin", 2), ("post", 1)]


async def test_slash_command_with_typed_options_answers_ephemerally(emu, world, bot):
    alice, general = world["alice"], world["general"]
    handle = await emu.slash(alice, "ping", channel=general, n=3, word="beta", flag=True)
    await handle.answered()
    assert bot.seen == [{"n": 3, "word": "beta", "flag": True}]
    assert handle.response_type == 4 and handle.message.content == "pong 3 beta"
    assert handle.message.ephemeral
    assert emu.messages(general, viewer=alice) == [handle.message]
    assert emu.messages(general, viewer=world["sue"]) == [] and emu.messages(general) == []


async def test_the_client_refuses_what_discord_would_not_send(emu, world, bot):
    alice, general = world["alice"], world["general"]
    for bad in ({"n": 11}, {"n": "3"}, {"word": "alpha"}, {"n": 1, "word": "gamma"}, {"n": 1, "nope": 1}):
        with pytest.raises(ClientRefused):
            await emu.slash(alice, "ping", channel=general, **bad)
    with pytest.raises(ClientRefused):
        await emu.slash(alice, "market", channel=general)          # needs a subcommand
    assert bot.seen == []


async def test_subcommand_group_resolves_a_member_option_and_roles(emu, world, bot):
    sue, alice, general = world["sue"], world["alice"], world["general"]
    handle = await emu.slash(sue, "market admin pause", channel=general, offer=7, member=alice)
    await handle.answered()
    assert handle.message.content == "paused 7 for alice"
    assert bot.seen == [{"pause": 7, "member": alice.id, "roles": [world["guild"].id, world["support"].id]}]


async def test_autocomplete_returns_choices(emu, world, bot):
    handle = await emu.autocomplete(world["alice"], "market post", channel=world["general"], focused="gpu",
                                    offer=1, gpu="100")
    await handle.answered()
    assert handle.response_type == 8
    assert [c["value"] for c in handle.choices] == ["A100", "H100"]


async def test_dynamic_button_works_on_a_post_after_a_restart(emu, world, bot):
    alice, general = world["alice"], world["general"]
    posted = await emu.slash(alice, "market post", channel=general, offer=42, gpu="A100")
    await posted.answered()
    post = posted.message
    assert not post.ephemeral and post.embeds[0]["title"] == "Offer 42"
    assert emu.messages(general) == [post]

    await bot.stop()
    from tests.discord.minibot import MiniBot
    second = MiniBot(world["guild"].id)
    await second.start(emu.token)
    try:
        click = await emu.click(alice, post, "rent:42")
        await click.answered()
        assert click.message.content == "renting offer 42" and click.message.ephemeral
    finally:
        await second.stop()


async def test_modal_round_trip(emu, world, bot):
    alice = world["alice"]
    opened = await emu.slash(alice, "rent", channel=world["general"])
    await opened.answered()
    assert opened.response_type == 9 and opened.modal["title"] == "Rent a GPU"
    with pytest.raises(ClientRefused):
        await emu.submit_modal(opened, {"hours": "1234"})              # over max_length 3
    hours_id, note_id = (row["components"][0]["custom_id"] if row["type"] == 1 else row["component"]["custom_id"]
                         for row in opened.modal["components"])
    submitted = await emu.submit_modal(opened, {hours_id: "4"})
    await submitted.answered()
    assert submitted.message.content == "rent for 4 h (-)" and submitted.message.ephemeral


async def test_deferred_reply_then_follow_up_and_edit(emu, world, bot):
    handle = await emu.slash(world["alice"], "slow", channel=world["general"])
    await handle.answered()
    assert handle.response_type == 5 and handle.message.flags & (1 << 7)      # "is thinking..."
    bot.release.set()
    final = await handle.done(lambda m: m.content == "done, edited")
    assert final.ephemeral and handle.followups == []        # the follow-up filled the deferred message


async def test_dm_with_a_file(emu, world, bot):
    alice = world["alice"]
    handle = await emu.slash(alice, "dm", channel=world["general"])
    dm = await emu.wait_message(alice)
    assert dm.content == "your key" and dm.attachments[0].filename == "id_ed25519"
    assert dm.attachments[0].data == b"-----KEY-----\n"
    reply = await handle.done()
    assert reply.content == "sent by DM" and reply.ephemeral


async def test_closed_dms_give_50007_to_the_bot(emu, world, bot):
    alice = world["alice"]
    alice.dms_open = False
    handle = await emu.slash(alice, "dm", channel=world["general"])
    reply = await handle.done()
    assert reply.content == "open your DMs (50007)" and emu.dms(alice) == []


async def test_private_thread_members_archive_and_lock(emu, world, bot):
    general, alice, sue = world["general"], world["alice"], world["sue"]
    channel = bot.client.get_channel(general.id)
    thread = await channel.create_thread(name="dispute-7", type=discord.ChannelType.private_thread, invitable=False)
    for person in (alice, sue):
        await thread.add_user(discord.Object(person.id))
    await thread.send(f"<@&{world['support'].id}> rental 7 <@{alice.id}>",
                      allowed_mentions=discord.AllowedMentions(roles=[discord.Object(world["support"].id)],
                                                               users=False, everyone=False))
    emulated = emu.state.channels[thread.id]
    assert emulated.type == 12 and emulated.thread_members == {emu.state.bot.id, alice.id, sue.id}
    users, roles, everyone = emu.pinged(emu.messages(emulated)[0])
    assert users == [] and roles == [world["support"].id] and not everyone
    await thread.edit(archived=True, locked=True)
    assert emulated.archived and emulated.locked
    assert emu.threads(general) == [emulated]


async def test_fetch_message_edit_and_delete(emu, world, bot):
    channel = bot.client.get_channel(world["listings"].id)
    sent = await channel.send("offer 1", nonce="offer-1")
    again = await channel.send("offer 1", nonce="offer-1")          # enforce_nonce: the same message
    assert again.id == sent.id and len(emu.messages(world["listings"])) == 1
    fetched = await channel.fetch_message(sent.id)
    await fetched.edit(content="offer 1 (paused)")
    assert emu.messages(world["listings"])[0].content == "offer 1 (paused)"
    await fetched.delete()
    assert emu.messages(world["listings"]) == []
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_member_and_roles_fetch(emu, world, bot):
    guild = bot.client.get_guild(world["guild"].id)
    member = await guild.fetch_member(world["sue"].id)
    assert world["support"].id in [r.id for r in member.roles]
    roles = await guild.fetch_roles()
    assert "support" in [r.name for r in roles]
    await asyncio.sleep(0)


async def test_commands_in_a_dm_and_hidden_commands(emu, world, bot):
    alice, owner = world["alice"], emu.state.users[world["guild"].owner_id]
    handle = await emu.slash(alice, "ping", n=9)                 # in alice's DM with the bot
    await handle.answered()
    assert handle.message.content == "pong 9" and emu.state.channels[handle.message.channel_id].is_dm
    with pytest.raises(ClientRefused, match="hidden"):
        await emu.slash(alice, "setup", channel=world["general"])      # needs Manage Server
    allowed = await emu.slash(owner, "setup", channel=world["general"])
    await allowed.answered()
