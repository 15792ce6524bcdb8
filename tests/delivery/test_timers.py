"""Timers in the store: reminders before the end fire once, also across a restart, move with an
extension, and never fire after an early end; deposit reminders and dispute warnings likewise."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import open_app
from bot.chain.models import ChainEvent
from bot.db.models import Rental
from bot.delivery.models import Timer
from bot.domain.states import Step
from bot.services.common import move
from tests.conftest import test_settings as make_settings
from tests.helpers import person, provider_with_offer


async def make_active(app, clock, hours: int = 2) -> tuple[int, int]:
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, hours)
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rental.id)
        await move(session, row, Step.DEPOSIT_CONFIRMED, "paid")
        await move(session, row, Step.PROVISION, "provisioning")
        await move(session, row, Step.START, "started", started_at=clock.now, ends_at=clock.now + timedelta(hours=hours))
    return rental.id, alice.user_id


async def kinds(app, rental_id: int, kind: str) -> list[str]:
    return [n.body for n in await app.services.outbox.notices(rental_id=rental_id) if n.kind == kind]


async def timers(app, rental_id: int) -> list[Timer]:
    async with app.services.ctx.sessions() as session:
        return list((await session.scalars(select(Timer).where(Timer.rental_id == rental_id).order_by(Timer.id))).all())


async def test_end_reminders_fire_once_each_across_a_restart(database_url, clock, tmp_path):
    settings = make_settings(database_url, data_dir=tmp_path)
    app = await open_app(settings, clock=clock)
    try:
        rid, _ = await make_active(app, clock)
        await app.services.housekeeping()
        assert sorted(t.lead_s for t in await timers(app, rid)) == [300, 900]
        assert await kinds(app, rid, "ending-soon") == []
        clock.advance(hours=1, minutes=44)
        await app.services.housekeeping()
        assert await kinds(app, rid, "ending-soon") == []
        clock.advance(minutes=1)                                   # 15 minutes before the end
        await app.services.housekeeping()
        await app.services.housekeeping()
        (first,) = await kinds(app, rid, "ending-soon")
        assert "ends in 15 minutes" in first and "/extend" in first
    finally:
        await app.close()
    app = await open_app(settings, clock=clock)                    # a restart: the timers are in the store
    try:
        await app.services.housekeeping()
        assert len(await kinds(app, rid, "ending-soon")) == 1
        clock.advance(minutes=10)
        await app.services.housekeeping()
        assert [b.split(": ")[1].split(" (")[0] for b in await kinds(app, rid, "ending-soon")] == [
            "ends in 15 minutes", "ends in 5 minutes"]
    finally:
        await app.close()
    app = await open_app(settings, clock=clock)
    try:
        clock.advance(minutes=4)
        await app.services.housekeeping()
        assert len(await kinds(app, rid, "ending-soon")) == 2
        assert all(t.fired_at is not None for t in await timers(app, rid))
    finally:
        await app.close()


async def test_no_reminder_after_an_early_end(app, clock):
    rid, _ = await make_active(app, clock)
    await app.services.housekeeping()
    async with app.services.ctx.sessions.begin() as session:
        await move(session, await session.get(Rental, rid), Step.END, "the renter ended it early", ended_at=clock.now)
    clock.advance(hours=1, minutes=50)
    await app.services.housekeeping()
    assert await kinds(app, rid, "ending-soon") == []
    assert all(t.cancelled_at is not None and t.fired_at is None for t in await timers(app, rid))


async def test_an_extension_moves_the_reminders_to_the_new_end(app, clock):
    rid, _ = await make_active(app, clock, hours=1)
    await app.services.housekeeping()
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rid)
        await move(session, row, Step.EXTEND, "extended by 2 h", hours=3, ends_at=row.ends_at + timedelta(hours=2))
    clock.advance(minutes=46)                                      # the old 15-minute mark
    await app.services.housekeeping()
    assert await kinds(app, rid, "ending-soon") == []
    clock.advance(hours=2)                                         # the new one
    await app.services.housekeeping()
    assert len(await kinds(app, rid, "ending-soon")) == 1


async def test_a_bot_down_past_both_reminders_sends_only_the_latest(app, clock):
    rid, _ = await make_active(app, clock)
    await app.services.housekeeping()
    clock.advance(hours=1, minutes=57)
    await app.services.housekeeping()
    (only,) = await kinds(app, rid, "ending-soon")
    assert "ends in 3 minutes" in only


async def test_an_unpaid_deposit_is_reminded_once_before_the_slot_is_released(app, clock):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    unpaid = await app.services.rentals.create(alice, offer_id, 1)
    clock.advance(minutes=19)
    await app.services.housekeeping()
    assert await kinds(app, unpaid.id, "deposit-reminder") == []
    clock.advance(minutes=1, seconds=1)                             # 10 minutes before the 30-minute deadline
    await app.services.housekeeping()
    await app.services.housekeeping()
    (reminder,) = await kinds(app, unpaid.id, "deposit-reminder")
    assert f"/pay {unpaid.id}" in reminder and "in 10 minutes" in reminder


async def test_a_paid_deposit_is_not_reminded(app, clock):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    rental = await app.services.rentals.create(alice, offer_id, 1)
    await app.services.housekeeping()
    async with app.services.ctx.sessions.begin() as session:
        await move(session, await session.get(Rental, rental.id), Step.DEPOSIT_CONFIRMED, "paid")
    clock.advance(minutes=25)
    await app.services.housekeeping()
    assert await kinds(app, rental.id, "deposit-reminder") == []


async def test_support_is_warned_before_a_dispute_times_out_on_chain(app, clock):
    await app.services.place_store.set(None, "console", "support", "console")
    rid, alice_id = await make_active(app, clock)
    async with app.services.ctx.sessions.begin() as session:
        row = await session.get(Rental, rid)
        await move(session, row, Step.DISPUTE, "disputed")
        session.add(ChainEvent(chain_id=31337, contract="0x" + "11" * 20, tx_hash="0x" + "22" * 32, log_index=0,
                               block_number=5, block_hash="0x" + "33" * 32, name="Disputed", rental_id=row.escrow_id,
                               args={"id": row.escrow_id, "by": "0x" + "44" * 20,
                                     "disputedAt": str(int(clock.now.timestamp()))}))
    timeout = app.services.ctx.settings.chain.dispute_timeout_s
    await app.services.housekeeping()
    clock.advance(seconds=timeout - 86400 - 5)
    await app.services.housekeeping()
    assert await kinds(app, rid, "dispute-timeout") == []
    clock.advance(seconds=10)
    await app.services.housekeeping()
    await app.services.housekeeping()
    (warning,) = await kinds(app, rid, "dispute-timeout")
    assert f"Dispute on rental #{rid} times out" in warning and f"/resolve #{rid}" in warning
    (d,) = [d for d in await app.services.deliveries.claim("console") if d.kind.value == "dispute-timeout"]
    assert d.purpose == "support"


async def test_rentals_too_short_for_a_reminder_never_crowd_out_longer_ones(database_url, clock, tmp_path,
                                                                            monkeypatch):
    """A rental shorter than a reminder's lead gets no timer; such rentals used to fill every
    scheduling batch (they match "no timer yet" for ever), so a longer rental behind them never got one."""
    from bot.delivery import timers as timers_module

    monkeypatch.setattr(timers_module, "BATCH", 2)
    app = await open_app(make_settings(database_url, data_dir=tmp_path,
                                       delivery={"end_reminders_min": [1440]}), clock=clock)
    try:
        alice = await person(app, "alice")
        ids = []
        for n, hours in enumerate((2, 3, 48)):                     # only the 48 h rental outlasts a day's lead
            _, offer_id = await provider_with_offer(app, f"prov{n}", max_hours=72)
            rental = await app.services.rentals.create(alice, offer_id, hours)
            async with app.services.ctx.sessions.begin() as session:
                row = await session.get(Rental, rental.id)
                await move(session, row, Step.DEPOSIT_CONFIRMED, "paid")
                await move(session, row, Step.PROVISION, "provisioning")
                await move(session, row, Step.START, "started", started_at=clock.now,
                           ends_at=clock.now + timedelta(hours=hours))
            ids.append(rental.id)
        for _ in range(3):
            await app.services.housekeeping()
        assert [len(await timers(app, rid)) for rid in ids] == [0, 0, 1]
    finally:
        await app.close()
