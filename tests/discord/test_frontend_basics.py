"""The product's Discord front-end through the emulator: commands from the core's table,
replies as embeds, ephemeral when private, buttons and modals that call the core."""
from __future__ import annotations

from bot.commands import top_level
from tests.helpers import link_wallet, provider_with_offer, verify_host


async def discord_person(app, user):
    return await app.services.users.identify("discord", str(user.id), user.username)


async def test_commands_are_the_core_table(emu, world, front):
    synced = {c.name: c for c in emu.state.commands.values() if c.guild_id == world["guild"].id}
    assert set(synced) == {t.name for t in top_level()}
    offer = synced["offer"]
    assert [o["name"] for o in offer.options] == ["show", "create", "edit", "pause", "resume", "remove"]
    rent = {o["name"]: o for o in synced["rent"].options}
    assert rent["offer"]["type"] == 4 and rent["offer"]["autocomplete"] is True
    assert rent["hours"]["min_value"] == 1 and rent["hours"]["max_value"] == 2160
    resolve = {o["name"]: o for o in synced["resolve"].options}
    assert resolve["rental"].get("required") in (None, False)          # implied inside a dispute thread
    assert synced["setup"].default_member_permissions == str(1 << 5)   # Manage Server


async def test_help_is_a_public_embed(emu, world, front):
    handle = await emu.slash(world["alice"], "help", channel=world["general"])
    reply = await handle.done()
    assert not reply.ephemeral and "/rent" in reply.embeds[0]["description"]


async def test_offers_page_with_next_button_edits_the_same_message(emu, world, front, market_app):
    for i in range(12):
        await provider_with_offer(market_app, f"prov{i}")
    handle = await emu.slash(world["alice"], "offers", channel=world["general"], gpu="rtx4090")
    page = await handle.done()
    assert "page 1/" in page.embeds[0]["description"]
    next_id = next(c["custom_id"] for row in page.components for c in row["components"]
                   if c.get("label") == "Next page")
    click = await emu.click(world["alice"], page, next_id)
    await click.answered()
    assert click.response_type in (6, 7) and click.message.id == page.id
    assert "page 2/" in emu.state.channels[page.channel_id].messages[page.id].embeds[0]["description"]


async def test_rent_button_asks_hours_in_a_modal(emu, world, front, market_app):
    _, offer_id = await provider_with_offer(market_app, "prov")
    shown = await (await emu.slash(world["alice"], "offer show", channel=world["general"], offer=offer_id)).done()
    rent_id = next(c["custom_id"] for row in shown.components for c in row["components"]
                   if c.get("label", "").startswith("Rent"))
    click = await emu.click(world["alice"], shown, rent_id)
    await click.answered()
    assert click.response_type == 9
    reply = await (await emu.submit_modal(click, {"hours": "3"})).done()
    assert f"reserved" in reply.embeds[0]["description"]


async def test_bad_modal_input_is_refused_plainly_and_privately(emu, world, front, market_app):
    _, offer_id = await provider_with_offer(market_app, "prov")
    shown = await (await emu.slash(world["alice"], "offer show", channel=world["general"], offer=offer_id)).done()
    rent_id = next(c["custom_id"] for row in shown.components for c in row["components"]
                   if c.get("label", "").startswith("Rent"))
    click = await emu.click(world["alice"], shown, rent_id)
    await click.answered()
    reply = await (await emu.submit_modal(click, {"hours": "abc"})).done()
    assert reply.ephemeral and "hours" in reply.content.lower()


async def test_autocomplete_offers(emu, world, front, market_app):
    _, offer_id = await provider_with_offer(market_app, "prov")
    handle = await emu.autocomplete(world["alice"], "rent", channel=world["general"], focused="offer", offer="")
    await handle.answered()
    assert [c["value"] for c in handle.choices] == [offer_id]


async def test_offer_create_options_then_modal(emu, world, front, market_app):
    provider = world["sue"]
    actor = await discord_person(market_app, provider)
    await market_app.services.hosts.add(actor, "rig", "rig.example.net", 22, "gpuflow")
    handle = await emu.slash(provider, "offer create", channel=world["general"], gpu="rtx4090", count=2, vram=24,
                             region="eu", token="USDC")
    await handle.answered()
    assert handle.response_type == 9
    reply = await (await emu.submit_modal(handle, {"price": "0.75", "min_hours": "1", "max_hours": "48"})).done()
    text = reply.embeds[0]["description"]      # saved, but the machine and the wallet come first
    assert "is saved, not listed yet" in text and "/host verify rig" in text and "/wallet link" in text, text
    await verify_host(market_app, actor, count=2)
    await link_wallet(market_app, actor)
    handle = await emu.slash(provider, "offer create", channel=world["general"], gpu="rtx4090", count=2, vram=24,
                             region="eu", token="USDC")
    await handle.answered()
    reply = await (await emu.submit_modal(handle, {"price": "0.75", "min_hours": "1", "max_hours": "48"})).done()
    assert "is listed" in reply.embeds[0]["description"]
