"""The bot's own side of a rental: provision access once funded, start it on chain, revoke it
at the end, settle, and refund what cannot be delivered.

Each step is claimed with a guarded state change before any side effect, so two workers (or a
restart in the middle) never provision, start or refund the same rental twice; side effects
themselves are idempotent (re-creating an account revokes the old one first; chain calls check
the contract's record before sending; pushing a key's expiry out rewrites the same key line).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm.attributes import flag_modified

from bot.chain.escrow import EscrowClient, EscrowError, Status, TxFailed
from bot.chain.models import EVENT_APPLIED, ChainEvent
from bot.domain.reputation import provider_failure
from bot.db.models import Host, Offer, Provider, Rental, User
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, enqueue, move
from bot.services.context import ServiceContext
from bot.services.hosts import HostService
from bot.ssh import GpuSpec, HostTarget, SshError, SshPool, extend, provision, reconcile, renter_user, revoke

log = logging.getLogger(__name__)
S = RentalState
BATCH = 50
RECLAIM_AFTER = timedelta(minutes=5)    # a rental left in "provisioning" by a crash is retried


@dataclass
class WorkReport:
    provisioned: int = 0
    refunds_sent: int = 0
    ended: int = 0
    extended: int = 0
    revoked: int = 0
    settled: int = 0


def credentials_text(rental: Rental, creds) -> str:
    lines = [f"Rental #{rental.id} is ready. Your SSH login (keep it private):",
             f"  host {creds.host}, port {creds.port}, user {creds.user}",
             f"  {creds.ssh_command}",
             f"  key fingerprint {creds.key_fingerprint}",
             f"  access ends {creds.ends_at:%Y-%m-%d %H:%M UTC}"]
    if creds.private_key is not None:
        lines += [f"Your private key ({creds.key_filename}); save it with permissions 600. The bot forgets it "
                  "when the rental ends:", creds.private_key.decode()]
    return "\n".join(lines)


def _frozen_on_chain():
    """SQL: the rental's dispute is registered on chain (an applied Disputed event)."""
    return exists().where(ChainEvent.rental_id == Rental.escrow_id, ChainEvent.name == "Disputed",
                          ChainEvent.status == EVENT_APPLIED)


