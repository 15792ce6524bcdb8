"""/status for admins: rentals by state, messages waiting or failed per platform, the chain."""
from __future__ import annotations

from bot.chat import invocation
from bot.delivery.models import DeliveryRow, NoticeRow
from tests.helpers import person, provider_with_offer, snapshot


async def test_admins_see_the_figures_and_others_are_refused(app):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    await app.services.rentals.create(alice, offer_id, 2)
    refused_before = await snapshot(app)
    refused = await app.router.handle_text(invocation.console("alice"), "/status")
    assert not refused.ok and "admins" in refused.text
    assert await snapshot(app) == refused_before

    reply = await app.router.handle_text(invocation.console("root"), "/status")
    assert reply.ok and reply.private, reply.text
    assert "Rentals: 1 awaiting deposit" in reply.text
    assert "Chain: no escrow contract configured" in reply.text

    async with app.services.ctx.sessions.begin() as session:     # one message waiting, one given up on
        notice = NoticeRow(dedupe_key="t", kind="funded", audience="person", data="{}")
        session.add(notice)
        await session.flush()
        for key, status in (("k1", "pending"), ("k2", "failed")):
            session.add(DeliveryRow(notice_id=notice.id, platform="discord", purpose="dm", action="post",
                                    idempotency_key=key, status=status, next_attempt_at=app.services.ctx.now(),
                                    created_at=app.services.ctx.now()))
    view = await app.services.status.snapshot(await person(app, "root"))
    assert view.deliveries_failed == {"discord": 1} and view.deliveries_waiting == {"discord": 1}
    text = (await app.router.handle_text(invocation.console("root"), "/status")).text
    assert "Messages waiting: 1 on discord (oldest 0 s)" in text and "failed for good: 1 on discord" in text
