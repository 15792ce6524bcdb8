"""Flood limits as Telegram applies them, and faults injected on chosen methods.

Telegram's published limits for bots: about 30 messages per second overall, no more than one
message per second in a single chat, at most 20 messages per minute in a group. A call over a
limit is answered 429 "Too Many Requests: retry after N" with `parameters.retry_after` = N, and
is not carried out. The overall and group limits are sliding windows ("at most K in any W
seconds"); the per-chat one is a bucket refilled at one message per second holding `chat_burst`
(Telegram tolerates a short burst, such as a reply and its edit, but not a sustained rate above
one per second; `RateLimits.strict()` allows no burst at all).
"""
from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from .errors import ApiError, too_many

# Calls that put a message on screen (new or edited) and so count against the limits.
COUNTED_PREFIXES = ("send", "edit", "copymessage", "forwardmessage")


@dataclass
class RateLimits:
    enabled: bool = True
    overall_per_second: int = 30
    chat_per_second: float = 1.0         # sustained rate in one chat
    chat_burst: int = 3                  # messages one chat may take at once before the rate applies
    group_per_minute: int = 20           # messages allowed in any 60-second window in one group

    @classmethod
    def off(cls) -> "RateLimits":
        return cls(enabled=False)

    @classmethod
    def strict(cls) -> "RateLimits":
        """The letter of the published limits: one message per second per chat, no burst."""
        return cls(chat_burst=1)


class _Bucket:
    """Holds up to `capacity` tokens, refilled at `rate` per second; a message takes one."""

    def __init__(self, capacity: int, rate: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens, self.stamp = float(capacity), None  # type: float, float | None

    def wait_needed(self, now: float) -> float:
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def add(self, now: float) -> None:
        self.tokens -= 1


class _Window:
    """At most `limit` events in any `seconds`-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.seconds - now

    def add(self, now: float) -> None:
        self.times.append(now)


@dataclass
class FloodControl:
    """Counts sends per chat, per group and overall; refuses with 429 past a limit."""

    limits: RateLimits = field(default_factory=RateLimits)
    clock: object = time.monotonic
    refused: int = 0

    def __post_init__(self) -> None:
        self._overall = _Window(self.limits.overall_per_second, 1.0)
        self._chats: dict[int, _Bucket] = defaultdict(
            lambda: _Bucket(self.limits.chat_burst, self.limits.chat_per_second))
        self._groups: dict[int, _Window] = defaultdict(lambda: _Window(self.limits.group_per_minute, 60.0))

    def admit(self, method: str, chat_id: int | None, is_group: bool) -> None:
        """Record one counted call, or raise the 429 Telegram would answer."""
        if not self.limits.enabled or not method.lower().startswith(COUNTED_PREFIXES):
            return
        now = self.clock()  # type: ignore[operator]
        windows: list[_Window | _Bucket] = [self._overall]
        if chat_id is not None:
            windows.append(self._chats[chat_id])
            if is_group:
                windows.append(self._groups[chat_id])
        wait = max(w.wait_needed(now) for w in windows)
        if wait > 0:
            self.refused += 1
            raise too_many(max(1, math.ceil(wait)))
        for w in windows:
            w.add(now)


@dataclass
class _Fault:
    method: str
    status: int
    remaining: int
    retry_after: int | None
    after: bool
    description: str


class Faults:
    """Errors answered on chosen methods, `times` times each.

    `after=False` (default): the call is refused before anything happens, so a retry is safe.
    `after=True`: the call is carried out and then the answer is lost (the error is sent instead):
    what a timeout after a send looks like, where a blind retry doubles the message.
    """

    def __init__(self) -> None:
        self._faults: list[_Fault] = []
        self.fired: list[tuple[str, int]] = []

    def inject(self, method: str, status: int = 500, times: int = 1, retry_after: int | None = None,
               after: bool = False, description: str | None = None) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        text = description or {429: f"Too Many Requests: retry after {retry_after}", 500: "Internal Server Error",
                               502: "Bad Gateway", 503: "Service Unavailable",
                               504: "Gateway Timeout"}.get(status, f"Error {status}")
        self._faults.append(_Fault(method.lower(), status, times, retry_after, after, text))

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, after: bool) -> ApiError | None:
        for fault in self._faults:
            if fault.method == method.lower() and fault.after == after and fault.remaining > 0:
                fault.remaining -= 1
                self.fired.append((method, fault.status))
                return ApiError(fault.status, fault.description, retry_after=fault.retry_after)
        return None
