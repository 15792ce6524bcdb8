"""Fault injection and rate-limit buckets for the emulated REST API.

Buckets answer with the headers Discord sends on every response (X-RateLimit-Limit, -Remaining,
-Reset, -Reset-After, -Bucket) and refuse with 429 when spent, per route and major parameter
(channel, guild, webhook), as Discord does. Injected faults: a 429 with `retry_after` (user,
shared or global scope), or a 5xx on a chosen route, either before the request takes effect or
after it (the work is done but the answer is lost, as a timed-out proxy would do it).
"""
from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass, field


@dataclass
class Fault:
    pattern: re.Pattern[str]
    method: str | None
    status: int
    times: int
    retry_after: float = 0.0
    scope: str = "user"
    after_commit: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.pattern.search(path))


class Faults:
    def __init__(self) -> None:
        self.planned: list[Fault] = []

    def rate_limit(self, path: str, *, method: str | None = None, times: int = 1, retry_after: float = 0.25,
                   scope: str = "user") -> Fault:
        """Answer the next `times` matching requests with 429 (scope "global" sets `global: true`)."""
        fault = Fault(re.compile(path), method, 429, times, retry_after=retry_after, scope=scope)
        self.planned.append(fault)
        return fault

    def server_error(self, path: str, *, method: str | None = None, times: int = 1, status: int = 500,
                     after_commit: bool = False) -> Fault:
        """Answer with a 5xx; `after_commit`: carry the request out first, then lose the answer."""
        fault = Fault(re.compile(path), method, status, times, after_commit=after_commit)
        self.planned.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.planned:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        self.planned.clear()


@dataclass
class Bucket:
    limit: int
    window: float
    remaining: int = 0
    reset_at: float = 0.0
    name: str = ""
    history: list[float] = field(default_factory=list)


class Buckets:
    """Per-route buckets; limits default to generous values tests may tighten (`set_limit`)."""

    def __init__(self, limit: int = 50, window: float = 1.0) -> None:
        self.default = (limit, window)
        self.overrides: dict[str, tuple[int, float]] = {}
        self.buckets: dict[str, Bucket] = {}

    def set_limit(self, route_key: str, limit: int, window: float) -> None:
        """`route_key` is "METHOD /template", e.g. "POST /channels/{channel_id}/messages"."""
        self.overrides[route_key] = (limit, window)

    def spend(self, route_key: str, major: str) -> tuple[bool, dict[str, str], float]:
        """(allowed, headers, retry_after) for one request."""
        limit, window = self.overrides.get(route_key, self.default)
        key = f"{route_key}:{major}"
        now = time.time()
        bucket = self.buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            name = hashlib.sha1(route_key.encode()).hexdigest()[:16]
            bucket = self.buckets[key] = Bucket(limit, window, limit, now + window, name)
        allowed = bucket.remaining > 0
        if allowed:
            bucket.remaining -= 1
        reset_after = max(bucket.reset_at - now, 0.0)
        return allowed, headers(bucket.limit, bucket.remaining, bucket.reset_at, reset_after, bucket.name), reset_after


def headers(limit: int, remaining: int, reset_at: float, reset_after: float, name: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{reset_at:.3f}", "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": name,
    }


def rate_limited(retry_after: float, scope: str, bucket_name: str) -> tuple[dict[str, object], dict[str, str]]:
    """Discord's 429: body with `retry_after` and `global`, headers incl. Retry-After and Via."""
    now = time.time()
    hdrs = headers(1, 0, now + retry_after, retry_after, bucket_name)
    hdrs.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": scope})
    if scope == "global":
        hdrs["X-RateLimit-Global"] = "true"
    body: dict[str, object] = {"message": "You are being rate limited.", "retry_after": retry_after,
                               "global": scope == "global", "code": 0}
    return body, hdrs
