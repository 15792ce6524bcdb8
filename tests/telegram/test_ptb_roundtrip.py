"""The real python-telegram-bot Application, polling the loopback Telegram, with a throw-away bot.

Not the product: a minimal bot that exercises what the product will need (commands, callbacks,
edits, photo and document uploads, file download, command scopes, 429 and 5xx handling), so the
emulator is proven against the real client before the front-end is built on it.
"""
from __future__ import annotations

import asyncio
import html
import io

import segno
from telegram import (BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats,
                      BotCommandScopeChatAdministrators, InlineKeyboardButton, InlineKeyboardMarkup, Update)
from telegram.error import NetworkError, RetryAfter
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

from devnet.telegram import LoopbackTelegram

from .conftest import build_app, polling


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text).save(out, kind="png", scale=4)
    return out.getvalue()


async def send_retrying(ctx: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, **kw: object) -> None:
    """What a careful bot does: wait retry_after on a 429, retry a refused 5xx once."""
    for attempt in range(4):
        try:
            await ctx.bot.send_message(chat_id, text, **kw)
            return
        except RetryAfter as exc:
            await asyncio.sleep(exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds")
                                else exc.retry_after)
        except NetworkError:
            await asyncio.sleep(0.2)
    raise AssertionError("gave up")


