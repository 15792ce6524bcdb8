"""When to look at the chain next: right after a new block, not on a fixed timer.

Every step a rental waits on (its deposit's confirmations, its start) ends with a new block, and a
fixed sleep adds up to a whole interval per step on top (a 2 s poll misses a 12 s block by up to
2 s each time). So the runtime waits for the next head:

- over WebSocket (`eth_subscribe("newHeads")`) when a ws_url is configured: the node says when;
- otherwise by cadence: blocks come at a steady pace on most chains, so the block time is learnt
  from recent headers' timestamps and the phase from when new heads were first seen; the wait
  ends just before the next block is due and then checks `eth_blockNumber` (cheap) every few tens
  of milliseconds until the head moves. A chain that mines only on demand (anvil's automine) is
  simply overdue all the time: then the configured poll interval applies.

Either way a round runs at least every `max_wait_s`, for the work that is timed rather than
driven by blocks (retries, expiries). Errors are logged by type only (an RPC URL carries keys).
"""
from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Mapping
from typing import Any

from web3 import AsyncWeb3

log = logging.getLogger(__name__)
LEARN_BLOCKS = 10          # headers read to learn the block time
RELEARN_EVERY = 256        # blocks between two lessons
FAST_S = 0.05              # between two eth_blockNumber calls while a block is due
UNKNOWN_LOOK_S = 0.25      # between two looks while the block time is not known yet
EARLY_S = 0.15             # look this long before a block is due (catches it as it comes: keeps the phase)


class BlockCadence:
    """Block time and phase of one chain, as seen from here (monotonic seconds)."""

    def __init__(self) -> None:
        self.block_time: float | None = None
        self.head: int | None = None
        self.arrived: float | None = None        # when the current head came, best estimate
        self._last_look: float | None = None

    def learn(self, timestamps: list[int]) -> None:
        """Block time from consecutive headers' timestamps (oldest first)."""
        gaps = [b - a for a, b in zip(timestamps, timestamps[1:]) if b >= a]
        if gaps and statistics.median(gaps) > 0:
            self.block_time = float(statistics.median(gaps))

    def looked(self, head: int, at: float) -> bool:
        """Record one look at the head; True if it moved."""
        moved = self.head is not None and head > self.head
        if self.head is None or moved:
            prev = self._last_look
            due = self.due()
            if prev is not None and at - prev <= 4 * FAST_S:
                self.arrived = (prev + at) / 2           # seen between two close looks: a tight estimate
            elif due is not None and prev is not None and prev < due <= at:
                self.arrived = due                       # on time: keep the phase
            else:
                self.arrived = at                        # an upper bound (first sight)
            self.head = head
        self._last_look = at
        return moved

    def due(self) -> float | None:
        if self.block_time is None or self.arrived is None:
            return None
        return self.arrived + self.block_time

    def wait_s(self, now: float, max_wait_s: float) -> float:
        """How long to sleep before the next look."""
        due = self.due()
        if due is None:
            return min(UNKNOWN_LOOK_S, max_wait_s)        # not learnt yet: look often (a cheap call)
        early = min(EARLY_S, self.block_time / 10)
        if now < due - early:
            return min(due - early - now, max_wait_s)
        if now < due + self.block_time / 2:
            return FAST_S                                 # due or a little late: look again soon
        return max_wait_s                                 # long overdue (a chain that mines on demand)


class HeadWatch:
    """Waits for the chain's next head (see the module docstring)."""

    def __init__(self, w3: AsyncWeb3, *, ws_url: str | None = None) -> None:
        self.w3 = w3
        self.ws_url = ws_url
        self.cadence = BlockCadence()
        self._pushed = asyncio.Event()
        self._ws_up = False
        self._ws_task: asyncio.Task | None = None
        self._learnt_at: int | None = None

    async def start(self) -> None:
        if self.ws_url and self._ws_task is None:
            self._ws_task = asyncio.get_running_loop().create_task(self._subscribe())

    async def close(self) -> None:
        if self._ws_task is not None:
            self._ws_task.cancel()
            try:
                await self._ws_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
                pass
            self._ws_task = None

    async def next_head(self, stop: asyncio.Event, max_wait_s: float) -> bool:
        """Return when a new head is seen (True), after max_wait_s (False) or when `stop` is set."""
        deadline = time.monotonic() + max_wait_s
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return False
            if self._ws_up:
                if await _wait_any(stop, self._pushed, deadline - now):
                    self._pushed.clear()
                    return not stop.is_set()
                continue
            await _wait_any(stop, None, min(self.cadence.wait_s(now, max_wait_s), deadline - now))
            if stop.is_set():
                return False
            try:
                head = await self.w3.eth.block_number
            except Exception as exc:  # noqa: BLE001 - the round's own calls will meet it too
                log.info("reading the chain's head failed: %s", type(exc).__name__)
                return False
            if self.cadence.looked(head, time.monotonic()):
                await self._maybe_learn(head)
                return True
            if self.cadence.block_time is None:
                await self._maybe_learn(head)
        return False

    async def _maybe_learn(self, head: int) -> None:
        if self._learnt_at is not None and head - self._learnt_at < RELEARN_EVERY:
            return
        try:
            first = max(0, head - LEARN_BLOCKS)
            blocks = [await self.w3.eth.get_block(n) for n in range(first, head + 1)]
            self.cadence.learn([b["timestamp"] for b in blocks])
            if self.cadence.block_time is not None:
                self._learnt_at = head
        except Exception as exc:  # noqa: BLE001 - no lesson this time: the poll interval applies
            log.info("learning the block time failed: %s", type(exc).__name__)

    async def _subscribe(self) -> None:
        from web3 import WebSocketProvider

        failures = 0
        while True:
            try:
                async with AsyncWeb3(WebSocketProvider(self.ws_url)) as ws:
                    await ws.eth.subscribe("newHeads")
                    self._ws_up, failures = True, 0
                    async for message in ws.socket.process_subscriptions():
                        self._on_head(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - fall back to the cadence, reconnect with backoff
                failures += 1
                log.warning("newHeads subscription lost (%s); polling by cadence meanwhile", type(exc).__name__)
            finally:
                self._ws_up = False
            await asyncio.sleep(min(2 ** min(failures, 6), 60))

    def _on_head(self, message: Any) -> None:
        result = message.get("result") if isinstance(message, Mapping) else None
        if isinstance(result, Mapping) and "number" in result:
            number = result["number"]
            self.cadence.looked(int(number, 16) if isinstance(number, str) else int(number), time.monotonic())
        self._pushed.set()


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout: float) -> bool:
    """Wait until `stop` or `other` is set (True) or `timeout` passes (False); cancels only the waits."""
    waits = [asyncio.ensure_future(stop.wait())] + ([asyncio.ensure_future(other.wait())] if other else [])
    try:
        done, _ = await asyncio.wait(waits, timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for w in waits:
            w.cancel()
