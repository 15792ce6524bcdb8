"""Where a reply is shown: in the chat of the call, or privately.

A private reply (the core marks it) goes to the person's private chat; called from a group, the
group is told, without any of it, to look there. A sensitive one (a private key is attached) is
never sent outside a private chat. A person who never started the bot cannot be written to
(Telegram answers 403): the group is told, without any secret, to open the private chat first.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden

from bot.chat import Message

from . import render
from .sender import Sent

if TYPE_CHECKING:
    from .front import Front

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """The chat a call came from."""
    chat_id: int
    thread_id: int | None
    is_private: bool
    user_id: int
    user_name: str


async def show(front: "Front", place: Place, msg: Message, *, private: bool = False,
               sensitive: bool = False) -> Sent | None:
    """Show a reply; None when it could not reach the person (they were told how to fix it)."""
    if place.is_private:
        return await front.sender.send(place.chat_id, msg)
    if private or sensitive:
        return await dm_from_group(front, place, msg)
    return await front.sender.send(place.chat_id, msg, thread_id=place.thread_id, files=False)


async def dm_from_group(front: "Front", place: Place, msg: Message, start_payload: str | None = None) -> Sent | None:
    try:
        sent = await front.sender.send(place.user_id, msg)
    except Forbidden:
        await open_private_chat_first(front, place, start_payload)
        return None
    await front.sender.bot.send_message(place.chat_id, f"{render.escape(place.user_name)}: I answered you in our "
                                        "private chat.", message_thread_id=place.thread_id)
    return sent


async def open_private_chat_first(front: "Front", place: Place, start_payload: str | None = None,
                                  what: str = "I can only answer that in a private chat") -> None:
    link = f"https://t.me/{front.username}" + (f"?start={start_payload}" if start_payload else "")
    button = InlineKeyboardMarkup([[InlineKeyboardButton("Open the private chat", url=link)]])
    await front.sender.bot.send_message(
        place.chat_id, f"{render.escape(place.user_name)}: {render.escape(what)}, and you have not started one "
        "with me yet. Open it with the button, press Start, then try again there.",
        reply_markup=button, message_thread_id=place.thread_id)
