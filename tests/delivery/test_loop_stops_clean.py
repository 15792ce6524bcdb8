"""A front-end's delivery loop, once stopped, leaves no task of its own behind. A wait cancelled
mid-query but never awaited outlived the engine it queried: its connection's close never
returned, and the test process hung at event-loop shutdown (CI ran out of time in tests/discord)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from handlers.discord.delivery import DiscordDelivery
from handlers.telegram.delivery import TelegramDelivery


@pytest.mark.parametrize("loop_class", [DiscordDelivery, TelegramDelivery], ids=["discord", "telegram"])
async def test_a_stopped_delivery_loop_leaves_no_task(market, loop_class):
    front = SimpleNamespace(services=market.services)
    before = asyncio.all_tasks()
    stop = asyncio.Event()
    runner = asyncio.ensure_future(loop_class(front).run(stop))
    await asyncio.sleep(0.2)                       # the loop is waiting for work now
    stop.set()
    await asyncio.wait_for(runner, timeout=5)
    left = [t for t in asyncio.all_tasks() - before if t is not runner]
    assert left == [], f"tasks still running after the loop stopped: {left}"


async def test_wait_for_work_or_returns_when_stopped(market):
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    await asyncio.wait_for(market.queue.wait_for_work_or(stop, "alpha", timeout=30), timeout=5)
    assert stop.is_set()
