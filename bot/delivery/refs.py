"""Message references: which platform message shows a subject (a listing post, a rental's progress
message, a dispute's thread or forum topic), so later notices edit or delete it, and a command
typed inside a thread finds the rental it stands for."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.models import MessageRef

NO_CHAT = "-"


@dataclass(frozen=True)
class PlatformRef:
    """A message (or thread/topic) on a platform, as the front-end that made it names it.

    Discord: chat_id = guild id ("-" in a DM), channel_id = channel, message_id = message,
    thread_id = the thread a dispute got. Telegram: chat_id = chat, message_id = message,
    thread_id = the forum topic (message_thread_id)."""

    chat_id: str | None = None
    channel_id: str | None = None
    message_id: str | None = None
    thread_id: str | None = None

    def encode(self) -> str:
        return "/".join(p or "" for p in (self.chat_id, self.channel_id, self.message_id, self.thread_id))

    @classmethod
    def decode(cls, text: str | None) -> "PlatformRef | None":
        if not text:
            return None
        parts = (text.split("/") + ["", "", "", ""])[:4]
        return cls(*(p or None for p in parts))


def place_key(platform: str, chat_id: str | None, where: str | None) -> str:
    """The same key as `bot.chat.Invocation.place` for a call made inside that thread/channel."""
    return ":".join(p or "-" for p in (platform, chat_id, where))


async def remember(session: AsyncSession, subject: str, purpose: str, platform: str, ref: PlatformRef, *,
                   key_chat: str | None = None) -> None:
    """Record (or move) the message showing `subject` for `purpose` on `platform`. It is kept under
    `key_chat` (the place's chat a delivery went to; default the ref's own chat); when the message
    is in another chat than that (a Telegram place posting to a channel), that chat is kept as the
    ref's channel: a message is always at `channel_id or chat_id`, like a delivery's destination."""
    chat = key_chat or ref.chat_id or NO_CHAT
    actual = ref.chat_id
    channel = ref.channel_id or (actual if actual and actual != chat else None)
    row = await session.scalar(select(MessageRef).where(MessageRef.subject == subject, MessageRef.purpose == purpose,
                                                        MessageRef.platform == platform, MessageRef.chat_id == chat))
    if row is None:
        row = MessageRef(subject=subject, purpose=purpose, platform=platform, chat_id=chat)
        session.add(row)
    row.channel_id, row.message_id, row.thread_id = channel, ref.message_id, ref.thread_id
    row.place = place_key(platform, actual or (None if chat == NO_CHAT else chat), ref.thread_id or ref.channel_id)


async def lookup(session: AsyncSession, subject: str, purpose: str, platform: str,
                 chat_id: str | None) -> PlatformRef | None:
    row = await session.scalar(select(MessageRef).where(MessageRef.subject == subject, MessageRef.purpose == purpose,
                                                        MessageRef.platform == platform,
                                                        MessageRef.chat_id == (chat_id or NO_CHAT)))
    if row is None:
        return None
    return PlatformRef(chat_id=None if row.chat_id == NO_CHAT else row.chat_id, channel_id=row.channel_id,
                       message_id=row.message_id, thread_id=row.thread_id)


async def forget(session: AsyncSession, subject: str, purpose: str, platform: str, chat_id: str | None) -> None:
    await session.execute(delete(MessageRef).where(MessageRef.subject == subject, MessageRef.purpose == purpose,
                                                   MessageRef.platform == platform,
                                                   MessageRef.chat_id == (chat_id or NO_CHAT)))


async def rental_at_place(session: AsyncSession, place: str) -> int | None:
    """The rental whose dispute thread / forum topic has this `Invocation.place`, or None."""
    subject = await session.scalar(select(MessageRef.subject).where(MessageRef.place == place,
                                                                    MessageRef.purpose == "thread")
                                   .order_by(MessageRef.id.desc()).limit(1))
    if subject is None or not subject.startswith("rental:"):
        return None
    return int(subject.split(":", 1)[1])


# what a delivery of each purpose keeps a reference to, once sent
REF_PURPOSE = {"listings": "listing", "progress": "progress", "support": "thread"}


class RefService:
    """What front-ends record and ask outside a delivery."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    async def remember_progress(self, rental_id: int, platform: str, ref: PlatformRef) -> None:
        """The message that showed rental `rental_id`'s deposit request: its progress is edited there."""
        async with self.ctx.sessions.begin() as session:
            await remember(session, f"rental:{rental_id}", "progress", platform, ref)

    async def remember_thread(self, rental_id: int, platform: str, ref: PlatformRef) -> None:
        """A dispute thread / forum topic the front-end opened itself (outside a delivery)."""
        async with self.ctx.sessions.begin() as session:
            await remember(session, f"rental:{rental_id}", "thread", platform, ref)

    async def rental_at(self, place: str) -> int | None:
        """The rental whose dispute thread / topic is `Invocation.place`, or None."""
        async with self.ctx.sessions() as session:
            return await rental_at_place(session, place)
