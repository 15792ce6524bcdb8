"""Putting a core Message on Telegram: images as photos, text in HTML chunks (the keyboard on the
last one), files as documents; editing a message in place.

The text message carrying the keyboard is "the" message of a reply: it is what later progress
edits go into. A refused 5xx is retried once after a pause (429s are the rate limiter's job);
"message is not modified" is not an error for an edit.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot, InputFile, Message as TgMessage
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.chat import Attachment, Message

from . import keyboards, render

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 0.5


@dataclass
class Sent:
    main: TgMessage | None            # the text message with the keyboard (None: nothing was said)
    all: list[TgMessage]


async def _retry_once(make):
    try:
        return await make()
    except TimedOut:
        raise                           # the request may have gone through: never resend blindly
    except NetworkError:
        await asyncio.sleep(RETRY_PAUSE_S)
        return await make()


class Sender:
    def __init__(self, bot: Bot, codec) -> None:
        self.bot, self.codec = bot, codec

    async def send(self, chat_id: int | str, msg: Message, thread_id: int | None = None,
                   files: bool = True) -> Sent:
        """Post `msg` in the chat (a forum topic with `thread_id`); `files=False` leaves documents out
        (a sensitive file is never sent outside a private chat)."""
        markup = await keyboards.keyboard(msg.actions, self.codec)
        out: list[TgMessage] = []
        for image in (a for a in msg.attachments if a.is_image):
            out.append(await _retry_once(lambda image=image: self.bot.send_photo(
                chat_id, _file(image), caption=render.escape(image.description[:render.CAPTION_LIMIT]) or None,
                message_thread_id=thread_id)))
        parts = render.chunks(msg)
        main = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            main = await _retry_once(lambda part=part, last=last: self.bot.send_message(
                chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup if last else None,
                message_thread_id=thread_id))
            out.append(main)
        if files:
            for doc in (a for a in msg.attachments if not a.is_image):
                out.append(await _retry_once(lambda doc=doc: self.bot.send_document(
                    chat_id, _file(doc), caption=render.escape(doc.description[:render.CAPTION_LIMIT]) or None,
                    message_thread_id=thread_id)))
        return Sent(main, out)

    async def edit(self, chat_id: int | str, message_id: int, msg: Message) -> bool:
        """Show `msg` in place of an earlier text message (its first chunk, with the keyboard)."""
        markup = await keyboards.keyboard(msg.actions, self.codec)
        parts = render.chunks(msg) or ["…"]
        try:
            await _retry_once(lambda: self.bot.edit_message_text(parts[0], chat_id, message_id,
                                                                 parse_mode=ParseMode.HTML, reply_markup=markup))
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            raise
        return True

    async def delete(self, chat_id: int | str, message_id: int) -> bool:
        try:
            return await _retry_once(lambda: self.bot.delete_message(chat_id, message_id))
        except BadRequest as exc:
            if "not found" in exc.message.lower():      # already gone: what we wanted
                return True
            raise


def _file(a: Attachment) -> InputFile:
    return InputFile(a.data, filename=a.filename)
