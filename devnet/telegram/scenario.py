"""People acting in the emulated Telegram, and what the bot showed them.

`TgUser.send` types a message as a Telegram client sends it (a leading /command carries the
`bot_command` entity at offset 0); in groups the bot, in privacy mode and not an administrator,
only receives commands, replies to its messages and mentions. `press` taps an inline button (a
callback query; a URL button into the bot is followed as a deep link), `open_link` opens
`t.me/<bot>?start=<payload>` (the client then sends `/start <payload>` in the private chat).
Sending in the private chat starts the bot for that person, as pressing START does.
"""
from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any, Callable

from . import checks
from .emulator import CallbackQuery
from .world import PRIVATE, Chat, User, now

if TYPE_CHECKING:
    from .emulator import TelegramEmulator

Match = str | Callable[["SentMessage"], bool] | None


class ScenarioError(AssertionError):
    """The scenario asked for something a person could not do in Telegram."""


class SentMessage:
    """A live view of one message in a chat (edits show through; `deleted` once removed)."""

    def __init__(self, emu: "TelegramEmulator", chat: Chat, msg: dict[str, Any]) -> None:
        self.emu, self.chat, self.raw = emu, chat, msg
        self.message_id: int = msg["message_id"]

    @property
    def deleted(self) -> bool:
        return self.chat.messages.get(self.message_id) is not self.raw

    @property
    def text(self) -> str:
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def html(self) -> str | None:
        """The HTML source the bot sent (None without a parse mode)."""
        return self.chat.html_sources.get(self.message_id)

    @property
    def thread_id(self) -> int | None:
        return self.raw.get("message_thread_id")

    @property
    def edited(self) -> bool:
        return "edit_date" in self.raw

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return (self.raw.get("reply_markup") or {}).get("inline_keyboard", [])

    def button(self, label: str) -> dict[str, Any]:
        for row in self.buttons:
            for button in row:
                if label.lower() in button["text"].lower():
                    return button
        raise ScenarioError(f"no button {label!r} on message {self.message_id}: "
                            f"{[b['text'] for row in self.buttons for b in row]}")

    def file_bytes(self) -> bytes:
        """The photo (largest size) or document the message carries."""
        ref = self.raw["photo"][-1] if "photo" in self.raw else self.raw["document"]
        return self.emu.world.files[ref["file_id"]].content

    @property
    def file_name(self) -> str | None:
        return (self.raw.get("document") or {}).get("file_name")

    def __repr__(self) -> str:
        extra = " [photo]" if "photo" in self.raw else (f" [document {self.file_name}]" if "document" in self.raw else "")
        return f"<msg {self.message_id}{extra} {self.text[:80]!r} buttons={[b['text'] for r in self.buttons for b in r]}>"


