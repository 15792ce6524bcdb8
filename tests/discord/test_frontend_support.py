"""Support and set-up through Discord: /setup with channel and role pickers (Manage Server),
/resolve refused for everyone but the support role, and confirmed with a button by staff."""
from __future__ import annotations

from bot.db.models import Rental
from bot.domain.states import Step
from bot.services.common import move
from tests.discord.test_frontend_basics import discord_person
from tests.helpers import provider_with_offer


async def _disputed_rental(app, renter) -> int:
    _, offer_id = await provider_with_offer(app, "prov")
    alice = await discord_person(app, renter)
    rental = await app.services.rentals.create(alice, offer_id, 2)
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rental.id)
        for step in (Step.DEPOSIT_CONFIRMED, Step.PROVISION, Step.START):
            await move(session, row, step, step.value)
    await app.services.disputes.open(alice, rental.id, "the GPU is missing")
    return rental.id


async def test_setup_with_channel_and_role_pickers(emu, world, front, market_app):
    owner = emu.state.users[world["guild"].owner_id]
    handle = await emu.slash(owner, "setup", channel=world["general"], listings=world["listings"],
                             support=world["general"], support_role=world["support"])
    reply = await handle.done()
    assert "listings" in reply.embeds[0]["description"].lower(), reply.embeds
    (saved,) = [s for s in await market_app.services.places.setups("discord")]
    assert (saved.listings, saved.support, saved.support_role) == (
        str(world["listings"].id), str(world["general"].id), str(world["support"].id))


async def test_resolve_is_refused_privately_for_non_staff(emu, world, front, market_app):
    rental_id = await _disputed_rental(market_app, world["alice"])
    reply = await (await emu.slash(world["alice"], "resolve", channel=world["general"], rental=rental_id,
                                   renter_percent=100)).done()
    assert reply.ephemeral and "only support staff" in reply.content
    assert (await market_app.services.rentals.show(await discord_person(market_app, world["alice"]), rental_id)
            ).state == "disputed"


async def test_resolve_asks_staff_to_confirm_then_decides(emu, world, front, market_app):
    rental_id = await _disputed_rental(market_app, world["alice"])
    sue = world["sue"]                                                  # holds the support role
    prompt_handle = await emu.slash(sue, "resolve", channel=world["general"], rental=rental_id,
                                    renter_percent=60, note="half the time lost")
    prompt = await prompt_handle.done()
    assert prompt.ephemeral and "60%" in prompt.embeds[0]["description"]
    ids = {c["label"]: c["custom_id"] for row in prompt.components for c in row["components"]}
    assert set(ids) == {"Confirm", "Cancel"}
    cancelled = await emu.click(sue, prompt, ids["Cancel"])
    await cancelled.answered()
    assert "nothing was changed" in prompt.content and prompt.components == []
    prompt = await (await emu.slash(sue, "resolve", channel=world["general"], rental=rental_id,
                                    renter_percent=60, note="half the time lost")).done()
    ids = {c["label"]: c["custom_id"] for row in prompt.components for c in row["components"]}
    confirmed = await emu.click(sue, prompt, ids["Confirm"])
    await confirmed.answered()
    (outcome,) = await emu.wait_until(lambda: confirmed.followups, 5, "the outcome")
    assert not outcome.ephemeral and "60" in outcome.embeds[0]["description"]
    assert prompt.content == "Done." and prompt.components == []
    view = await market_app.services.rentals.show(await discord_person(market_app, world["alice"]), rental_id)
    assert view.state == "resolved"