class ThrowawayBot:
    def __init__(self) -> None:
        self.payloads: list[str] = []

    def handlers(self) -> list:
        return [CommandHandler("start", self.start), CommandHandler("photo", self.photo),
                CommandHandler("doc", self.doc), CommandHandler("ping", self.ping),
                CommandHandler("burst", self.burst), CallbackQueryHandler(self.more, pattern="^more$")]

    async def start(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        self.payloads.append(" ".join(ctx.args))
        name = html.escape(update.effective_user.first_name)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
        await update.message.reply_text(f"Hello <b>{name}</b> &amp; welcome", parse_mode="HTML",
                                        reply_markup=keyboard)

    async def more(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Loading")
        await query.edit_message_text("Here is <i>more</i>", parse_mode="HTML")

    async def photo(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_photo(qr_png("wc:abc@2?relay-protocol=irn"), caption="Scan <b>me</b>",
                                         parse_mode="HTML")

    async def doc(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_document(b"-----BEGIN KEY-----\nabc\n", filename="id_ed25519",
                                            caption="Your key")

    async def ping(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        await send_retrying(ctx, update.effective_chat.id, "pong")

    async def burst(self, update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        for i in range(5):
            await send_retrying(ctx, update.effective_chat.id, f"line {i}")


async def test_command_callback_and_edit(tg: LoopbackTelegram) -> None:
    bot = ThrowawayBot()
    alice = tg.add_user("Alice <3", "alice")
    async with polling(build_app(tg, bot.handlers())):
        await alice.start("rent_12")
        hello = await tg.wait_for(alice.dm, "hello")
        assert hello.text == "Hello Alice <3 & welcome"
        assert hello.raw["entities"] == [{"type": "bold", "offset": 6, "length": 8}]
        assert bot.payloads == ["rent_12"]
        query = await alice.press(hello, "More")
        edited = await tg.wait_for(alice.dm, "here is")
        assert edited.message_id == hello.message_id and edited.edited and edited.buttons == []
        assert query.answered and query.answer == {"text": "Loading"}


async def test_photo_document_and_download(tg: LoopbackTelegram) -> None:
    bot = ThrowawayBot()
    alice = tg.add_user("Alice")
    app = build_app(tg, bot.handlers())
    async with polling(app):
        await alice.send("/photo")
        photo = await tg.wait_for(alice.dm, "scan")
        sizes = photo.raw["photo"]
        assert sizes[-1]["width"] == sizes[-1]["height"] > 90 and sizes[0]["width"] <= 90
        assert photo.file_bytes() == qr_png("wc:abc@2?relay-protocol=irn")
        await alice.send("/doc")
        doc = await tg.wait_for(alice.dm, "your key")
        assert doc.file_name == "id_ed25519"
        file = await app.bot.get_file(doc.raw["document"]["file_id"])
        assert file.file_path.startswith(tg.base_file_url)
        assert bytes(await file.download_as_bytearray()) == b"-----BEGIN KEY-----\nabc\n"


async def test_commands_per_scope(tg: LoopbackTelegram) -> None:
    support = tg.add_supergroup("Support", forum=True)
    app = build_app(tg, [])
    async with polling(app):
        await app.bot.set_my_commands([BotCommand("help", "What I do"), BotCommand("rent", "Rent a GPU")],
                                      scope=BotCommandScopeAllPrivateChats())
        await app.bot.set_my_commands([BotCommand("offers", "Browse offers")], scope=BotCommandScopeAllGroupChats())
        await app.bot.set_my_commands([BotCommand("resolve", "Settle a dispute")],
                                      scope=BotCommandScopeChatAdministrators(support.id))
        got = await app.bot.get_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert [c.command for c in got] == ["help", "rent"]
    assert [c["command"] for c in tg.commands({"type": "all_group_chats"})] == ["offers"]
    assert tg.commands({"type": "chat_administrators", "chat_id": support.id})[0]["command"] == "resolve"
    assert tg.commands() == []


async def test_429_waits_retry_after_and_never_doubles(tg: LoopbackTelegram) -> None:
    alice = tg.add_user("Alice")
    tg.faults.inject("sendMessage", status=429, retry_after=1)
    async with polling(build_app(tg, ThrowawayBot().handlers())):
        await alice.send("/ping")
        await tg.wait_for(alice.dm, "pong")
        await asyncio.sleep(0.3)
    sends = tg.calls("sendMessage")
    assert [c.status for c in sends] == [429, 200]
    assert sends[1].at - sends[0].at >= 1.0
    assert [m.text for m in tg.messages(alice.dm)] == ["pong"]


async def test_flood_limit_per_chat_is_held_by_waiting(tg: LoopbackTelegram) -> None:
    alice = tg.add_user("Alice")
    async with polling(build_app(tg, ThrowawayBot().handlers())):
        await alice.send("/burst")
        await tg.wait_for(alice.dm, "line 4", timeout=15)
    assert [m.text for m in tg.messages(alice.dm)] == [f"line {i}" for i in range(5)]
    assert tg.emu.flood.refused >= 1                     # the burst of 3 was used up, then 429s
    assert 429 in [c.status for c in tg.calls("sendMessage")]


async def test_5xx_on_send_and_on_polling_are_survived(tg: LoopbackTelegram) -> None:
    alice = tg.add_user("Alice")
    tg.faults.inject("sendMessage", status=502)
    tg.faults.inject("getUpdates", status=500, times=2)
    async with polling(build_app(tg, ThrowawayBot().handlers())):
        await alice.send("/ping")
        await tg.wait_for(alice.dm, "pong", timeout=15)
        await alice.send("/ping")
        second = await tg.wait_for(alice.dm, "pong", timeout=10)
    assert ("getUpdates", 500) in tg.faults.fired and ("sendMessage", 502) in tg.faults.fired
    assert [m.text for m in tg.messages(alice.dm)] == ["pong", "pong"] and second.message_id > 1


async def test_a_lost_answer_makes_a_blind_retry_double(tg: LoopbackTelegram) -> None:
    """The fault mode that shows why sends need care: the message went out, the answer was lost."""
    alice = tg.add_user("Alice")
    tg.faults.inject("sendMessage", status=504, after=True)
    async with polling(build_app(tg, ThrowawayBot().handlers())):
        await alice.send("/ping")
        await tg.wait_for(alice.dm, "pong")
        await asyncio.sleep(0.5)
    assert [m.text for m in tg.messages(alice.dm)] == ["pong", "pong"]
