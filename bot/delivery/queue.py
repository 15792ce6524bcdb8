"""The front-ends' side of delivery: claim work for one platform, then mark each delivery sent or
failed. Read bot/chat/DELIVERY.md first.

At-least-once: a claim is a lease; a front-end that dies between sending and marking loses its
lease, and the delivery is claimed again with the same idempotency key (Discord drops the resend
by its nonce). Claims take row locks with SKIP LOCKED on PostgreSQL, so several workers never
take the same row; on SQLite (one process) the guarded UPDATE alone decides.
"""
from __future__ import annotations

import asyncio

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from bot.chat import Message
from bot.delivery.doorbell import ring_after_commit
from bot.delivery.kinds import Kind, spec_of
from bot.delivery.models import DeliveryRow, NoticeRow
from bot.delivery.notify import notify, seal_aad
from bot.delivery.refs import REF_PURPOSE, PlatformRef, forget, lookup, remember
from bot.delivery.render import offer_data, render
from bot.delivery.sweep import WIPED
from bot.services.context import ServiceContext

log = logging.getLogger(__name__)
MAX_REASON = 500


@dataclass(frozen=True)
class Delivery:
    """One message for a front-end to send, edit or delete.

    `action`: post (a new message) | edit `ref` | delete `ref`. `purpose`: dm (to `recipient`, a
    platform user id) | listings | support (in chat_id / channel_id) | progress (edit `ref`).
    `key` is the idempotency key: send it as Discord's message nonce with enforce_nonce."""

    id: int
    key: str
    platform: str
    purpose: str
    action: str
    kind: Kind
    message: Message
    data: dict[str, Any] = field(repr=False)
    chat_id: str | None = None
    channel_id: str | None = None
    recipient: str | None = None
    ref: PlatformRef | None = None
    thread: bool = False              # support: open a thread / forum topic for the rental
    sensitive: bool = False
    attempt: int = 1
    user_id: int | None = None
    rental_id: int | None = None
    offer_id: int | None = None


