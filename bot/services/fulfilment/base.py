"""What every part of the fulfilment worker shares: its machinery, safe error text for the logs,
and the per-rental guard that keeps one bad rental (or a flaky RPC) from stopping the rest."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import exists, update

from bot.chain.escrow import EscrowClient, EscrowError
from bot.chain.models import EVENT_APPLIED, ChainEvent
from bot.db.models import Host, Rental
from bot.domain.errors import Conflict, InvalidTransition
from bot.domain.states import RentalState
from bot.services.context import ServiceContext
from bot.services.hosts import HostService
from bot.ssh import HostTarget, SshError, SshPool

log = logging.getLogger("bot.services.fulfilment")
BATCH = 50
T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """An exception as a log may show it. Our own errors say what happened in our words; anything
    else (web3, aiohttp) is named by its type only, since its text can carry the RPC URL and key."""
    if isinstance(exc, EscrowError):
        return f"escrow refused ({exc.error})"
    if isinstance(exc, (SshError, Conflict, InvalidTransition)):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__


def frozen_on_chain():
    """SQL: the rental's dispute is registered on chain (an applied Disputed event)."""
    return exists().where(ChainEvent.rental_id == Rental.escrow_id, ChainEvent.name == "Disputed",
                          ChainEvent.status == EVENT_APPLIED)


class Part:
    """One job of the fulfilment worker, on the shared machinery."""

    def __init__(self, ctx: ServiceContext, escrow: EscrowClient | None, ssh: SshPool | None) -> None:
        self.ctx = ctx
        self.escrow = escrow
        self.ssh = ssh

    def target(self, host: Host) -> HostTarget:
        return HostService(self.ctx).target(host)

    @property
    def can_ssh(self) -> bool:
        return self.ssh is not None and self.ctx.box is not None

    async def retry_later(self, rental_id: int, delay: timedelta) -> None:
        """Leave a provisioning rental for now; a worker takes it up again after `delay`."""
        async with self.ctx.sessions.begin() as session:
            await session.execute(update(Rental).where(Rental.id == rental_id,
                                                       Rental.state == RentalState.PROVISIONING.value)
                                  .values(retry_at=self.ctx.now() + delay).execution_options(synchronize_session=False))


async def each(items: Iterable[T], step: Callable[[T], Awaitable[Any]], what: str) -> int:
    """Run `step` on every item, one at a time; a failure is logged for that item only. Returns how
    many steps returned a true value."""
    done = 0
    for item in items:
        try:
            if await step(item):
                done += 1
        except Exception as exc:  # noqa: BLE001 - one bad rental never stops the others
            first = item[0] if isinstance(item, tuple) else item
            rid = getattr(first, "id", first)
            log.warning("%s of rental %s failed, will retry: %s", what, rid, describe(exc))
    return done
