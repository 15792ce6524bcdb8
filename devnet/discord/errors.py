"""Discord's error answers: JSON `{"code", "message"[, "errors"]}` with the status Discord uses.

Codes are the ones in Discord's developer documentation (JSON error codes). Field errors follow
the "Invalid Form Body" (50035) layout: a tree keyed by field name and array index whose leaves
are `{"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": ...}]}`.
"""
from __future__ import annotations

from typing import Any

UNAUTHORIZED = 0
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_COMMAND = 10063
UNKNOWN_INTERACTION = 10062
TOO_LARGE = 40005
ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
EDIT_OTHERS_MESSAGE = 50005
EMPTY_MESSAGE = 50006
CANNOT_DM = 50007
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
THREAD_ARCHIVED = 50083
MISSING_PERMISSIONS = 50013

MESSAGES = {
    UNAUTHORIZED: "401: Unauthorized",
    UNKNOWN_CHANNEL: "Unknown Channel",
    UNKNOWN_GUILD: "Unknown Guild",
    UNKNOWN_MEMBER: "Unknown Member",
    UNKNOWN_MESSAGE: "Unknown Message",
    UNKNOWN_ROLE: "Unknown Role",
    UNKNOWN_USER: "Unknown User",
    UNKNOWN_WEBHOOK: "Unknown Webhook",
    UNKNOWN_COMMAND: "Unknown application command",
    UNKNOWN_INTERACTION: "Unknown interaction",
    TOO_LARGE: "Request entity too large",
    ALREADY_ACKNOWLEDGED: "Interaction has already been acknowledged.",
    MISSING_ACCESS: "Missing Access",
    EDIT_OTHERS_MESSAGE: "Cannot edit a message authored by another user",
    EMPTY_MESSAGE: "Cannot send an empty message",
    CANNOT_DM: "Cannot send messages to this user",
    INVALID_WEBHOOK_TOKEN: "Invalid Webhook Token",
    INVALID_FORM_BODY: "Invalid Form Body",
    THREAD_ARCHIVED: "Thread is archived",
    MISSING_PERMISSIONS: "Missing Permissions",
}


class DiscordError(Exception):
    """Raised by a route; the REST layer turns it into Discord's JSON error answer."""

    def __init__(self, status: int, code: int, message: str | None = None,
                 errors: dict[str, Any] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message or MESSAGES.get(code, "Error")
        self.errors = errors
        super().__init__(f"{status} {code} {self.message}")

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


class FieldErrors:
    """Collects per-field errors into Discord's nested layout."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple[str | int, ...], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def too_many(self, path: tuple[str | int, ...], limit: int) -> None:
        self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {limit} in length.")

    def required(self, path: tuple[str | int, ...]) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordError(400, INVALID_FORM_BODY, errors=self.tree)


def invalid_body(problems: list[Any]) -> DiscordError:
    """A 50035 for a body the OpenAPI file rejects, one field error per problem (spec.Problem)."""
    errors = FieldErrors()
    for problem in problems:
        errors.add(tuple(problem.path) or ("_body",), f"SPEC_{problem.rule.upper()}", problem.message)
    return DiscordError(400, INVALID_FORM_BODY, errors=errors.tree)
