"""The service layer: every use case the front-ends share, transport-agnostic.

Each call resolves permissions, validates input, and runs in one database transaction, so
bad input gets a clear UserError and changes nothing.
"""
from __future__ import annotations

import logging

from sqlalchemy import text

from bot.delivery.places import PlaceStore
from bot.delivery.queue import DeliveryQueue
from bot.delivery.refs import RefService
from bot.delivery.sweep import wipe_closed
from bot.delivery.timers import TimerService
from bot.services.context import Actor, ServiceContext
from bot.services.disputes import DisputeService
from bot.services.hosts import HostService
from bot.services.offers import OfferService, OfferSpec
from bot.services.outbox import OutboxService
from bot.services.kv import KeyValueService
from bot.services.payments import PaymentService
from bot.services.places import PlaceService
from bot.services.rentals import RentalService
from bot.services.status import StatusService
from bot.services.suggestions import SuggestionService
from bot.services.users import UserService
from bot.services.wallets import WalletService

log = logging.getLogger(__name__)


class Services:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.users = UserService(ctx)
        self.offers = OfferService(ctx)
        self.rentals = RentalService(ctx)
        self.disputes = DisputeService(ctx)
        self.hosts = HostService(ctx)
        self.outbox = OutboxService(ctx)          # read-only look at notices (tests, checks)
        self.deliveries = DeliveryQueue(ctx)      # what front-ends claim and mark (bot/chat/DELIVERY.md)
        self.place_store = PlaceStore(ctx)        # where listings and support notices go
        self.refs = RefService(ctx)               # which platform message shows what
        self.timers = TimerService(ctx)           # reminders kept in the store
        self.wallets = WalletService(ctx)
        self.payments = PaymentService(ctx)
        self.status = StatusService(ctx)
        self.places = PlaceService(ctx)          # who the caller is where they call from; chat set-ups
        self.kv = KeyValueService(ctx)
        self.suggestions = SuggestionService(ctx)

    async def maintain_store(self) -> None:
        """Refresh the query planner's statistics (SQLite: PRAGMA optimize; PostgreSQL's
        autovacuum does this itself). Without them SQLite may walk the wrong index."""
        async with self.ctx.sessions() as session:
            if session.bind.dialect.name == "sqlite":
                await session.execute(text("PRAGMA optimize=0x10002"))

    async def housekeeping(self) -> int:
        """Periodic work that needs no outside machinery: expiring unpaid rentals (returns how many),
        timers (reminders), wiping sealed credentials of closed rentals."""
        expired = await self.rentals.expire_unpaid()
        for step in (self.timers.run_due, self._wipe_closed):
            try:
                await step()
            except Exception:  # noqa: BLE001 - logged; the next round retries, the rest goes on
                log.exception("periodic step %s failed", getattr(step, "__name__", step))
        return expired

    async def _wipe_closed(self) -> int:
        return await wipe_closed(self.ctx)


__all__ = ["Actor", "OfferSpec", "ServiceContext", "Services"]
