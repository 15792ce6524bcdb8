"""Queue a notice and fan it out into deliveries, inside the caller's transaction.

Written with the change it reports, so a crash never loses a notice, and keyed, so a replayed
event never queues it twice. Destinations are decided here, once:
  person   -> a DM on the platform of the rental (recorded at /rent), else where the person was
              last seen; plus an edit of the rental's progress message for progress kinds
  listings -> each listings place of each enabled platform (one live edit per post)
  support  -> each support place of each enabled platform
"""
from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import Identity, Rental, User
from bot.delivery.doorbell import ring_after_commit
from bot.delivery.kinds import Audience, Kind, spec_of
from bot.delivery.models import DeliveryRow, MessageRef, NoticeRow, Place

log = logging.getLogger(__name__)
ALWAYS_ON = "always"


def _ctx(session: AsyncSession) -> Any:
    return session.info.get("ctx")


def _now(session: AsyncSession):
    now = session.info.get("now")
    return now() if now else utcnow()


def platform_enabled(settings: Any, platform: str) -> bool:
    """Discord and Telegram places count only while that front-end is enabled in the config;
    other platforms (the console, test front-ends) are on whenever they have places."""
    if settings is None:
        return True
    section = getattr(settings, platform, None) if platform in ("discord", "telegram") else None
    return section is None or bool(section.enabled)


def seal_aad(dedupe_key: str) -> str:
    return f"notice:{dedupe_key}"


def new_idempotency_key() -> str:
    """22 characters: within Discord's 25-character nonce."""
    return "gf" + secrets.token_hex(10)


async def notify(session: AsyncSession, kind: Kind | str, key: str, *, data: dict | None = None,
                 user_id: int | None = None, rental_id: int | None = None, offer_id: int | None = None,
                 audience: Audience | str | None = None, sensitive: bool | None = None) -> int | None:
    """Queue notice `kind` once per `key`; returns its id (None when it was queued before).

    `data` is what the renderer needs (JSON-serialisable: ids, formatted amounts, names).
    Sensitive notices (credentials) are sealed with the master key and go to a DM only.
    """
    kind = Kind(kind)
    spec = spec_of(kind)
    audience = Audience(audience or spec.audience)
    sensitive = spec.sensitive if sensitive is None else sensitive
    if await session.scalar(select(NoticeRow.id).where(NoticeRow.dedupe_key == key)) is not None:
        return None
    ctx = _ctx(session)
    payload = json.dumps(data or {}, sort_keys=True, default=str)
    if sensitive:
        box = getattr(ctx, "box", None)
        if audience is not Audience.PERSON or box is None:
            raise ValueError("sensitive notices go to direct messages only, sealed")
        payload = box.seal(payload.encode(), seal_aad(key))
    now = _now(session)
    row = NoticeRow(dedupe_key=key, kind=kind.value, audience=audience.value, user_id=user_id,
                    rental_id=rental_id, offer_id=offer_id, data=payload, sensitive=sensitive, created_at=now)
    session.add(row)
    await session.flush()
    settings = getattr(ctx, "settings", None)
    targets = await _destinations(session, settings, row, audience)
    for target in targets:
        target.update(notice_id=row.id, idempotency_key=new_idempotency_key(), status="pending", attempts=0,
                      next_attempt_at=now, created_at=now)
        if target.get("coalesce_key"):
            # a newer edit of the same message makes an older, not yet claimed one pointless (and
            # sending it after the newer one would show stale data)
            await session.execute(
                update(DeliveryRow).where(DeliveryRow.coalesce_key == target["coalesce_key"],
                                          DeliveryRow.status == "pending")
                .values(status="superseded").execution_options(synchronize_session=False))
        session.add(DeliveryRow(**target))
    await ring_after_commit(session, {t["platform"] for t in targets})
    return row.id


async def _destinations(session: AsyncSession, settings: Any, row: NoticeRow,
                        audience: Audience) -> list[dict]:
    spec = spec_of(row.kind)
    if audience is Audience.PERSON:
        out = []
        if spec.dm and row.user_id is not None:
            dm = await _dm_target(session, settings, row.user_id, row.rental_id)
            if dm is not None:
                out.append(dm)
            else:
                log.info("notice %s: user %s has no reachable platform account", row.kind, row.user_id)
        if spec.progress and row.rental_id is not None:
            out += await _progress_targets(session, settings, row.rental_id)
        return out
    places = (await session.scalars(select(Place).where(Place.purpose == audience.value)
                                    .order_by(Place.id))).all()
    out = []
    for place in places:
        if not platform_enabled(settings, place.platform):
            continue
        target = dict(platform=place.platform, purpose=audience.value, action="post", chat_id=place.chat_id,
                      channel_id=place.channel_id)
        if audience is Audience.LISTINGS and row.offer_id is not None:
            subject = f"offer:{row.offer_id}"
            target.update(action=spec.action, subject=subject,
                          coalesce_key=f"listing:{subject}:{place.platform}:{place.chat_id}")
        elif spec.thread and row.rental_id is not None:
            target.update(subject=f"rental:{row.rental_id}")
        out.append(target)
    return out


async def _dm_target(session: AsyncSession, settings: Any, user_id: int, rental_id: int | None) -> dict | None:
    # the user's accounts, or those of the wallet's user it was attached to since (one level: only
    # an empty user is ever attached, to a user with a wallet, who is never attached in turn)
    owner = select(func.coalesce(User.merged_into_id, User.id)).where(User.id == user_id).scalar_subquery()
    idents = [i for i in (await session.scalars(select(Identity).where(Identity.user_id == owner))).all()
              if platform_enabled(settings, i.platform)]
    if not idents:
        return None
    chosen = None
    if rental_id is not None:
        platform = await session.scalar(select(Rental.platform).where(Rental.id == rental_id))
        chosen = next((i for i in idents if i.platform == platform), None)
    if chosen is None:    # account notices (and a rental's other party): where last seen
        chosen = max(idents, key=lambda i: (i.last_seen_at is not None, i.last_seen_at or i.created_at, i.id))
    return dict(platform=chosen.platform, purpose="dm", action="post", recipient=chosen.platform_user_id)


async def _progress_targets(session: AsyncSession, settings: Any, rental_id: int) -> list[dict]:
    subject = f"rental:{rental_id}"
    refs = (await session.scalars(select(MessageRef).where(MessageRef.subject == subject,
                                                           MessageRef.purpose == "progress"))).all()
    return [dict(platform=r.platform, purpose="progress", action="upsert", chat_id=r.chat_id,
                 channel_id=r.channel_id, subject=subject,
                 coalesce_key=f"progress:{subject}:{r.platform}:{r.chat_id}")
            for r in refs if platform_enabled(settings, r.platform)]
