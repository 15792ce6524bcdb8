"""Where a call comes from decides who the caller is there: support staff by a platform role or as
the support chat's admins, admins for /setup, the rental implied inside a dispute's thread."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.chat import Invocation
from bot.db.models import Dispute, Rental
from bot.domain.states import Step
from bot.services.common import move
from tests.conftest import test_settings as make_settings
from tests.helpers import person, provider_with_offer, snapshot

GUILD, OTHER_GUILD = "1001", "2002"
SUPPORT_ROLE, ADMIN_ROLE = "777", "999"
TG_SUPPORT_CHAT = "-100123"


@pytest.fixture
async def app(database_url, clock, tmp_path):
    from bot.app import open_app

    settings = make_settings(database_url, data_dir=tmp_path,
                             discord={"guild_id": int(GUILD), "support_role_ids": [int(SUPPORT_ROLE)],
                                      "admin_role_ids": [int(ADMIN_ROLE)]},
                             telegram={"support_chat_id": int(TG_SUPPORT_CHAT)})
    application = await open_app(settings, clock=clock)
    yield application
    await application.close()


def discord(user: str, *roles: str, guild: str = GUILD, channel: str = "50", thread: str | None = None,
            name: str | None = None) -> Invocation:
    return Invocation(platform="discord", platform_user_id=user, display_name=name or f"user{user}",
                      chat_id=guild, channel_id=channel, thread_id=thread, roles=frozenset(roles))


def telegram(user: str, chat: str, *roles: str, topic: str | None = None) -> Invocation:
    return Invocation(platform="telegram", platform_user_id=user, display_name=f"tg{user}", chat_id=chat,
                      thread_id=topic, roles=frozenset(roles))


async def _disputed_rental(app) -> int:
    await provider_with_offer(app, "prov")
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, 1, 2)
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rental.id)
        for step in (Step.DEPOSIT_CONFIRMED, Step.PROVISION, Step.START):
            await move(session, row, step, step.value)
    await app.services.disputes.open(alice, rental.id, "the GPU is missing")
    return rental.id


async def test_a_configured_discord_role_makes_support_staff_for_that_call_only(app):
    await _disputed_rental(app)
    staff = await app.router.invoke(discord("10", SUPPORT_ROLE), "disputes")
    assert staff.ok and "rental #1" in staff.text
    refused = await app.router.invoke(discord("10"), "disputes")           # the role was taken away
    assert not refused.ok and refused.text == "Sorry: only support staff can use /disputes"
    other = await app.router.invoke(discord("11", "123"), "disputes")
    assert not other.ok and "only support staff" in other.text


async def test_telegram_support_group_admins_are_support_only_there(app):
    await _disputed_rental(app)
    here = await app.router.handle_text(telegram("20", TG_SUPPORT_CHAT, "chat-admin"), "/disputes")
    assert here.ok, here.text
    elsewhere = await app.router.handle_text(telegram("20", "-100999", "chat-admin"), "/disputes")
    assert not elsewhere.ok and "only support staff" in elsewhere.text
    member = await app.router.handle_text(telegram("21", TG_SUPPORT_CHAT), "/disputes")
    assert not member.ok


async def test_rental_is_implied_inside_its_dispute_thread(app):
    rental_id = await _disputed_rental(app)
    thread = discord("10", SUPPORT_ROLE, thread="7777")
    async with app.services.ctx.sessions.begin() as session:
        await session.execute(update(Dispute).where(Dispute.rental_id == rental_id).values(thread_ref=thread.place))
    outside = await app.router.handle_text(discord("10", SUPPORT_ROLE), "/resolve 60 host was down")
    assert not outside.ok and "say which rental" in outside.text, outside.text
    await app.router.invoke(discord("12", thread="7777"), "rentals")    # the intruder is known already
    before = await snapshot(app)
    intruder = await app.router.handle_text(discord("12", thread="7777"), "/resolve 100 all mine")
    assert not intruder.ok and intruder.text == "Sorry: only support staff can use /resolve"
    assert await snapshot(app) == before
    decided = await app.router.handle_text(thread, "/resolve 60 host was down 2 h")
    assert decided.ok and decided.kind == "dispute.resolved", decided.text
    assert f"Rental #{rental_id} resolved: 60% to the renter" in decided.text
    again = await app.router.invoke(thread, "resolve", {"renter_percent": 10})        # typed, still implied
    assert not again.ok and "no open dispute" in again.text


async def test_setup_is_for_admins_and_its_support_role_counts_in_that_chat_only(app):
    await _disputed_rental(app)
    refused = await app.router.invoke(discord("30", "chat-admin", guild=OTHER_GUILD), "setup",
                                      {"support_role": "555"})
    assert not refused.ok and refused.text == "Sorry: only admins can use /setup"
    by_admin_role = await app.router.invoke(discord("31", ADMIN_ROLE, guild=OTHER_GUILD), "setup",
                                            {"support_role": "555", "support": "60"})
    assert by_admin_role.ok and by_admin_role.kind == "setup.saved", by_admin_role.text
    home_admin = await app.router.handle_text(discord("32", "chat-admin"), "/setup listings=<#70>")
    assert home_admin.ok, home_admin.text
    (home,) = [s for s in await app.services.places.setups("discord") if s.chat_id == GUILD]
    assert home.listings == "70" and home.support_role is None
    assert (await app.router.invoke(discord("33", "555", guild=OTHER_GUILD), "disputes")).ok
    assert not (await app.router.invoke(discord("33", "555", guild=GUILD), "disputes")).ok
    shown = await app.router.invoke(discord("31", ADMIN_ROLE, guild=OTHER_GUILD), "setup")
    assert "support role: 555" in shown.text and "listings: not set" in shown.text


async def test_display_names_are_refreshed_when_they_change(app):
    await provider_with_offer(app, "prov")
    first = await app.router.invoke(discord("40", name="Old Name"), "rent", {"offer": 1, "hours": 1})
    assert first.ok
    await app.router.invoke(discord("40", name="New Name"), "rentals")
    view = await app.services.rentals.show(await person(app, "prov"), 1)
    assert view.renter == "New Name"
