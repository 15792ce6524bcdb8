"""Outbound pacing under Telegram's flood limits: 30 messages a second overall, 20 a minute in
a group, one a second in a chat; a 429 waits its retry_after (every request pauses) and retries.

PTB's AIORateLimiter does the overall and per-group limits and the retries, with aiolimiter's
leaky buckets. A bucket of capacity C leaking R a second lets C + R·W through in any window of W
seconds, so "at most 30 in any second" needs C = 1 and R = 29: requests are spaced, never burst
(one less again, R = 28, leaves room for network jitter reordering arrivals). The per-chat limit
(which AIORateLimiter does not have) is one more bucket per chat id.
"""
from __future__ import annotations

from typing import Any, Callable, Coroutine

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter, BaseRateLimiter

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
CHAT_INTERVAL_S = 1.0
_CHAT_LIMITERS_KEPT = 2048


class TelegramFloodLimiter(BaseRateLimiter[int]):
    def __init__(self, max_retries: int = 5, overall_per_second: int = OVERALL_PER_SECOND,
                 group_per_minute: int = GROUP_PER_MINUTE, chat_interval_s: float = CHAT_INTERVAL_S) -> None:
        self._inner = AIORateLimiter(overall_max_rate=1, overall_time_period=1 / (overall_per_second - 2),
                                     group_max_rate=1, group_time_period=60 / (group_per_minute - 2),
                                     max_retries=max_retries)
        self._chat_interval = chat_interval_s
        self._chats: dict[str, AsyncLimiter] = {}

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    def _chat(self, chat_id: object) -> AsyncLimiter:
        key = str(chat_id)
        if key not in self._chats:
            if len(self._chats) > _CHAT_LIMITERS_KEPT:      # forget idle chats (their bucket is empty)
                for old, limiter in list(self._chats.items()):
                    if limiter.has_capacity(1):
                        del self._chats[old]
            self._chats[key] = AsyncLimiter(1, self._chat_interval)
        return self._chats[key]

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        chat_id = data.get("chat_id")
        if chat_id is not None and endpoint.lower().startswith(("send", "edit", "copy", "forward")):
            async with self._chat(chat_id):
                return await self._inner.process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await self._inner.process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
