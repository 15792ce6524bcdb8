"""Error answers in the Bot API's shape: `{"ok": false, "error_code": N, "description": ...}`.

The HTTP status equals `error_code` (python-telegram-bot maps the status to its exceptions: 400
BadRequest, 401/404 InvalidToken, 403 Forbidden, 409 Conflict, other codes NetworkError) and a 429
carries `parameters.retry_after`, which the library raises as RetryAfter.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer the emulator gives instead of a result."""

    def __init__(self, code: int, description: str, retry_after: int | None = None,
                 violation: bool = False) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after
        self.violation = violation      # the bot sent what a correct client never sends

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def bad_request(detail: str, violation: bool = True) -> ApiError:
    """400 for a malformed call: by default also a violation (a correct bot never sends it)."""
    return ApiError(400, f"Bad Request: {detail}", violation=violation)


def refused(detail: str) -> ApiError:
    """400 for a call that is well formed but refused by the state of things (not modified...)."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
