"""Where a command was called from: the platform, the place and what the platform says of the caller.

Every call of the typed surface carries one. It lets the core find the rental a dispute thread
or forum topic stands for, decide support powers from a configured platform role, and answer
privately where the platform allows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Invocation:
    platform: str                       # console | discord | telegram
    platform_user_id: str               # the caller's id on that platform
    display_name: str                   # as the platform shows it now (refreshed on every call)
    chat_id: str | None = None          # Discord guild id / Telegram chat id; None in a DM
    channel_id: str | None = None       # Discord channel id (a thread's parent for threads)
    thread_id: str | None = None        # Discord thread id / Telegram forum topic (message_thread_id)
    is_dm: bool = False                 # a direct message / private chat with the bot
    roles: frozenset[str] = field(default_factory=frozenset)  # platform role ids; "chat-admin" for
    #                                     a Telegram chat administrator
    message_ref: str | None = None      # the platform message this call will answer (to edit later)

    @property
    def place(self) -> str:
        """A stable key for the place of the call (used to find a dispute's thread or topic)."""
        return ":".join(p or "-" for p in (self.platform, self.chat_id, self.thread_id or self.channel_id))


def console(name: str) -> Invocation:
    """The console front-end: one person typing in a terminal, always 'in a DM'."""
    return Invocation(platform="console", platform_user_id=name.lower(), display_name=name, is_dm=True)
