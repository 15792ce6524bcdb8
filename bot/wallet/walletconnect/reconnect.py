"""How long to wait before reconnecting to the relay, and which closes are configuration errors.

Why its own module: the two cases need opposite handling. A network blip or relay restart should
be retried quickly, starting again from a short delay once a connection has proved healthy (the
relay answered on it), not merely opened: a relay that accepts the socket and closes it at once
would otherwise be hammered every ~100 ms for ever. An auth refusal (close code 3000
"Authorization error: ..." from the public relay, or HTTP 401/403 in the handshake: bad project
id, a JWT the relay will not accept, a wrong clock) will not fix itself by retrying; the official
SDK stops for good. The bot keeps trying, since an operator may fix the clock or project meanwhile,
but slowly (1 s doubling to 5 min), and says plainly what is wrong.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed, InvalidStatus

AUTH_CLOSE_CODE = 3000
AUTH_HTTP_STATUSES = (401, 403)


@dataclass
class Backoff:
    """Delays for consecutive failures; `reset()` after a healthy connection."""

    first: float = 0.1
    cap: float = 5.0
    auth_first: float = 1.0
    auth_cap: float = 300.0
    failures: int = 0
    auth_failures: int = 0

    def reset(self) -> None:
        self.failures = self.auth_failures = 0

    def next_delay(self, auth_refused: bool) -> float:
        if auth_refused:
            self.auth_failures += 1
            delay = min(self.auth_first * 2 ** (self.auth_failures - 1), self.auth_cap)
        else:
            self.failures += 1
            delay = min(self.first * 2 ** (self.failures - 1), self.cap)
        return delay * random.uniform(0.9, 1.1)   # jitter: many bots must not reconnect in step


def close_of(exc: BaseException | None, ws_code: int | None = None, ws_reason: str | None = None
             ) -> tuple[int | None, str]:
    """(close code or HTTP status, reason) for how a connection ended; (None, name) if neither."""
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code, exc.response.reason_phrase or ""
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    if ws_code is not None:
        return ws_code, ws_reason or ""
    return None, type(exc).__name__ if exc is not None else ""


def is_auth_refusal(code: int | None, handshake: bool) -> bool:
    return code == AUTH_CLOSE_CODE or (handshake and code in AUTH_HTTP_STATUSES)
