"""Webhook mode: the emulator delivers updates to python-telegram-bot's own webhook server, with
the secret token header; a request with a wrong or missing token is refused by the bot."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from telegram import Update
from telegram.error import Conflict
from telegram.ext import CommandHandler, ContextTypes

from devnet.telegram import LoopbackTelegram

from .conftest import build_app, polling, webhook

SECRET = "s3cret_Token-42"


def echo_bot(seen: list[str]) -> list:
    async def echo(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.message.text)
        await update.message.reply_text(f"got {update.message.text}")
    return [CommandHandler("echo", echo)]


async def test_updates_arrive_by_webhook_with_the_secret(tg: LoopbackTelegram) -> None:
    seen: list[str] = []
    alice = tg.add_user("Alice")
    app = build_app(tg, echo_bot(seen))
    async with webhook(app, SECRET) as url:
        info = await app.bot.get_webhook_info()
        assert info.url == url
        await alice.send("/echo one")
        await tg.wait_for(alice.dm, "got /echo one")
        with pytest.raises(Conflict):
            await app.bot.get_updates()
    assert seen == ["/echo one"]
    hook = tg.calls("setWebhook")[0].params
    assert hook["secret_token"] == SECRET and hook["url"] == url

async def test_a_wrong_or_missing_secret_is_refused(tg: LoopbackTelegram) -> None:
    seen: list[str] = []
    alice = tg.add_user("Alice", started=True)
    app = build_app(tg, echo_bot(seen))
    async with webhook(app, SECRET) as url:
        forged = tg.emu.updates.build("message", {
            "message_id": 999, "date": 0, "chat": alice.dm.json(), "from": alice.user.json(),
            "text": "/echo forged", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]})
        async with aiohttp.ClientSession() as http:
            for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                async with http.post(url, json=forged, headers=headers) as resp:
                    assert resp.status == 403
        await alice.send("/echo real")
        await tg.wait_for(alice.dm, "got /echo real")
    assert seen == ["/echo real"]


async def test_failed_deliveries_are_retried_in_order(tg: LoopbackTelegram) -> None:
    """Updates sent while the bot's endpoint is down are delivered, in order, once it is back."""
    seen: list[str] = []
    alice = tg.add_user("Alice")
    app = build_app(tg, echo_bot(seen))
    port = None
    async with webhook(app, SECRET) as url:
        port = int(url.split(":")[2].split("/")[0])
    # the bot is down, its webhook still set: these wait in Telegram's queue
    await alice.send("/echo a")
    await alice.send("/echo b")
    await asyncio.sleep(0.5)
    assert tg.emu.updates.webhook is not None and tg.emu.updates.webhook.last_error is not None
    async with webhook(build_app(tg, echo_bot(seen)), SECRET, port=port):
        await tg.wait_for(alice.dm, "got /echo b", timeout=10)
    assert seen == ["/echo a", "/echo b"]


async def test_switching_back_to_polling_deletes_the_webhook(tg: LoopbackTelegram) -> None:
    seen: list[str] = []
    alice = tg.add_user("Alice")
    async with webhook(build_app(tg, echo_bot(seen)), SECRET):
        pass
    await alice.send("/echo queued")
    async with polling(build_app(tg, echo_bot(seen))):
        await tg.wait_for(alice.dm, "got /echo queued")
    assert tg.emu.updates.webhook is None and seen == ["/echo queued"]
