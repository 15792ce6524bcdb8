"""Sealed credentials (an SSH login, a bot-made private key) do not stay in the store: a notice's
sealed data is wiped once its DM is sent or given up (bot.delivery.queue), and here, each round,
once its rental has closed, delivered or not (a delivery still waiting is then skipped)."""
from __future__ import annotations

from sqlalchemy import select, update

from bot.db.models import Rental
from bot.delivery.models import NoticeRow
from bot.domain.states import HOLDS_CAPACITY
from bot.services.context import ServiceContext

WIPED = "{}"
LIVE = sorted(s.value for s in HOLDS_CAPACITY)    # awaiting deposit .. active, disputed: access may still matter


async def wipe_closed(ctx: ServiceContext) -> int:
    """Wipe the sealed data of sensitive notices whose rental no longer runs; returns how many."""
    async with ctx.sessions.begin() as session:
        closed = select(Rental.id).where(Rental.state.not_in(LIVE))
        result = await session.execute(
            update(NoticeRow).where(NoticeRow.sensitive.is_(True), NoticeRow.wiped_at.is_(None),
                                    NoticeRow.rental_id.in_(closed))
            .values(data=WIPED, wiped_at=ctx.now()).execution_options(synchronize_session=False))
        return result.rowcount
