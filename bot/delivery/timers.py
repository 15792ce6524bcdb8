"""Timers kept in the database: reminders before a rental's end (with an Extend action), before
an unpaid deposit's slot is released, and before an unanswered dispute times out on chain.

Each round (the runtime's periodic tick): timers are made for rentals that lack them, then due
timers fire. A timer fires once: its notice and its `fired_at` are written in one transaction,
keyed by the timer, so a restart or a second worker never repeats it. A timer whose rental has
moved on (ended early, paid, extended: the deadline it counts down to changed, decided) is
cancelled in the same round, and checked once more when it falls due.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.models import EVENT_APPLIED, ChainEvent
from bot.db.models import Rental
from bot.delivery.kinds import Kind
from bot.delivery.models import Timer
from bot.delivery.notify import notify
from bot.domain.states import RentalState
from bot.services.context import ServiceContext

log = logging.getLogger(__name__)
S = RentalState
BATCH = 200
ENDING, DEPOSIT, DISPUTE = "ending", "deposit", "dispute"
STATE_OF = {ENDING: S.ACTIVE.value, DEPOSIT: S.AWAITING_DEPOSIT.value, DISPUTE: S.DISPUTED.value}


class TimerService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def run_due(self) -> int:
        """Make missing timers, cancel those whose rental moved on, fire the due ones; returns how
        many fired."""
        await self.schedule()
        await self.cancel_moved_on()
        return await self.fire_due()

    async def cancel_moved_on(self) -> int:
        """Timers of rentals no longer in the state they wait in (or whose deadline moved)."""
        anchor_of = {ENDING: Rental.ends_at, DEPOSIT: Rental.deposit_deadline, DISPUTE: None}
        cancelled = 0
        async with self.ctx.sessions.begin() as session:
            for kind, column in anchor_of.items():
                fits = exists().where(Rental.id == Timer.rental_id, Rental.state == STATE_OF[kind],
                                      *([column == Timer.anchor] if column is not None else []))
                result = await session.execute(
                    update(Timer).where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.kind == kind,
                                        ~fits).values(cancelled_at=self.ctx.now())
                    .execution_options(synchronize_session=False))
                cancelled += result.rowcount
        return cancelled

    # -- scheduling -----------------------------------------------------------------------------

    async def schedule(self) -> int:
        cfg = self.ctx.settings.delivery
        now = self.ctx.now()
        made = 0
        async with self.ctx.sessions.begin() as session:
            for minutes in cfg.end_reminders_min:
                lead = minutes * 60
                rows = (await session.execute(
                    select(Rental.id, Rental.ends_at, Rental.started_at)
                    .where(Rental.state == S.ACTIVE.value, Rental.ends_at > now,
                           Rental.hours * 3600 > lead,      # shorter ones never get this timer: left in, they
                           ~self._has(ENDING, lead, Rental.ends_at))   # would fill every batch for ever
                    .limit(BATCH))).all()
                for rid, ends, started in rows:
                    if started is None or ends - timedelta(seconds=lead) > started:   # shorter rentals: no reminder
                        made += await self._add(session, ENDING, rid, lead, ends)
            if cfg.deposit_reminder_s:
                lead = cfg.deposit_reminder_s
                rows = (await session.execute(
                    select(Rental.id, Rental.deposit_deadline, Rental.created_at)
                    .where(Rental.state == S.AWAITING_DEPOSIT.value, Rental.deposit_deadline > now,
                           ~self._has(DEPOSIT, lead, Rental.deposit_deadline)).limit(BATCH))).all()
                for rid, deadline, created in rows:
                    if deadline - timedelta(seconds=lead) > created:
                        made += await self._add(session, DEPOSIT, rid, lead, deadline)
            if cfg.dispute_warning_s:
                made += await self._schedule_disputes(session, cfg.dispute_warning_s)
        return made

    def _has(self, kind: str, lead: int, anchor):
        return exists().where(Timer.rental_id == Rental.id, Timer.kind == kind, Timer.lead_s == lead,
                              Timer.anchor == anchor)

    async def _schedule_disputes(self, session: AsyncSession, lead: int) -> int:
        """A dispute registered on chain times out `dispute_timeout_s` after the chain's disputedAt."""
        rows = (await session.execute(
            select(Rental.id, ChainEvent.args)
            .join(ChainEvent, and_(ChainEvent.rental_id == Rental.escrow_id, ChainEvent.name == "Disputed",
                                   ChainEvent.status == EVENT_APPLIED))
            .where(Rental.state == S.DISPUTED.value,
                   ~exists().where(Timer.rental_id == Rental.id, Timer.kind == DISPUTE)).limit(BATCH))).all()
        made = 0
        timeout = self.ctx.settings.chain.dispute_timeout_s
        for rid, args in rows:
            try:
                at = datetime.fromtimestamp(int(args["disputedAt"]), tz=timezone.utc)
            except (KeyError, TypeError, ValueError):
                continue
            made += await self._add(session, DISPUTE, rid, min(lead, timeout), at + timedelta(seconds=timeout))
        return made

    async def _add(self, session: AsyncSession, kind: str, rental_id: int, lead: int, anchor: datetime) -> int:
        """One timer; a row made meanwhile by another worker is left as it is (ON CONFLICT DO NOTHING)."""
        dialect = session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(Timer).values(kind=kind, rental_id=rental_id, lead_s=lead, anchor=anchor,
                                    due_at=anchor - timedelta(seconds=lead), created_at=self.ctx.now())
        result = await session.execute(stmt.on_conflict_do_nothing(
            index_elements=["rental_id", "kind", "lead_s", "anchor"]))
        return max(result.rowcount, 0)

    # -- firing ---------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        now = self.ctx.now()
        fired = 0
        async with self.ctx.sessions.begin() as session:
            due = (await session.scalars(
                select(Timer).where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now)
                .order_by(Timer.due_at, Timer.id).limit(BATCH).with_for_update(skip_locked=True))).all()
            for timer in due:
                rental = await session.get(Rental, timer.rental_id)
                if not await self._still_wanted(session, timer, rental, now):
                    timer.cancelled_at = now
                    continue
                await self._fire(session, timer, rental, now)
                timer.fired_at = now
                fired += 1
        return fired

    async def _still_wanted(self, session: AsyncSession, timer: Timer, rental: Rental | None, now) -> bool:
        if rental is None or rental.state != STATE_OF[timer.kind] or now >= timer.anchor:
            return False
        if timer.kind == ENDING:
            if rental.ends_at != timer.anchor:
                return False          # extended: fresh timers count down to the new end
            # a bot that was down past several reminders sends only the latest one
            later = await session.scalar(select(Timer.id).where(
                Timer.rental_id == rental.id, Timer.kind == ENDING, Timer.anchor == timer.anchor,
                Timer.lead_s < timer.lead_s, Timer.due_at <= now, Timer.fired_at.is_(None),
                Timer.cancelled_at.is_(None)).limit(1))
            return later is None
        if timer.kind == DEPOSIT:
            return rental.deposit_deadline == timer.anchor
        return True

    async def _fire(self, session: AsyncSession, timer: Timer, rental: Rental, now) -> None:
        minutes = max(1, round((timer.anchor - now).total_seconds() / 60))
        key = f"timer:{timer.kind}:{rental.id}:{timer.lead_s}:{int(timer.anchor.timestamp())}"
        if timer.kind == ENDING:
            await notify(session, Kind.ENDING_SOON, key, user_id=rental.renter_id, rental_id=rental.id,
                         data={"rental": rental.id, "minutes": minutes, "ends_at": timer.anchor.isoformat()})
        elif timer.kind == DEPOSIT:
            await notify(session, Kind.DEPOSIT_REMINDER, key, user_id=rental.renter_id, rental_id=rental.id,
                         data={"rental": rental.id, "minutes": minutes, "deadline": timer.anchor.isoformat()})
        else:
            await notify(session, Kind.DISPUTE_TIMEOUT, key, rental_id=rental.id,
                         data={"rental": rental.id, "due_at": timer.anchor.isoformat()})
        log.info("timer %s fired for rental %s", timer.kind, rental.id)
