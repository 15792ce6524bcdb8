"""Errors of the SSH layer. Messages never carry key material; provider text in them is
untrusted and must go through `chat_escape` before it is shown in chat."""
from __future__ import annotations


class SshError(Exception):
    """Base class: something went wrong talking to a provider host."""


class HostKeyMismatch(SshError):
    """The host presented a key other than the pinned one: possible interception; never retried."""


class HostUnreachable(SshError):
    """Could not connect or authenticate (after retries)."""


class CommandTimeout(SshError):
    """A remote command did not finish in time."""


class HelperRefused(SshError):
    """gpuflow-helper exited non-zero; `detail` is its (untrusted, bounded) stderr."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class BadProviderOutput(SshError):
    """The host printed something that does not parse strictly."""


class UnsafeLogin(SshError):
    """The bot's login on the host is root, a system account or may run anything as root."""
