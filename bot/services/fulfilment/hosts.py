"""Host hygiene: remove any renter account on a verified host that no running rental explains."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Host, Rental
from bot.domain.states import RentalState
from bot.services.fulfilment.base import Part, describe, frozen_on_chain, log
from bot.ssh import reconcile

S = RentalState


class HostHygiene(Part):
    async def reconcile_hosts(self) -> int:
        if not self.can_ssh:
            return 0
        live = [S.PROVISIONING.value, S.ACTIVE.value, S.FUNDED.value, S.AWAITING_DEPOSIT.value]   # (prepared early)
        running = Rental.state.in_(live) | ((Rental.state == S.DISPUTED.value) & ~frozen_on_chain()
                                            & (Rental.ends_at > self.ctx.now()))
        async with self.ctx.sessions() as session:
            hosts = (await session.scalars(select(Host).where(Host.host_key.is_not(None)))).all()
            expected = {h.id: set((await session.scalars(
                select(Rental.unix_user).where(Rental.host_id == h.id, running,
                                               Rental.unix_user.is_not(None)))).all()) for h in hosts}
        removed = 0
        for host in hosts:
            try:
                removed += len(await reconcile(self.ssh, self.target(host), expected[host.id]))
            except Exception as exc:  # noqa: BLE001 - one host's trouble never stops the others
                log.warning("reconcile of host %s failed: %s", host.id, describe(exc))
        return removed
