"""The front-end's flood limiter keeps under Telegram's limits as the emulator enforces them to the
letter (no burst), and a 429 it still meets is waited out and retried, never doubled."""
from __future__ import annotations

import asyncio
import time

from telegram.ext import ExtBot

from bot.chat import Message
from devnet.telegram import LoopbackTelegram, RateLimits
from handlers.telegram.ratelimit import TelegramFloodLimiter
from handlers.telegram.sender import Sender


async def test_no_limit_is_broken_by_a_sudden_queue() -> None:
    async with LoopbackTelegram(limits=RateLimits.strict()) as tg:
        people = [tg.add_user(f"u{i}", started=True) for i in range(40)]
        group = tg.add_supergroup("Listings")
        targets = [p.id for p in people] + [people[0].id] * 3 + [group.id] * 3
        async with ExtBot(tg.token, base_url=tg.base_url, rate_limiter=TelegramFloodLimiter()) as bot:
            sender = Sender(bot, codec=None)
            t0 = time.monotonic()
            await asyncio.gather(*(sender.send(chat, Message().add(f"n{i}")) for i, chat in enumerate(targets)))
            elapsed = time.monotonic() - t0
        assert tg.emu.flood.refused == 0
        assert [m.text for m in tg.messages(people[0].dm)] == ["n0", "n40", "n41", "n42"]     # in order
        assert len(tg.messages(group)) == 3 and sum(len(tg.messages(p.dm)) for p in people) == 43
        assert elapsed >= 3.0              # one chat's 4 messages need 3 s; groups 20/min
        assert tg.violations == []


async def test_a_429_pauses_then_retries_once() -> None:
    async with LoopbackTelegram(limits=RateLimits.strict()) as tg:
        alice = tg.add_user("Alice", started=True)
        tg.faults.inject("sendMessage", status=429, retry_after=1)
        limiter = TelegramFloodLimiter()
        async with ExtBot(tg.token, base_url=tg.base_url, rate_limiter=limiter) as bot:
            await Sender(bot, codec=None).send(alice.id, Message().add("once"))
        calls = tg.calls("sendMessage")
        assert [c.status for c in calls] == [429, 200] and calls[1].at - calls[0].at >= 1.0
        assert [m.text for m in tg.messages(alice.dm)] == ["once"] and limiter.retried == 1
        assert tg.violations == []
