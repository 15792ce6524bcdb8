"""Where a Telegram update came from, as the core's Invocation.

A private chat is a DM (`chat_id` None); in a group the chat id is kept and, inside a forum
topic, the topic's `message_thread_id` (so /resolve in a dispute's topic implies its rental).
Administrators of the chat of the call get the role "chat-admin", which the core turns into
support powers in the support group; the list comes from getChatAdministrators, kept a minute.
"""
from __future__ import annotations

import logging
import time

from telegram import Bot, Chat, Message, Update, User
from telegram.error import TelegramError

from bot.chat import Invocation

log = logging.getLogger(__name__)
PLATFORM = "telegram"
CHAT_ADMIN = "chat-admin"
ADMINS_TTL_S = 60.0


class ChatAdmins:
    """Who administers a group, from getChatAdministrators, cached for ADMINS_TTL_S."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._cache: dict[int, tuple[float, frozenset[int]]] = {}

    async def of(self, chat_id: int) -> frozenset[int]:
        now = time.monotonic()
        hit = self._cache.get(chat_id)
        if hit and now - hit[0] < ADMINS_TTL_S:
            return hit[1]
        try:
            admins = frozenset(m.user.id for m in await self.bot.get_chat_administrators(chat_id))
        except TelegramError as exc:      # no admin powers rather than no answer
            log.warning("getChatAdministrators failed for a chat: %s", type(exc).__name__)
            return hit[1] if hit else frozenset()
        self._cache[chat_id] = (now, admins)
        return admins


def thread_of(message: Message | None) -> int | None:
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return None


async def invocation_for(user: User, chat: Chat, message: Message | None, admins: ChatAdmins) -> Invocation:
    is_dm = chat.type == Chat.PRIVATE
    roles = frozenset()
    if not is_dm and user.id in await admins.of(chat.id):
        roles = frozenset({CHAT_ADMIN})
    thread = thread_of(message)
    return Invocation(platform=PLATFORM, platform_user_id=str(user.id), display_name=user.full_name,
                      chat_id=None if is_dm else str(chat.id), thread_id=str(thread) if thread else None,
                      is_dm=is_dm, roles=roles,
                      message_ref=f"{chat.id}:{message.message_id}" if message is not None else None)


async def invocation_of(update: Update, admins: ChatAdmins) -> Invocation | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    message = update.callback_query.message if update.callback_query else update.effective_message
    return await invocation_for(user, chat, message if isinstance(message, Message) else None, admins)