class DeliveryQueue:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def _cfg(self):
        return self.ctx.settings.delivery

    # -- claiming -------------------------------------------------------------------------------

    def _claimable(self, platform: str, now):
        other = aliased(DeliveryRow)
        busy = exists().where(other.coalesce_key == DeliveryRow.coalesce_key, other.id != DeliveryRow.id,
                              other.status == "claimed", other.lease_until >= now)
        return and_(DeliveryRow.platform == platform,
                    or_(and_(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now),
                        and_(DeliveryRow.status == "claimed", DeliveryRow.lease_until < now)),
                    or_(DeliveryRow.coalesce_key.is_(None), ~busy))

    async def claim(self, platform: str, limit: int = 20) -> list[Delivery]:
        """Up to `limit` deliveries for `platform`, oldest first, leased for `delivery.lease_s`."""
        now = self.ctx.now()
        lease = now + timedelta(seconds=self._cfg.lease_s)
        out: list[Delivery] = []
        async with self.ctx.sessions.begin() as session:
            ids = list((await session.scalars(
                select(DeliveryRow.id).where(self._claimable(platform, now)).order_by(DeliveryRow.id).limit(limit)
                .with_for_update(skip_locked=True, of=DeliveryRow))).all())
            if not ids:
                return []
            taken = set((await session.scalars(
                update(DeliveryRow).where(DeliveryRow.id.in_(ids), self._claimable(platform, now))
                .values(status="claimed", lease_until=lease, attempts=DeliveryRow.attempts + 1)
                .returning(DeliveryRow.id).execution_options(synchronize_session=False))).all())
            rows = (await session.execute(
                select(DeliveryRow, NoticeRow).join(NoticeRow, NoticeRow.id == DeliveryRow.notice_id)
                .where(DeliveryRow.id.in_(taken)).order_by(DeliveryRow.id))).all()
            for d, n in rows:
                delivery = await self._prepare(session, d, n)
                if delivery is None:
                    d.status, d.lease_until, d.sent_at = "skipped", None, now
                else:
                    out.append(delivery)
        return out

    async def _prepare(self, session, d: DeliveryRow, n: NoticeRow) -> Delivery | None:
        """Open, render and resolve what to edit; None when there is nothing to do."""
        data = self._open(n)
        if data is None:
            return None                     # sensitive data wiped (the rental closed): nothing to send
        kind = Kind(n.kind)
        action, ref = d.action, None
        if d.subject and d.action in ("upsert", "delete"):
            ref = await lookup(session, d.subject, REF_PURPOSE[d.purpose], d.platform, d.chat_id)
            if d.action == "delete":
                if ref is None:
                    return None             # never posted here: nothing to delete
            else:
                action = "edit" if ref is not None else "post"
        if d.purpose == "listings" and n.offer_id is not None and action != "delete":
            data = {**data, "offer": await self._offer_now(session, n.offer_id)}
        thread = spec_of(kind).thread and d.purpose == "support"
        if thread and n.rental_id is not None:      # whom to add to the dispute's thread, on this platform
            data = {**data, "members": await self._parties_on(session, n.rental_id, d.platform)}
        return Delivery(id=d.id, key=d.idempotency_key, platform=d.platform, purpose=d.purpose, action=action,
                        kind=kind, message=render(kind, data, d.purpose), data=data, chat_id=d.chat_id,
                        channel_id=d.channel_id, recipient=d.recipient, ref=ref,
                        thread=thread, sensitive=n.sensitive,
                        attempt=d.attempts, user_id=n.user_id, rental_id=n.rental_id, offer_id=n.offer_id)

    async def _parties_on(self, session, rental_id: int, platform: str) -> list[str]:
        """The renter's and the provider's user ids on `platform` (those who have an account there)."""
        from bot.db.models import Identity, Provider, Rental

        rental = await session.get(Rental, rental_id)
        provider = await session.get(Provider, rental.provider_id) if rental else None
        users = [u for u in (rental.renter_id if rental else None, provider.user_id if provider else None) if u]
        rows = (await session.scalars(select(Identity.platform_user_id).where(
            Identity.user_id.in_(users), Identity.platform == platform).order_by(Identity.id))).all()
        return list(rows)

    def _open(self, n: NoticeRow) -> dict | None:
        if not n.sensitive:
            return json.loads(n.data)
        if n.wiped_at is not None or self.ctx.box is None:
            return None
        return json.loads(self.ctx.box.open(n.data, seal_aad(n.dedupe_key)))

    async def _offer_now(self, session, offer_id: int) -> dict:
        """A listing shows the offer as it is when sent, so a late retry never shows stale data."""
        from bot.services.common import get_offer, offer_view

        offer = await get_offer(session, offer_id, include_removed=True)
        return offer_data(await offer_view(session, self.ctx.settings, offer))

    # -- marking --------------------------------------------------------------------------------

    async def sent(self, delivery: Delivery, ref: PlatformRef | None = None) -> bool:
        """The platform took it. `ref` names the message made (posts) or the thread/topic opened,
        so later notices edit it. False if it was marked already (a resend after a lost lease)."""
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            row = (await session.execute(
                update(DeliveryRow).where(DeliveryRow.id == delivery.id,
                                          DeliveryRow.status.in_(("claimed", "pending")))
                .values(status="sent", sent_at=now, lease_until=None, last_error=None,
                        message_ref=ref.encode() if ref else None)
                .returning(DeliveryRow.notice_id, DeliveryRow.subject, DeliveryRow.purpose, DeliveryRow.platform,
                           DeliveryRow.chat_id, DeliveryRow.coalesce_key)
                .execution_options(synchronize_session=False))).first()
            if row is None:
                return False
            if row.subject and row.purpose in REF_PURPOSE:
                purpose = REF_PURPOSE[row.purpose]
                if delivery.action == "delete":
                    await forget(session, row.subject, purpose, row.platform, row.chat_id)
                elif ref is not None and (purpose != "thread" or delivery.thread):
                    await remember(session, row.subject, purpose, row.platform, ref, key_chat=row.chat_id)
            if delivery.sensitive:
                await self._wipe(session, row.notice_id)
            if row.coalesce_key:    # a newer edit of this message may wait for this one
                await ring_after_commit(session, {row.platform})
            return True

    async def failed(self, delivery: Delivery, reason: str, *, permanent: bool = False,
                     ref_gone: bool = False) -> str:
        """Sending failed. Retried with backoff until `delivery.max_attempts` tries (or at once
        marked failed when `permanent`); returns the new status. `ref_gone`: the message to edit
        was deleted on the platform, so the next try posts a new one."""
        reason = " ".join(str(reason).split())[:MAX_REASON] or "unknown error"
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            row = await session.get(DeliveryRow, delivery.id)
            if row is None or row.status not in ("claimed", "pending"):
                return row.status if row else "gone"
            if ref_gone and row.subject and row.purpose in REF_PURPOSE:
                await forget(session, row.subject, REF_PURPOSE[row.purpose], row.platform, row.chat_id)
            row.last_error, row.lease_until = reason, None
            if permanent or row.attempts >= self._cfg.max_attempts:
                row.status = "failed"
                await self._on_failed(session, row, delivery, reason)
            else:
                row.status = "pending"
                row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
            return row.status

    async def later(self, delivery: Delivery, retry_after: float) -> None:
        """Not sent, and not its fault (the platform's rate limit): try again after `retry_after`
        seconds without counting a failed try."""
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            await session.execute(
                update(DeliveryRow).where(DeliveryRow.id == delivery.id, DeliveryRow.status == "claimed")
                .values(status="pending", lease_until=None,
                        attempts=case((DeliveryRow.attempts > 0, DeliveryRow.attempts - 1), else_=0),
                        next_attempt_at=now + timedelta(seconds=max(0.0, retry_after)))
                .execution_options(synchronize_session=False))

    def backoff(self, attempts: int) -> float:
        """Seconds before try number `attempts + 1`: doubling from retry_base_s, capped, +-20 %."""
        cfg = self._cfg
        delay = min(cfg.retry_base_s * 2 ** max(attempts - 1, 0), cfg.retry_max_s)
        return delay * random.uniform(0.8, 1.2)

    async def _on_failed(self, session, row: DeliveryRow, delivery: Delivery, reason: str) -> None:
        log.warning("delivery %s (%s on %s) failed after %s tries: %s", row.id, delivery.kind.value, row.platform,
                    row.attempts, reason)
        if delivery.sensitive:
            await self._wipe(session, row.notice_id)
        if delivery.kind is Kind.CREDENTIALS:
            from bot.db.models import User

            who = await session.get(User, delivery.user_id) if delivery.user_id else None
            await notify(session, Kind.DELIVERY_FAILED, f"delivery-failed:{row.id}",
                         data={"what": "SSH login", "user": who.display_name if who else "?",
                               "platform": row.platform, "reason": reason, "attempts": row.attempts,
                               "rental": delivery.rental_id}, rental_id=delivery.rental_id)

    async def _wipe(self, session, notice_id: int) -> None:
        await session.execute(update(NoticeRow).where(NoticeRow.id == notice_id, NoticeRow.wiped_at.is_(None))
                              .values(data=WIPED, wiped_at=self.ctx.now())
                              .execution_options(synchronize_session=False))

    # -- waiting --------------------------------------------------------------------------------

    async def wait_for_work(self, platform: str, timeout: float = 30.0) -> None:
        """Return when `platform` may have work: at once if some is due, else when a notice for
        it is committed (this process, or another one on PostgreSQL), when the next retry or
        lease falls due, or after `timeout` seconds."""
        bell = self.ctx.doorbell
        await bell.listen(self.ctx.sessions.kw["bind"])
        now = self.ctx.now()
        async with self.ctx.sessions() as session:
            if await session.scalar(select(DeliveryRow.id).where(self._claimable(platform, now)).limit(1)):
                return
            retry = await session.scalar(select(func.min(DeliveryRow.next_attempt_at)).where(
                DeliveryRow.platform == platform, DeliveryRow.status == "pending", DeliveryRow.next_attempt_at > now))
            lease = await session.scalar(select(func.min(DeliveryRow.lease_until)).where(
                DeliveryRow.platform == platform, DeliveryRow.status == "claimed"))
        for due in (retry, lease):
            if due is not None:
                timeout = min(timeout, max((due - now).total_seconds(), 0.0) + 0.01)
        await bell.wait(platform, timeout)

    async def wait_for_work_or(self, stop: asyncio.Event, platform: str, timeout: float = 30.0) -> None:
        """`wait_for_work`, cut short by `stop`. The losing wait is cancelled *and awaited*: a
        wait cancelled mid-query still holds a database session, and left running it outlives
        the engine (its connection's close then never returns and the event loop cannot end)."""
        waiter = asyncio.ensure_future(self.wait_for_work(platform, timeout=timeout))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)
        if waiter.done() and not waiter.cancelled() and waiter.exception() is not None:
            raise waiter.exception()  # type: ignore[misc]
