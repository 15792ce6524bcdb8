"""Outbound pacing under Telegram's flood limits: 30 messages a second overall, 20 a minute in a
group, one a second in a chat; a 429 pauses every request for its retry_after, then retries.

Why not PTB's AIORateLimiter: it paces when a request is *admitted*, with leaky buckets that let
a burst plus the refill through in one window, and it has no per-chat limit; with a long queue a
request admitted early can wait in another limiter and reach Telegram right behind a later one
of the same chat, which Telegram answers with 429. Here the limits are counted on what reaches
Telegram: sends of one chat go one at a time, at least a second after the previous one came
back; a group's sends are counted in a sliding minute of completed sends; the overall window
counts completed sends of the last second plus those in flight. So no window ever holds more
than the limit, whatever the queue.
"""
from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from typing import Any, Callable, Coroutine

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)
OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
CHAT_INTERVAL_S = 1.0
COUNTED = ("send", "edit", "copy", "forward")


class SendWindow:
    """At most `limit` sends in any `seconds`: completed ones in the window plus those in flight."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.done: deque[float] = deque()
        self.in_flight = 0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self.done and self.done[0] <= now - self.seconds:
                self.done.popleft()
            if len(self.done) + self.in_flight < self.limit:
                self.in_flight += 1
                return
            await asyncio.sleep(self.done[0] + self.seconds - now if self.done else 0.01)

    def release(self) -> None:
        self.in_flight -= 1
        self.done.append(asyncio.get_running_loop().time())


class _Chat:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last_done = float("-inf")
        self.users = 0


class TelegramFloodLimiter(BaseRateLimiter[int]):
    def __init__(self, max_retries: int = 5, overall_per_second: int = OVERALL_PER_SECOND,
                 group_per_minute: int = GROUP_PER_MINUTE, chat_interval_s: float = CHAT_INTERVAL_S) -> None:
        self.max_retries = max_retries
        self.overall = SendWindow(overall_per_second, 1.0)
        self.group_per_minute = group_per_minute
        self.chat_interval = chat_interval_s
        self._chats: dict[str, _Chat] = {}
        self._groups: dict[str, SendWindow] = {}
        self._resume = asyncio.Event()
        self._resume.set()
        self.retried = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        retries = rate_limit_args if rate_limit_args is not None else self.max_retries
        chat_id = data.get("chat_id")
        counted = chat_id is not None and endpoint.lower().startswith(COUNTED)
        for attempt in range(retries + 1):
            await self._resume.wait()
            try:
                if not counted:
                    return await callback(*args, **kwargs)
                return await self._paced(str(chat_id), callback, args, kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                pause = retry_seconds(exc) + 0.1
                log.info("Telegram asked to wait %.1f s; pausing outbound requests", pause)
                self.retried += 1
                self._resume.clear()
                try:
                    await asyncio.sleep(pause)
                finally:
                    self._resume.set()
        raise AssertionError("unreachable")

    async def _paced(self, key: str, callback, args, kwargs) -> Any:
        chat = self._chats.setdefault(key, _Chat())
        chat.users += 1
        loop = asyncio.get_running_loop()
        try:
            async with chat.lock:                  # one request of a chat at a time, in order
                wait = chat.last_done + self.chat_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                group = self._group(key)
                if group is not None:
                    await group.acquire()
                await self.overall.acquire()
                try:
                    return await callback(*args, **kwargs)
                finally:
                    self.overall.release()
                    if group is not None:
                        group.release()
                    chat.last_done = loop.time()
        finally:
            chat.users -= 1
            if chat.users == 0 and loop.time() - chat.last_done > self.chat_interval:
                self._chats.pop(key, None)

    def _group(self, key: str) -> SendWindow | None:
        """Groups, supergroups and channels have negative ids (or an @username)."""
        if not (key.startswith("-") or key.startswith("@")):
            return None
        return self._groups.setdefault(key, SendWindow(self.group_per_minute, 60.0))


def retry_seconds(exc: RetryAfter) -> float:
    """retry_after in seconds (PTB 22 gives an int or, opted in, a timedelta; reading it warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[union-attr]
