"""The Telegram side of the delivery queue (bot/chat/DELIVERY.md): claim, send, mark.

- dm: the person's private chat (their Telegram id); the only place a sensitive body (the SSH
  login, a private key as a document) is ever sent.
- listings: a post in the listings chat or channel, read by many, so Rent is a deep link into
  the private chat (`t.me/<bot>?start=rent_<offer>`); later notices edit or delete that post.
- support: a new dispute opens a forum topic in the support supergroup (createForumTopic) and
  posts the timeline there; its `message_thread_id` goes back in the reference, which is how
  `/resolve` typed in the topic finds its rental.
- progress: edits the message that showed the deposit request.

At least once: Telegram has no idempotency key, so a crash between a send and `sent` can show
one duplicate, never a lost message. A 429 that outlasts the limiter's retries is `later` (no
try counted); a 403 (never started, blocked) or a 400 is permanent; anything else is retried
with the queue's backoff.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.chat import Action, Message

from . import keyboards
from .ratelimit import retry_seconds
from .sender import Sent

if TYPE_CHECKING:
    from .front import Front

log = logging.getLogger(__name__)
PLATFORM = "telegram"
BATCH = 20
TOPIC_NAME = "Dispute: rental #{rental}"


class MessageGone(Exception):
    """The post to edit or delete was removed by someone."""


class TelegramDelivery:
    def __init__(self, front: "Front") -> None:
        self.front = front

    @property
    def queue(self):
        return self.front.services.deliveries

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
                await self.queue.wait_for_work_or(stop, PLATFORM)
            except asyncio.CancelledError:
                raise
            except Exception:          # a store hiccup must not stop delivery for good
                log.exception("telegram delivery round failed")
                await asyncio.sleep(1.0)

    async def deliver_due(self) -> int:
        """Send everything claimable now; how many were sent."""
        done = 0
        while batch := await self.queue.claim(PLATFORM, limit=BATCH):
            for d in batch:
                done += await self._one(d)
        return done

    async def _one(self, d) -> int:
        try:
            ref = await self.send(d)
        except RetryAfter as exc:
            await self.queue.later(d, retry_seconds(exc))
        except MessageGone:
            await self.queue.failed(d, "unknown message", ref_gone=True)
        except Forbidden as exc:
            await self.queue.failed(d, f"forbidden: {exc.message[:120]}", permanent=True)
        except BadRequest as exc:
            await self.queue.failed(d, f"bad request: {exc.message[:120]}", permanent=True)
        except (TelegramError, OSError) as exc:
            await self.queue.failed(d, f"{type(exc).__name__}: {str(exc)[:120]}")
        else:
            await self.queue.sent(d, ref)
            return 1
        return 0

    async def send(self, d):
        from bot.delivery.refs import PlatformRef

        sender = self.front.sender
        if d.action == "delete":
            if d.ref is not None and d.ref.message_id:
                await sender.delete(d.ref.channel_id or d.ref.chat_id, int(d.ref.message_id))
            return d.ref
        if d.action == "edit" or d.purpose == "progress":
            if d.ref is None or not d.ref.message_id:
                raise MessageGone()
            try:
                await sender.edit(d.ref.channel_id or d.ref.chat_id, int(d.ref.message_id), self._shown(d))
            except BadRequest as exc:
                if "not found" in exc.message.lower() or "can't be edited" in exc.message.lower():
                    raise MessageGone() from exc
                raise
            return d.ref
        if d.purpose == "dm":
            sent = await sender.send(int(d.recipient), d.message)
            return _ref(PlatformRef, d.recipient, sent)
        chat_id = d.channel_id or d.chat_id       # a place's posts go to its channel (another chat), if any
        thread = None
        if d.purpose == "support" and d.thread:
            topic = await self.front.bot.create_forum_topic(chat_id, TOPIC_NAME.format(rental=d.rental_id))
            thread = topic.message_thread_id
        sent = await sender.send(chat_id, self._shown(d), thread_id=thread, files=False)
        ref = _ref(PlatformRef, str(chat_id), sent)
        return PlatformRef(chat_id=ref.chat_id, message_id=ref.message_id, thread_id=str(thread)) if thread else ref

    def _shown(self, d) -> Message:
        """A post read by many: Rent opens the private chat instead of answering in the channel."""
        if d.purpose not in ("listings", "support"):
            return d.message
        actions = []
        for a in d.message.actions:
            if a.command == "rent" and "offer" in a.args and self.front.username:
                actions.append(Action(a.label, url=keyboards.rent_link(self.front.username, int(a.args["offer"])),
                                      style=a.style))
            elif a.url is not None or d.purpose == "support":
                actions.append(a)
        return Message(lines=list(d.message.lines), title=d.message.title, actions=actions,
                       attachments=[x for x in d.message.attachments if not x.sensitive])


def _ref(cls, chat_id: str, sent: Sent):
    main = sent.main or (sent.all[-1] if sent.all else None)
    return cls(chat_id=str(chat_id), message_id=str(main.message_id) if main else None)