class TgUser:
    """One person with a Telegram account."""

    def __init__(self, emu: "TelegramEmulator", user: User) -> None:
        self.emu, self.user = emu, user

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def dm(self) -> Chat:
        """This person's private chat with the bot."""
        return self.emu.world.private_chat(self.user)

    async def send(self, text: str, chat: Chat | None = None, thread: int | None = None,
                   reply_to: SentMessage | None = None) -> dict[str, Any]:
        """Type `text` into `chat` (default: the private chat with the bot)."""
        chat = chat or self.dm
        if chat.member(self.id) is None:
            raise ScenarioError(f"{self.user.first_name} is not a member of {chat.title or chat.id}")
        if thread is not None:
            topic = chat.topics.get(thread)
            if topic is None:
                raise ScenarioError(f"no topic {thread} in {chat.title}")
            if topic.closed and not chat.is_admin(self.id):
                raise ScenarioError(f"topic {topic.name!r} is closed")
        if chat.type == PRIVATE:
            self.user.started = True
        msg: dict[str, Any] = {"message_id": chat.new_message_id(), "from": self.user.json(), "date": now(),
                               "chat": chat.json(), "text": text}
        entity = checks.command_entity(text)
        if entity:
            msg["entities"] = [entity]
        if thread is not None:
            msg.update(message_thread_id=thread, is_topic_message=True)
        if reply_to is not None:
            msg["reply_to_message"] = {k: v for k, v in reply_to.raw.items() if k != "reply_to_message"}
        chat.messages[msg["message_id"]] = msg
        self.emu.scenario_marks[chat.id] = self.emu.seq.value
        if self._bot_sees(chat, msg, entity):
            await self.emu.updates.push("message", msg)
        return msg

    def _bot_sees(self, chat: Chat, msg: dict[str, Any], entity: dict[str, Any] | None) -> bool:
        if chat.type == PRIVATE or not self.emu.privacy_mode or chat.is_admin(self.emu.bot.id):
            return True
        name = f"@{self.emu.bot.username}".lower()
        if entity:
            command = msg["text"][:entity["length"]].lower()
            return "@" not in command or command.endswith(name)
        reply = msg.get("reply_to_message") or {}
        return reply.get("from", {}).get("id") == self.emu.bot.id or name in msg["text"].lower()

    async def start(self, payload: str | None = None) -> dict[str, Any]:
        return await self.send("/start" + (f" {payload}" if payload else ""))

    async def open_link(self, url: str) -> dict[str, Any]:
        """Open a t.me link into the bot: the client sends /start <payload> in the private chat."""
        payload = checks.start_payload(url, self.emu.bot.username or "")
        if payload is None and "start=" in url:
            raise ScenarioError(f"{url!r} is not a link into @{self.emu.bot.username}")
        if payload is not None and not checks.START_PAYLOAD.fullmatch(payload):
            self.emu.note(f"deep link {url!r}: Telegram clients drop an invalid start payload")
            payload = None
        return await self.start(payload)

    async def press(self, message: SentMessage, label: str | None = None, data: str | None = None) -> CallbackQuery:
        """Tap an inline button, by (part of) its label or by its callback data."""
        if message.deleted:
            raise ScenarioError(f"message {message.message_id} was deleted")
        if message.chat.member(self.id) is None:
            raise ScenarioError(f"{self.user.first_name} cannot see {message.chat.title}")
        if data is None:
            button = message.button(label or "")
            if "url" in button:
                await self.open_link(button["url"])
                return CallbackQuery("", self.id, message.chat.id, message.message_id, "", 0.0, answered=True)
            if "callback_data" not in button:
                raise ScenarioError(f"button {button['text']!r} has no callback data")
            data = button["callback_data"]
        query = CallbackQuery(str(secrets.randbits(62)), self.id, message.chat.id, message.message_id, data,
                              asyncio.get_running_loop().time())
        self.emu.callback_queries[query.id] = query
        self.emu.scenario_marks[message.chat.id] = self.emu.seq.value
        await self.emu.updates.push("callback_query", {
            "id": query.id, "from": self.user.json(), "message": message.raw,
            "chat_instance": self.emu.world.chat_instance(message.chat), "data": data})
        return query


def bot_messages(emu: "TelegramEmulator", chat: Chat, thread: int | None = None) -> list[SentMessage]:
    """What the bot shows in a chat (or one forum topic), oldest first."""
    out = []
    for msg in chat.messages.values():
        if msg.get("from", {}).get("id") == emu.bot.id or (chat.type == "channel" and "sender_chat" in msg):
            if thread is None or msg.get("message_thread_id") == thread:
                out.append(SentMessage(emu, chat, msg))
    return out


async def wait_for(emu: "TelegramEmulator", chat: Chat, match: Match = None, thread: int | None = None,
                   since: int | None = None, timeout: float = 10.0) -> SentMessage:
    """The first bot message in `chat` sent or edited after the last scenario action there
    (or `since`) that matches; an AssertionError listing what was shown on timeout."""
    floor = emu.scenario_marks.get(chat.id, 0) if since is None else since
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with emu.seq.cond:
        while True:
            for view in bot_messages(emu, chat, thread):
                if emu.changed_at.get((chat.id, view.message_id), 0) > floor and _matches(view, match):
                    return view
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no bot message matching {match!r} in {chat.title or chat.id} within "
                                     f"{timeout}s; shown: {bot_messages(emu, chat, thread)[-8:]}")
            try:
                await asyncio.wait_for(emu.seq.cond.wait(), remaining)
            except asyncio.TimeoutError:
                pass


def _matches(view: SentMessage, match: Match) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        return match.lower() in view.text.lower()
    return match(view)
