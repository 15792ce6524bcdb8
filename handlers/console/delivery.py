"""The console platform's front-end of the delivery queue: notices printed in the terminal.

Everyone typing in one console is on the "console" platform, so its listings and support places
are the terminal itself: DMs are shown with the person's name, listings and support posts with
their place. It claims, prints and marks like any front-end (see bot/chat/DELIVERY.md).
"""
from __future__ import annotations

from typing import Callable

from bot.delivery.queue import Delivery
from bot.delivery.refs import PlatformRef
from bot.delivery.render import text_with_files
from bot.services.views import Notice

PLATFORM = "console"
PLACE = "console"
TARGET = {"dm": "dm", "listings": "listings", "support": "support", "progress": "dm"}


class ConsoleDelivery:
    def __init__(self, services, show: Callable[[str], None], names: dict[int, str],
                 on_notice: Callable[[Notice], None] | None = None) -> None:
        self.services = services
        self.show = show              # prints one line (redaction applied by the caller)
        self.names = names            # user id -> the name typed with /as
        self.on_notice = on_notice
        self._ready = False
        self._posted = 0

    async def ensure_places(self) -> None:
        """The terminal is the console's listings and support place."""
        if self._ready:
            return
        store = self.services.place_store
        have = {(p.purpose, p.chat_id) for p in await store.list(PLATFORM)}
        for purpose in ("listings", "support"):
            if (purpose, PLACE) not in have:
                await store.set(None, PLATFORM, purpose, PLACE, source="config")
        self._ready = True

    async def deliver(self) -> int:
        """Print every delivery due now; returns how many were shown."""
        await self.ensure_places()
        queue = self.services.deliveries
        shown = 0
        while batch := await queue.claim(PLATFORM, limit=50):
            for d in batch:
                self._print(d)
                self._posted += 1
                await queue.sent(d, PlatformRef(chat_id=PLACE, message_id=str(self._posted)))
                shown += 1
        return shown

    def _print(self, d: Delivery) -> None:
        text = text_with_files(d.message)       # a terminal cannot take a file: shown inline
        if self.on_notice is not None:
            self.on_notice(Notice(id=d.id, target=TARGET[d.purpose], user_id=d.user_id, body=text,
                                  sensitive=d.sensitive, rental_id=d.rental_id, offer_id=d.offer_id,
                                  kind=d.kind.value))
        if d.purpose in ("dm", "progress"):
            who = self.names.get(d.user_id or -1, d.recipient or f"user {d.user_id}")
            self.show(f"  [direct message to {who}] {text}")
        elif d.action == "delete":
            self.show(f"  [#{d.purpose}] (the post of offer #{d.offer_id} is removed)")
        else:
            edited = " (edited)" if d.action == "edit" else ""
            self.show(f"  [#{d.purpose}]{edited} {text}")
