"""Errors a user may see. Their message is the whole answer: plain, specific, no internals."""
from __future__ import annotations


class UserError(Exception):
    """Something the person asked for cannot be done; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(UserError):
    """The request itself is malformed (bad number, unknown field, too long...)."""


class NotFound(UserError):
    """The thing named does not exist, or is not visible to this person."""


class PermissionDenied(UserError):
    """The person is not allowed to do this (not the owner, not support...)."""


class InvalidTransition(UserError):
    """A rental cannot move from its current state by the requested step."""


class Conflict(UserError):
    """The request clashes with the current state (no capacity left, already linked...)."""


class NotAvailableYet(UserError):
    """The machinery behind this command is not configured or not built yet."""