class Fulfilment:
    def __init__(self, ctx: ServiceContext, escrow: EscrowClient | None, ssh: SshPool | None) -> None:
        self.ctx = ctx
        self.escrow = escrow
        self.ssh = ssh

    async def run_once(self) -> WorkReport:
        report = WorkReport()
        if self.escrow is not None:
            report.refunds_sent = await self.send_refunds()
            report.provisioned = await self.provision_funded()
        report.ended = await self.end_due()
        report.extended = await self.extend_access()
        report.revoked = await self.revoke_closed()
        if self.escrow is not None:
            report.settled = await self.settle_due()
        return report

    # -- provisioning ---------------------------------------------------------------------------

    async def provision_funded(self) -> int:
        stale = self.ctx.now() - RECLAIM_AFTER
        async with self.ctx.sessions() as session:
            ids = list((await session.scalars(
                select(Rental.id).where(Rental.refund_reason.is_(None),
                                        (Rental.state == S.FUNDED.value) |
                                        ((Rental.state == S.PROVISIONING.value) & (Rental.updated_at < stale)))
                .order_by(Rental.id).limit(BATCH))).all())
        results = await asyncio.gather(*(self._provision_one(i) for i in ids), return_exceptions=True)
        for rid, res in zip(ids, results):
            if isinstance(res, BaseException):
                log.error("provisioning rental %s failed unexpectedly: %s", rid, type(res).__name__)
        return sum(1 for r in results if r is True)

    async def _claim_for_provisioning(self, rental_id: int) -> tuple[Rental, Host | None, Offer, User] | None:
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            if rental.state == S.FUNDED.value:
                try:
                    await move(session, rental, Step.PROVISION, "provisioning SSH access", updated_at=now)
                except Exception:
                    return None
            elif rental.state == S.PROVISIONING.value:
                # reclaim after a crash, guarded like a state move: only if the claim is still stale
                # now (another worker may have reclaimed it since the listing query)
                taken = await session.execute(
                    update(Rental).where(Rental.id == rental.id, Rental.state == S.PROVISIONING.value,
                                         Rental.refund_reason.is_(None), Rental.updated_at < now - RECLAIM_AFTER)
                    .values(updated_at=now).execution_options(synchronize_session=False))
                if taken.rowcount != 1:
                    return None
                await session.refresh(rental)
                add_timeline(session, rental.id, "retry", "provisioning again after an interruption")
            else:
                return None
            # the claim's time on the service clock, which the staleness check reads; flagged so the
            # flush writes it even when unchanged (else the column's onupdate stamps wall-clock time)
            rental.updated_at = now
            flag_modified(rental, "updated_at")
            rental.attempts += 1
            if not rental.unix_user:
                rental.unix_user = renter_user(rental.escrow_id[2:14])
            host = await session.get(Host, rental.host_id) if rental.host_id else None
            return rental, host, await session.get(Offer, rental.offer_id), await session.get(User, rental.renter_id)

    async def _provision_one(self, rental_id: int) -> bool:
        claimed = await self._claim_for_provisioning(rental_id)
        if claimed is None:
            return False
        rental, host, offer, renter = claimed
        if self.ssh is None or self.ctx.box is None or host is None or host.host_key is None:
            await self._flag_refund(rental.id, "the provider's machine is not verified, so access could not be set up")
            return False
        target = HostService(self.ctx).target(host)
        ends_at = self.ctx.now() + timedelta(hours=rental.hours)
        result = await provision(self.ssh, target, user=rental.unix_user, ends_at=ends_at,
                                 expected=GpuSpec(model=offer.gpu_key, count=offer.gpu_count, vram_gb=offer.vram_gb),
                                 renter_public_key=renter.ssh_public_key)
        if not result.ok:
            await self._flag_refund(rental.id, result.reason, flag_offer=True)
            return False
        async with self.ctx.sessions.begin() as session:
            row = await session.get(Rental, rental.id)
            row.credentials_sealed = self.ctx.box.seal(credentials_text(row, result.credentials).encode(),
                                                       f"credentials:{row.id}")
            # the public half only (a bot-made private key is DMed, never stored in the clear)
            row.ssh_public_key = result.credentials.public_key
            row.host_expiry = result.credentials.key_expires_at
            row.updated_at = self.ctx.now()
            flag_modified(row, "updated_at")
            add_timeline(session, row.id, "provisioned",
                         f"SSH account {row.unix_user} created; GPUs checked: "
                         f"{len(result.gpus)}x {offer.gpu_model} as listed")
        try:
            record = await self.escrow.rental(rental.escrow_id)
            if record.status == Status.FUNDED:
                await self.escrow.start(rental.escrow_id)
        except (EscrowError, TxFailed) as exc:
            await self._revoke_quietly(target, rental.unix_user)
            await self._flag_refund(rental.id, f"the escrow refused to start the rental ({exc})")
            return False
        return True

    async def _flag_refund(self, rental_id: int, reason: str, *, flag_offer: bool = False) -> None:
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            rental.refund_reason = reason
            add_timeline(session, rental.id, "delivery_failed", f"cannot deliver: {reason}; refunding")
            if flag_offer:
                offer = await session.get(Offer, rental.offer_id)
                offer.status = "flagged"
                provider = await session.get(Provider, rental.provider_id)
                provider.failed_count += 1
                rental.outcome = provider_failure(reason).value      # counts against the provider's reputation
                await enqueue(session, f"rental:{rental.id}:provider-failed", "dm",
                              f"Rental #{rental.id} on your offer #{offer.id} could not be delivered: {reason}. "
                              "The renter is refunded and the offer is paused (flagged) until an admin reviews it.",
                              user_id=provider.user_id, rental_id=rental.id)

    # -- refunds --------------------------------------------------------------------------------

    async def send_refunds(self) -> int:
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.refund_reason.is_not(None),
                                                          Rental.state.in_([S.FUNDED.value, S.PROVISIONING.value,
                                                                            S.EXPIRED.value, S.CANCELLED.value]))
                .limit(BATCH))).all()
        sent = 0
        for rental_id, escrow_id in rows:
            try:
                record = await self.escrow.rental(escrow_id)
                if record.status != Status.FUNDED:
                    continue          # already cancelled (the event will arrive) or never funded
                await self.escrow.cancel(escrow_id)
                sent += 1
            except (EscrowError, TxFailed) as exc:
                log.warning("refund of rental %s not sent: %s", rental_id, exc)
        return sent

    # -- end of rentals -------------------------------------------------------------------------

    async def end_due(self) -> int:
        now = self.ctx.now()
        count = 0
        async with self.ctx.sessions() as session:
            due = (await session.execute(select(Rental.id, Rental.escrow_id, Rental.ends_at).where(
                Rental.state == S.ACTIVE.value, Rental.ends_at <= now).order_by(Rental.id).limit(BATCH))).all()
        over = [(rid, ends) for rid, escrow_id, ends in due
                if not await self._still_runs_on_chain(rid, escrow_id, ends)]
        if not over:
            return 0
        async with self.ctx.sessions.begin() as session:
            for rental_id, ends in over:
                rental = await session.get(Rental, rental_id)
                if rental.state != S.ACTIVE.value or rental.ends_at != ends:
                    continue      # moved meanwhile (an Extended event applied, another worker): next round
                # it ended at its end time (as on chain), not when this worker noticed: a bot that was
                # down past the end must not push the settlement back by another dispute window
                await move(session, rental, Step.END, "the rental time is over", ended_at=rental.ends_at)
                await enqueue(session, f"rental:{rental.id}:ended", "dm",
                              f"Rental #{rental.id} has ended and its SSH access is being removed.",
                              user_id=rental.renter_id, rental_id=rental.id)
                count += 1
        return count

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
        if self.ssh is None or self.ctx.box is None:
            return 0
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental, Host).join(Host, Host.id == Rental.host_id)
                .where(Rental.state == S.ACTIVE.value, Rental.unix_user.is_not(None), Rental.revoked_at.is_(None),
                       Rental.ssh_public_key.is_not(None), Rental.ends_at > Rental.host_expiry,
                       Host.host_key.is_not(None)).order_by(Rental.id).limit(BATCH))).all()
        done = 0
        for rental, host in rows:
            target = HostService(self.ctx).target(host)
            try:
                expires = await extend(self.ssh, target, user=rental.unix_user, ends_at=rental.ends_at,
                                       public_key=rental.ssh_public_key)
            except SshError as exc:
                log.warning("extending access of rental %s failed, will retry: %s", rental.id, exc)
                continue
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
                continue
            done += 1
        return done

    async def revoke_closed(self) -> int:
        """Remove SSH access of every rental that no longer runs (ended, refunded, resolved...) or whose
        dispute is registered on chain: that freezes the clock, so the renter no longer pays for the
        machine. A dispute only opened in chat keeps access until the rental's end (otherwise a provider
        could cut a paying renter off by typing /dispute). Consistent with reconcile_hosts."""
        if self.ssh is None or self.ctx.box is None:
            return 0
        closed = [S.ENDED.value, S.SETTLED.value, S.REFUNDED.value, S.RESOLVED.value]
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental, Host).join(Host, Host.id == Rental.host_id)
                .where(Rental.state.in_(closed) | ((Rental.state == S.DISPUTED.value)
                                                   & (_frozen_on_chain() | (Rental.ends_at <= self.ctx.now()))),
                       Rental.unix_user.is_not(None), Rental.revoked_at.is_(None),
                       Host.host_key.is_not(None)).limit(BATCH))).all()
        done = 0
        for rental, host in rows:
            target = HostService(self.ctx).target(host)
            try:
                await revoke(self.ssh, target, rental.unix_user)
            except SshError as exc:
                log.warning("revoking rental %s failed, will retry: %s", rental.id, exc)
                continue
            async with self.ctx.sessions.begin() as session:
                row = await session.get(Rental, rental.id)
                row.revoked_at, row.credentials_sealed = self.ctx.now(), None
                disputed = row.state == S.DISPUTED.value
                add_timeline(session, row.id, "revoked", f"SSH account {row.unix_user} removed"
                             + (" for the dispute" if disputed else ""))
                if disputed:
                    await enqueue(session, f"rental:{row.id}:dispute-access", "dm",
                                  f"Rental #{row.id} is disputed and its paid time is frozen or over, so its SSH "
                                  "access is suspended during the dispute: the account and its files on the host "
                                  "were removed, and the rental does not resume after the decision.",
                                  user_id=row.renter_id, rental_id=row.id)
            done += 1
        return done

    async def settle_due(self) -> int:
        """Settle on chain what the chain lets anyone settle: ended rentals after the dispute window,
        and disputes nobody resolved, after the dispute timeout (from the chain's disputedAt)."""
        chain = self.ctx.settings.chain
        now = self.ctx.now()
        window, timeout = timedelta(seconds=chain.dispute_window_s), timedelta(seconds=chain.dispute_timeout_s)
        async with self.ctx.sessions() as session:
            rows = (await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.state == S.ENDED.value,
                                                          Rental.ended_at <= now - window)
                .limit(BATCH))).all()
            # disputed: a cheap filter first (the chain's disputedAt is never before the start; a dispute
            # that was never registered on chain is due like any rental, from its end)
            disputed = (await session.execute(
                select(Rental.id, Rental.escrow_id).where(Rental.state == S.DISPUTED.value,
                                                          (Rental.started_at <= now - timeout)
                                                          | (Rental.ends_at <= now - window))
                .order_by(Rental.id).limit(BATCH))).all()
        for rental_id, escrow_id in disputed:
            try:
                record = await self.escrow.rental(escrow_id)
            except Exception as exc:  # noqa: BLE001 - an RPC hiccup: next round
                log.info("settle check of rental %s deferred: %s", rental_id, type(exc).__name__)
                continue
            if record.status == Status.DISPUTED:
                due = record.disputed_at + chain.dispute_timeout_s
            elif record.status == Status.ACTIVE:
                due = (record.stopped_at or record.started_at + record.duration) + chain.dispute_window_s
            else:
                continue      # resolved or settled already; the event brings the store along
            if now.timestamp() >= due:
                rows.append((rental_id, escrow_id))
        settled = 0
        for rental_id, escrow_id in rows:
            try:
                await self.escrow.settle(escrow_id)
                settled += 1
            except (EscrowError, TxFailed) as exc:   # e.g. TooEarly by the chain's clock: next round
                log.info("settle of rental %s deferred: %s", rental_id, exc)
        return settled

    async def reconcile_hosts(self) -> int:
        """Remove any r_* account on a verified host that no running rental explains."""
        if self.ssh is None or self.ctx.box is None:
            return 0
        live = [S.PROVISIONING.value, S.ACTIVE.value, S.FUNDED.value]
        running = Rental.state.in_(live) | ((Rental.state == S.DISPUTED.value) & ~_frozen_on_chain()
                                            & (Rental.ends_at > self.ctx.now()))
        async with self.ctx.sessions() as session:
            hosts = (await session.scalars(select(Host).where(Host.host_key.is_not(None)))).all()
            expected = {h.id: set((await session.scalars(
                select(Rental.unix_user).where(Rental.host_id == h.id, running,
                                               Rental.unix_user.is_not(None)))).all()) for h in hosts}
        removed = 0
        for host in hosts:
            try:
                removed += len(await reconcile(self.ssh, HostService(self.ctx).target(host), expected[host.id]))
            except SshError as exc:
                log.warning("reconcile of host %s failed: %s", host.id, exc)
        return removed

    async def _revoke_quietly(self, target: HostTarget, user: str) -> None:
        try:
            await revoke(self.ssh, target, user)
        except SshError:
            log.warning("revoke of %s failed; the reconcile job will remove it", user)
