"""What every Telegram handler shares: the core's router, the sender, who administers which chat."""
from __future__ import annotations

from dataclasses import dataclass, field

from telegram import Bot, Update

from bot.chat import Invocation

from .context import ChatAdmins, invocation_of, thread_of
from .replies import Place
from .sender import Sender


@dataclass
class Front:
    runtime: object                       # bot.runtime.Runtime
    bot: Bot
    username: str = ""
    support_chat_id: int | None = None
    listings_chat_id: int | None = None
    sender: Sender = field(init=False)
    admins: ChatAdmins = field(init=False)

    def __post_init__(self) -> None:
        self.sender = Sender(self.bot, self.router.codec)
        self.admins = ChatAdmins(self.bot)

    @property
    def router(self):
        return self.runtime.router          # type: ignore[attr-defined]

    @property
    def services(self):
        return self.runtime.services        # type: ignore[attr-defined]

    async def invocation(self, update: Update) -> Invocation | None:
        return await invocation_of(update, self.admins)


def place_of(update: Update) -> Place | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    message = update.callback_query.message if update.callback_query else update.effective_message
    thread = thread_of(message) if message is not None and hasattr(message, "is_topic_message") else None
    return Place(chat.id, thread, chat.type == "private", user.id, user.full_name)
