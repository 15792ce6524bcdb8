"""Benchmark: the Telegram front-end through the real python-telegram-bot client and the loopback
Telegram (devnet.telegram), on a real runtime over SQLite.

1. Update handling latency: 200 known people send /offers. Measured from the moment the bot
   received each update (the emulator handed it over in getUpdates) to the first answer it sent
   in that chat, next to the same 200 calls made straight into the core (so the front-end's
   share shows as a ratio measured in the same run). Three runs: all at once with outbound
   pacing lifted (the handling alone), all at once with the flood limiter (Telegram's 30
   messages a second overall alone make 200 answers take ~7 s), and spread over 10 s (20
   updates a second, under Telegram's rate), which carries the goal: p99 under 100 ms.
2. Outbound rate: 1,000 notices queued at once to 250 people and 2 groups, sent through the
   front-end's flood limiter into an emulator enforcing Telegram's limits strictly (no burst):
   messages per second, 429s provoked (goal 0), lost (goal 0). (Groups take 20 a minute: 10 posts
   each keep the run short.)

Run: .venv/bin/python bench/telegram_frontend.py
"""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from telegram.ext import ExtBot

from bot.chat import Message, user
from bot.runtime import start_runtime
from devnet.telegram import LoopbackTelegram, RateLimits
from handlers.telegram.app import build_application, start_application, stop_application
from handlers.telegram.ratelimit import TelegramFloodLimiter
from handlers.telegram.sender import Sender
from tests.conftest import test_settings
from tests.helpers import provider_with_offer

PEOPLE = 200
NOTICES = 1000


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def latency(tmp: Path, unpaced: bool, spread_s: float = 0.0) -> tuple[list[float], list[float]]:
    """(through Telegram, core alone) latencies in ms for PEOPLE /offers, sent at once or spread."""
    async with LoopbackTelegram(limits=RateLimits.off() if unpaced else RateLimits()) as tg:
        settings = test_settings(f"sqlite+aiosqlite:///{tmp / f'run{unpaced:d}{spread_s:g}.db'}", data_dir=tmp,
                                 telegram={"enabled": True, "base_url": tg.base_url,
                                           "base_file_url": tg.base_file_url}, telegram_token=tg.token)
        runtime = await start_runtime(settings)
        for i in range(5):
            await provider_with_offer(runtime.app, f"prov{i}", price=f"0.{i + 1}")
        limiter = (TelegramFloodLimiter(overall_per_second=100_000, group_per_minute=100_000, chat_interval_s=1e-4)
                   if unpaced else TelegramFloodLimiter())
        app = build_application(settings, tg.token, limiter=limiter)
        await start_application(app, runtime, settings)
        people = [tg.add_user(f"user{i}", started=True) for i in range(PEOPLE)]
        for p in people:                 # warm-up: everyone is known (first sight creates the user)
            await p.send("/help")
        await asyncio.gather(*(tg.wait_for(p.dm, "Commands:", timeout=120) for p in people))
        core = await core_alone(runtime, people)
        start_calls = len(tg.emu.calls)

        async def one(i: int, p):
            await asyncio.sleep(spread_s * i / PEOPLE)
            return await p.send("/offers sort=price")
        sent = await asyncio.gather(*(one(i, p) for i, p in enumerate(people)))
        await asyncio.gather(*(tg.wait_for(p.dm, "page 1/", timeout=120) for p in people))
        first_answer: dict[int, float] = {}
        for call in tg.emu.calls[start_calls:]:
            if call.method == "sendMessage" and call.status == 200:
                first_answer.setdefault(int(call.params["chat_id"]), call.at)
        by_chat = {m["chat"]["id"]: m for m in sent}
        samples = []
        for update in tg.emu.updates.history:
            msg = update.get("message")
            if msg is None or by_chat.get(msg["chat"]["id"]) is not msg:
                continue
            samples.append((first_answer[msg["chat"]["id"]] - tg.emu.updates.handed_over[update["update_id"]]) * 1000)
        await stop_application(app)
        await runtime.close()
        assert tg.violations == [], tg.violations
        return samples, core


async def core_alone(runtime, people) -> list[float]:
    """The same commands straight into the core's router, all at once: what the front-end adds is
    the difference."""
    from bot.chat import Invocation

    async def one(p) -> float:
        inv = Invocation(platform="telegram", platform_user_id=str(p.id), display_name=p.user.first_name, is_dm=True)
        t = time.perf_counter()
        await runtime.router.handle_text(inv, "/offers sort=price")
        return (time.perf_counter() - t) * 1000
    return list(await asyncio.gather(*(one(p) for p in people)))


async def outbound() -> tuple[float, int, int]:
    async with LoopbackTelegram(limits=RateLimits.strict()) as tg:
        people = [tg.add_user(f"renter{i}", started=True) for i in range(250)]
        groups = [tg.add_supergroup(f"listings{i}") for i in range(2)]
        targets = ([p.id for p in people] * 4)[:NOTICES - 20] + [g.id for g in groups] * 10   # 10 posts a group
        bot = ExtBot(tg.token, base_url=tg.base_url, rate_limiter=TelegramFloodLimiter())
        async with bot:
            sender = Sender(bot, codec=None)
            t0 = time.perf_counter()
            await asyncio.gather(*(sender.send(chat, Message().add(f"notice {i}: ", user("rental <#7> is ready")))
                                   for i, chat in enumerate(targets)))
            elapsed = time.perf_counter() - t0
        delivered = sum(len(tg.messages(c)) for c in [p.dm for p in people] + groups)
        refused = tg.emu.flood.refused
        assert tg.violations == [], tg.violations
        return NOTICES / elapsed, refused, NOTICES - delivered


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        runs = [("spread over 10 s (20 updates/s), flood limiter on", False, 10.0),
                ("all at once, outbound pacing lifted (the handling alone)", True, 0.0),
                ("all at once, flood limiter on", False, 0.0)]
        for what, unpaced, spread in runs:
            samples, core = await latency(tmp, unpaced, spread)
            p50, p99 = statistics.median(samples), pct(samples, 0.99)
            line = (f"{PEOPLE} people /offers, {what}: update received -> first answer p50 {p50:.1f} ms "
                    f"p99 {p99:.1f} ms; the core alone, {PEOPLE} calls at once: p50 {statistics.median(core):.1f} ms "
                    f"p99 {pct(core, 0.99):.1f} ms")
            if spread:
                line += f" (goal: p99 under 100 ms) -> {'MET' if p99 < 100 else 'NOT MET'}"
            elif not unpaced:
                line += f" (Telegram's 30 msg/s alone: {PEOPLE} answers take ~{PEOPLE / 30:.1f} s)"
            print(line)
    rate, refused, lost = await outbound()
    print(f"{NOTICES} queued notices (250 people, 2 groups) under strict limits: {rate:.1f} msg/s, "
          f"429s provoked {refused} (goal 0), lost {lost} (goal 0) -> "
          f"{'MET' if refused == 0 and lost == 0 else 'NOT MET'}")


if __name__ == "__main__":
    asyncio.run(main())
