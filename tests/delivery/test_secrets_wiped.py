"""Issue 8 item 10 (second half): sealed credentials, a bot-made private key included, do not stay
in the store once delivered, once the delivery is given up, or once the rental closes."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Rental
from bot.delivery.kinds import Kind
from bot.delivery.models import NoticeRow
from bot.delivery.notify import notify
from bot.domain.states import Step
from bot.services.common import move
from tests.delivery.test_timers import make_active

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


async def queue_credentials(app, rental_id: int, user_id: int) -> None:
    async with app.services.ctx.sessions.begin() as session:
        await notify(session, Kind.CREDENTIALS, f"rental:{rental_id}:credentials", user_id=user_id,
                     rental_id=rental_id, data={"rental": rental_id, "host": "h", "port": 22, "user": "r_1",
                                                "ssh_command": "ssh -i key r_1@h", "private_key": KEY})


async def stored(app, rental_id: int) -> NoticeRow:
    async with app.services.ctx.sessions() as session:
        return await session.scalar(select(NoticeRow).where(NoticeRow.rental_id == rental_id,
                                                            NoticeRow.kind == "credentials"))


async def test_credentials_are_sealed_and_wiped_once_sent(app, clock):
    rid, uid = await make_active(app, clock)
    await queue_credentials(app, rid, uid)
    row = await stored(app, rid)
    assert "PRIVATE KEY" not in row.data and "b3BlbnNzaC1r" not in row.data and row.wiped_at is None
    (d,) = [d for d in await app.services.deliveries.claim("console") if d.kind is Kind.CREDENTIALS]
    assert d.sensitive and d.purpose == "dm"
    (attachment,) = d.message.attachments
    assert attachment.sensitive and attachment.data.decode() == KEY
    assert await app.services.deliveries.sent(d)
    row = await stored(app, rid)
    assert row.data == "{}" and row.wiped_at is not None


async def test_undelivered_credentials_are_wiped_when_the_rental_closes(app, clock):
    rid, uid = await make_active(app, clock)
    await queue_credentials(app, rid, uid)
    await app.services.housekeeping()
    assert (await stored(app, rid)).wiped_at is None               # still running: kept for delivery
    async with app.services.ctx.sessions.begin() as session:
        await move(session, await session.get(Rental, rid), Step.END, "ended early", ended_at=clock.now)
    await app.services.housekeeping()
    row = await stored(app, rid)
    assert row.data == "{}" and row.wiped_at is not None
    # the waiting DM has nothing left to send: skipped, never sent empty
    assert [d for d in await app.services.deliveries.claim("console") if d.kind is Kind.CREDENTIALS] == []
