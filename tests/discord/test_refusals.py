"""The emulator refuses what Discord refuses, with Discord's status and error code, and records
each refusal as a violation (the fixture would fail the test; these tests take them)."""
from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
from discord.http import Route


async def _send_raw(bot, channel_id: int, payload: dict) -> discord.HTTPException:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.client.http.request(route, json=payload)
    return caught.value


def _kinds(emu) -> list[str]:
    return [v.kind for v in emu.take_violations()]


async def test_content_over_2000_characters(emu, world, bot):
    channel = bot.client.get_channel(world["general"].id)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * 2001)
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "2000 or fewer" in caught.value.text
    assert _kinds(emu) == ["refused-50035"] and emu.messages(world["general"]) == []


@pytest.mark.parametrize("payload, fragment", [
    ({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"r{r}"}]}
                     for r in range(6)]}, "5 or fewer"),
    ({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"b{i}"}
                                                for i in range(6)]}]}, "In components.0.components"),
    ({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "x" * 101}]}]},
     "In components.0.components.0.custom_id"),
    ({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "same"},
                                                {"type": 2, "style": 1, "label": "c", "custom_id": "same"}]}]},
     "cannot be duplicated"),
    ({"content": "x", "embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, "6000"),
    ({"content": "x", "embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "In embeds.0.fields"),
    ({"content": "<@1>", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}, "mutually exclusive"),
    ({}, "Cannot send an empty message"),
    ({"components": [{"type": 1, "components": [{"type": 2, "style": 5, "label": "wallet", "url": "wc:abc@2"}]}]},
     "Scheme"),
])
async def test_invalid_messages_are_refused(emu, world, bot, payload, fragment):
    """Some limits are in the OpenAPI file (spec-request), the rest only in Discord's docs."""
    error = await _send_raw(bot, world["general"].id, payload)
    assert error.status == 400 and fragment in error.text, error.text
    assert len(_kinds(emu)) == 1 and emu.messages(world["general"]) == []


async def test_spec_invalid_body_is_a_400_and_a_violation(emu, world, bot):
    error = await _send_raw(bot, world["general"].id, {"content": "x", "embeds": [{"color": "red"}]})
    assert error.status == 400 and error.code == 50035
    assert _kinds(emu) == ["spec-request"]


async def test_ephemeral_flag_on_a_channel_message_is_ignored_as_by_discord(emu, world, bot):
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=world["general"].id)
    await bot.client.http.request(route, json={"content": "not secret at all", "flags": 64})
    (message,) = emu.messages(world["general"])
    assert not message.ephemeral and message.flags == 0      # everyone sees it


async def test_files_must_be_named_in_attachments(emu, world, bot):
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=world["general"].id)
    form = [{"name": "payload_json", "value": '{"content": "f", "attachments": []}', "content_type": "application/json"},
            {"name": "files[0]", "value": io.BytesIO(b"data"), "filename": "a.txt", "content_type": "text/plain"}]
    with pytest.raises(discord.HTTPException) as caught:
        await bot.client.http.request(route, form=form, files=[discord.File(io.BytesIO(b"data"), "a.txt")])
    assert caught.value.code == 50035 and _kinds(emu) == ["refused-50035"]


async def test_uploads_over_the_size_limit_get_413(emu, world, bot):
    channel = bot.client.get_channel(world["general"].id)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(file=discord.File(io.BytesIO(b"0" * (10 * 1024 * 1024 + 1)), "big.bin"))
    assert caught.value.status == 413 and caught.value.code == 40005


async def test_an_interaction_is_answered_once(emu, world, bot):
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=1)
    await handle.answered()
    i = handle.interaction
    status, body = await _post(emu, f"/interactions/{i.id}/{i.token}/callback?with_response=1",
                               {"type": 4, "data": {"content": "again"}})
    assert status == 400 and body["code"] == 40060
    assert _kinds(emu) == ["refused-40060"]


async def test_callback_type_must_fit_the_interaction(emu, world, bot):
    bot.release.clear()
    i = (await emu.autocomplete(world["alice"], "market post", channel=world["general"], focused="gpu",
                                offer=1, gpu="A")).interaction
    status, body = await _post(emu, f"/interactions/{i.id}/{i.token}/callback", {"type": 4, "data": {"content": "x"}})
    # the test bot may have answered first; either way a message is not a valid autocomplete answer
    assert status == 400 and body["code"] in (50035, 40060)
    emu.take_violations()


async def test_answer_after_three_seconds_is_unknown_interaction(emu, world, bot):
    gate = asyncio.Event()
    results: list[BaseException] = []

    @bot.tree.command(name="late", description="answers too late", guild=bot.guild)
    async def late(interaction: discord.Interaction) -> None:
        await gate.wait()
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            results.append(exc)
    await bot.tree.sync(guild=bot.guild)
    handle = await emu.slash(world["alice"], "late", channel=world["general"])
    await asyncio.sleep(0.2)
    emu.state.advance(3.1)
    gate.set()
    await emu.wait_until(lambda: results, 5, "the late answer's error")
    assert results[0].code == 10062 and not handle.interaction.answered
    assert _kinds(emu) == ["deadline"]


async def test_interaction_token_lasts_15_minutes(emu, world, bot):
    handle = await emu.slash(world["alice"], "ping", channel=world["general"], n=1)
    await handle.answered()
    token = handle.interaction.token
    status, _ = await _post(emu, f"/webhooks/{emu.state.application_id}/{token}", {"content": "in time"})
    assert status == 200
    emu.state.advance(15 * 60 + 1)
    status, body = await _post(emu, f"/webhooks/{emu.state.application_id}/{token}", {"content": "too late"})
    assert status == 401 and body["code"] == 50027


async def test_a_modal_holds_at_most_five_inputs(emu, world, bot):
    gate = asyncio.Event()
    errors: list[BaseException] = []

    @bot.tree.command(name="bigform", description="six inputs", guild=bot.guild)
    async def bigform(interaction: discord.Interaction) -> None:
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": f"f{i}", "label": f"F{i}", "style": 1}]}
                for i in range(6)]
        adapter = discord.webhook.async_.async_context.get()
        params = discord.webhook.async_.MultipartParameters(
            payload={"type": 9, "data": {"custom_id": "m", "title": "Too big", "components": rows}},
            multipart=None, files=None)
        try:
            await adapter.create_interaction_response(interaction.id, interaction.token,
                                                      session=interaction._session, params=params)
        except discord.HTTPException as exc:
            errors.append(exc)
        gate.set()
    await bot.tree.sync(guild=bot.guild)
    await emu.slash(world["alice"], "bigform", channel=world["general"])
    await asyncio.wait_for(gate.wait(), 5)
    assert errors and errors[0].code == 50035 and "In data.components: Must be between 1 and 5" in errors[0].text
    assert _kinds(emu) == ["refused-50035"]


async def test_rest_without_the_bot_token_is_401(emu):
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.rest_base + "/users/@me", headers={"Authorization": "Bot wrong"}) as resp:
            assert resp.status == 401 and resp.headers["Content-Type"] == "application/json"


async def test_unimplemented_discord_route_is_a_violation(emu):
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.rest_base + "/guilds/1/audit-logs",
                               headers={"Authorization": f"Bot {emu.token}"}) as resp:
            assert resp.status == 404
    assert _kinds(emu) == ["unimplemented"]


async def _post(emu, path: str, payload: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.rest_base + path, json=payload) as resp:
            assert resp.headers.get("Content-Type") == "application/json"
            return resp.status, await resp.json()
