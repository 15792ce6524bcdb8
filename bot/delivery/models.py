"""Tables of the notice pipeline: notices, their deliveries, the places they go, the platform
messages that show things (to edit later), and timers.

A notice is what happened (a kind and the data to render it), written in the transaction of the
change it reports. Each notice fans out into one delivery per destination (a person's DM on one
platform, each listings place, each support place), and each delivery is claimed, retried and
marked on its own, so one failing platform never holds up another.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime, utcnow


class NoticeRow(Base):
    """One event to tell people about, exactly once per dedupe key."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_unwiped", "sensitive", "wiped_at"),)   # the wipe sweep's scan
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(16))               # person | listings | support
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    rental_id: Mapped[int | None] = mapped_column(ForeignKey("rentals.id"), index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    data: Mapped[str] = mapped_column(Text)        # JSON; sealed with the master key when sensitive
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    wiped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # sensitive data removed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryRow(Base):
    """One notice to one destination on one platform: claimed with a lease, retried with backoff,
    marked sent (with the platform's message reference) or failed (with the reason)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_claim", "platform", "status", "id"),
        Index("ix_deliveries_coalesce", "coalesce_key", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))       # dm | listings | support | progress
    action: Mapped[str] = mapped_column(String(8))         # post | upsert | delete
    chat_id: Mapped[str | None] = mapped_column(String(64))     # guild / chat of a place or message
    channel_id: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(64))   # platform user id, for a DM
    subject: Mapped[str | None] = mapped_column(String(40))     # offer:12, rental:7: the message it keeps
    coalesce_key: Mapped[str | None] = mapped_column(String(160))   # one live edit per message
    idempotency_key: Mapped[str] = mapped_column(String(25), unique=True)   # Discord nonce: <= 25 chars
    status: Mapped[str] = mapped_column(String(12), default="pending")
    #   pending | claimed | sent | failed | superseded (a newer edit of the same message) | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    message_ref: Mapped[str | None] = mapped_column(String(160))   # what the platform made of it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Place(Base):
    """Where a platform's listings or support notices go: set by config or an admin's setup.
    Discord: chat_id is the guild, channel_id the channel. Telegram: chat_id is the chat."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("platform", "purpose", "chat_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))       # listings | support
    chat_id: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    role_id: Mapped[str | None] = mapped_column(String(64))    # support: the platform role of staff
    source: Mapped[str] = mapped_column(String(8), default="setup")   # config | setup
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MessageRef(Base):
    """Which platform message (or thread / forum topic) shows a subject, so later notices edit it
    (a listing post, a rental's progress) or find the subject from it (a dispute's thread)."""

    __tablename__ = "message_refs"
    __table_args__ = (UniqueConstraint("subject", "purpose", "platform", "chat_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(40))       # offer:12 | rental:7
    purpose: Mapped[str] = mapped_column(String(16))       # listing | progress | thread
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))       # "-" when the platform has none (a DM)
    channel_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(160), index=True)   # = Invocation.place inside it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Timer(Base):
    """A reminder due at a time: fires once (fired_at), or is cancelled when the rental moved on.
    `anchor` is the deadline it counts down to, so a moved deadline gets fresh timers."""

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("rental_id", "kind", "lead_s", "anchor"),
                      Index("ix_timers_due", "fired_at", "cancelled_at", "due_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))           # ending | deposit | dispute
    rental_id: Mapped[int] = mapped_column(ForeignKey("rentals.id"), index=True)
    lead_s: Mapped[int] = mapped_column(Integer)
    anchor: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
