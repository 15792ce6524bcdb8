"""The end of access: end rentals whose time is over (as the chain sees it), keep the host's key
expiry past the rental's end, and revoke access of rentals that no longer run — once each,
even with two workers (guarded writes: the loser of a race records nothing)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.faults import checkpoint
from bot.chain.escrow import Status
from bot.db.models import Host, Rental
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.errors import Conflict, InvalidTransition
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, move
from bot.services.fulfilment.base import BATCH, Part, each, frozen_on_chain, log
from bot.ssh import SshError, extend, revoke

S = RentalState
# no longer running; EXPIRED and CANCELLED hold an account only when one was prepared for a deposit
# that was seen but never confirmed
CLOSED = [S.ENDED.value, S.SETTLED.value, S.REFUNDED.value, S.RESOLVED.value, S.EXPIRED.value, S.CANCELLED.value]


class Ending(Part):
    async def end_due(self) -> int:
        now = self.ctx.now()
        async with self.ctx.sessions() as session:
            due = (await session.execute(select(Rental.id, Rental.escrow_id, Rental.ends_at).where(
                Rental.state == S.ACTIVE.value, Rental.ends_at <= now).order_by(Rental.id).limit(BATCH))).all()
        return await each(due, self._end_one, "ending")

    async def _end_one(self, row: tuple[int, str, datetime]) -> bool:
        rental_id, escrow_id, ends = row
        if await self._still_runs_on_chain(rental_id, escrow_id, ends):
            return False
        checkpoint("end-due")
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            if rental.state != S.ACTIVE.value or rental.ends_at != ends:
                return False      # moved meanwhile (an Extended event applied, another worker): next round
            try:
                # it ended at its end time (as on chain), not when this worker noticed: a bot that was
                # down past the end must not push the settlement back by another dispute window
                await move(session, rental, Step.END, "the rental time is over", ended_at=rental.ends_at)
            except (Conflict, InvalidTransition):
                return False      # another worker ended it first
            await notify(session, Kind.ENDED, f"rental:{rental.id}:ended", data={"rental": rental.id},
                         user_id=rental.renter_id, rental_id=rental.id)
        return True

    async def _still_runs_on_chain(self, rental_id: int, escrow_id: str, ends_at: datetime) -> bool:
        """Whether the escrow still runs a rental the store finds due: it holds a later end (an
        extension mined just before the end, its event not applied yet) or its latest block has not
        reached the end. Ending it here would revoke the account and delete the renter's files, and an
        ended rental never becomes active again; the escrow takes extensions only before the end, so a
        block at or after the end shows them all. Without an escrow the store's end is final; an RPC
        failure defers the end by a round."""
        if self.escrow is None:
            return False
        try:
            block = await self.escrow.w3.eth.get_block("latest")
            record = await self.escrow.rental(escrow_id)
        except Exception as exc:  # noqa: BLE001 - an RPC hiccup: next round
            log.info("end check of rental %s deferred: %s", rental_id, type(exc).__name__)
            return True
        if record.status != Status.ACTIVE or record.stopped_at:
            return False          # ended, disputed or settled there: its event brings the details
        chain_end = record.started_at + record.duration
        return chain_end != int(ends_at.timestamp()) or block["timestamp"] < chain_end

    async def extend_access(self) -> int:
        """Push the host's key expiry (and the account's backstop) past the rental's end when the end
        moved beyond it (an extension; a start long after provisioning): once per change, since the
        host's expiry is recorded after each push."""
        if not self.can_ssh:
            return 0
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental, Host).join(Host, Host.id == Rental.host_id)
                .where(Rental.state == S.ACTIVE.value, Rental.unix_user.is_not(None), Rental.revoked_at.is_(None),
                       Rental.ssh_public_key.is_not(None), Rental.ends_at > Rental.host_expiry,
                       Host.host_key.is_not(None)).order_by(Rental.id).limit(BATCH))).all()
        return await each(rows, self._extend_one, "extending access")

    async def _extend_one(self, row: tuple[Rental, Host]) -> bool:
        rental, host = row
        target = self.target(host)
        try:
            expires = await extend(self.ssh, target, user=rental.unix_user, ends_at=rental.ends_at,
                                   public_key=rental.ssh_public_key)
        except SshError as exc:
            log.warning("extending access of rental %s failed, will retry: %s", rental.id, exc)
            return False
        async with self.ctx.sessions.begin() as session:
            row = await session.get(Rental, rental.id)
            still_active = row.state == S.ACTIVE.value
            if still_active:
                # a later extension meanwhile leaves ends_at past this expiry: the next round pushes again
                row.host_expiry = expires
                add_timeline(session, row.id, "access_extended",
                             f"SSH key of {row.unix_user} now expires {expires:%Y-%m-%d %H:%M UTC} "
                             "(the rental's end plus a grace period; the account a day later)")
        if not still_active:
            # it ended (or was disputed) meanwhile and its account may be gone already: the create
            # just made it again, so remove it again (revoke_closed does the bookkeeping)
            await self._revoke_quietly(target, rental.unix_user)
            return False
        return True

    async def revoke_closed(self) -> int:
        """Remove SSH access of every rental that no longer runs (ended, refunded, resolved...) or whose
        dispute is registered on chain: that freezes the clock, so the renter no longer pays for the
        machine. A dispute only opened in chat keeps access until the rental's end (otherwise a provider
        could cut a paying renter off by typing /dispute). Consistent with reconcile_hosts."""
        if not self.can_ssh:
            return 0
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental, Host).join(Host, Host.id == Rental.host_id)
                .where(Rental.state.in_(CLOSED) | ((Rental.state == S.DISPUTED.value)
                                                   & (frozen_on_chain() | (Rental.ends_at <= self.ctx.now()))),
                       Rental.unix_user.is_not(None), Rental.revoked_at.is_(None),
                       Host.host_key.is_not(None)).order_by(Rental.id).limit(BATCH))).all()
        return await each(rows, self._revoke_one, "revoking")

    async def _revoke_one(self, row: tuple[Rental, Host]) -> bool:
        rental, host = row
        try:
            await revoke(self.ssh, self.target(host), rental.unix_user)
        except SshError as exc:
            log.warning("revoking rental %s failed, will retry: %s", rental.id, exc)
            return False
        checkpoint("revoked")
        async with self.ctx.sessions.begin() as session:
            # guarded: of two workers that both revoked (the helper's revoke is idempotent), only the
            # first records it, so the timeline and the renter's notice say it once
            won = await session.execute(
                update(Rental).where(Rental.id == rental.id, Rental.revoked_at.is_(None))
                .values(revoked_at=self.ctx.now(), credentials_sealed=None).execution_options(synchronize_session=False))
            if won.rowcount != 1:
                return False
            row = await session.get(Rental, rental.id)
            disputed = row.state == S.DISPUTED.value
            add_timeline(session, row.id, "revoked", f"SSH account {row.unix_user} removed"
                         + (" for the dispute" if disputed else ""))
            if disputed:
                await notify(session, Kind.DISPUTE_ACCESS, f"rental:{row.id}:dispute-access", data={"rental": row.id},
                             user_id=row.renter_id, rental_id=row.id)
        return True

    async def _revoke_quietly(self, target, user: str) -> None:
        try:
            await revoke(self.ssh, target, user)
        except SshError:
            log.warning("revoke of %s failed; the reconcile job will remove it", user)
