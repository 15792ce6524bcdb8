"""Provisioning: take up a funded rental, set up its SSH account and check its GPUs, then have it
started on chain (starting.py) — at each step deciding from the contract's record.

Every rental in "provisioning" is compared with the chain each time it comes up: one the chain
already shows running (an earlier start of ours mined late) is recorded as started with the
chain's end and its credentials go out at once; one whose start is still open is waited on.
A host that does not answer is tried again with backoff until close to the start deadline
(a 40-second blip refunds nobody); only a failure that persists, or repeats over rentals, pauses
the offer, and the renter is told a plain reason, never the raw connect error.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select, update

from bot.faults import checkpoint
from bot.chain.escrow import Status
from bot.db.models import Host, Offer, Rental, TimelineEntry, User
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.errors import Conflict
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, move
from bot.services.fulfilment.base import Part, describe, log
from bot.services.fulfilment.delivery import seal_credentials
from bot.services.fulfilment.refunding import Refunds, open_tx
from bot.services.fulfilment.starting import NOT_STARTED_IN_TIME, Starter, chain_end, ts
from bot.ssh import GpuSpec, ProvisionRequest, provision_many, renter_user

S = RentalState
LEASE = timedelta(minutes=5)           # a claim runs out after this: a crashed worker's rental is taken up again
RETRY_FIRST = timedelta(seconds=10)    # an unreachable host: first retry after this, doubling ...
RETRY_MAX = timedelta(minutes=5)       # ... up to this
GIVE_UP_MARGIN_S = 120                 # stop retrying this long before the start deadline, then refund
REPEAT_WINDOW = timedelta(hours=24)    # a host unreachable for this many different rentals within
REPEAT_LIMIT = 3                       # the window gets its offer paused
UNREACHABLE = "the provider's machine could not be reached to set up your access"
# rentals taken up per round: a burst of deposits is set up in one round (one helper call per host,
# the hosts at once) instead of one round per block; the helper takes up to 200 accounts a call
BATCH = 200


@dataclass(frozen=True)
class SetUp:
    """A claimed rental whose account is to be made: until `ends_at`, before the start `deadline`
    (chain time; None once the chain's clock runs)."""
    claim: "Claim"
    ends_at: datetime
    deadline: int | None
    chain_now: int = 0
    early: bool = False          # the deposit is seen, not confirmed: prepare only (no refund, no start)


@dataclass(frozen=True)
class Claim:
    id: int
    escrow_id: str
    unix_user: str
    hours: int
    attempts: int
    credentials_ready: bool
    host: Host | None
    offer: Offer
    renter_key: str | None


class Provisioning(Part):
    def __init__(self, ctx, escrow, ssh, refunds: Refunds, starter: Starter) -> None:
        super().__init__(ctx, escrow, ssh)
        self.refunds = refunds
        self.starter = starter

    async def run(self) -> int:
        """Every rental due, in three steps: claim and compare with the chain (each rental on its
        own), set up the accounts (one helper call per host for all its rentals, the hosts at once),
        start (each host's as soon as its accounts are made)."""
        now = self.ctx.now()
        async with self.ctx.sessions() as session:
            ids = list((await session.scalars(
                select(Rental.id).where(Rental.refund_reason.is_(None),
                                        (Rental.state == S.FUNDED.value)
                                        | ((Rental.state == S.PROVISIONING.value)
                                           & (Rental.retry_at.is_(None) | (Rental.retry_at <= now))))
                # new deposits first: rentals whose start is only waiting to be confirmed are looked
                # at every round and would otherwise fill it while a paid rental waits for its account
                .order_by(Rental.state != S.FUNDED.value, Rental.id).limit(BATCH))).all())
            # deposits seen but not confirmed yet: their accounts are prepared meanwhile
            early = list((await session.scalars(
                select(Rental.id).where(Rental.state == S.AWAITING_DEPOSIT.value, Rental.deposit_seen_at.is_not(None),
                                        Rental.credentials_sealed.is_(None), Rental.refund_reason.is_(None),
                                        Rental.retry_at.is_(None) | (Rental.retry_at <= now))
                .order_by(Rental.id).limit(BATCH))).all())
        return await self._advance_all(ids, early)

    async def advance(self, rental_id: int) -> bool:
        """One step for one rental; True when its start got recorded."""
        return await self._advance_all([rental_id]) == 1

    async def _advance_all(self, ids: list[int], early: list[int] = ()) -> int:
        claims = [c for c in await asyncio.gather(*(self._guarded(i, self.claim(i)) for i in ids)) if c]
        prepared = [c for c in await asyncio.gather(*(self._guarded(i, self.claim_early(i)) for i in early)) if c]
        steps = list(await asyncio.gather(*(self._guarded(c.id, self._plan(c)) for c in claims)))
        steps += [SetUp(c, self.ctx.now() + timedelta(hours=c.hours), deadline=None, early=True) for c in prepared]
        done = sum(1 for step in steps if step is True)
        by_host: dict[int | None, list[SetUp]] = defaultdict(list)
        for step in steps:
            if isinstance(step, SetUp):
                by_host[step.claim.host.id if step.claim.host else None].append(step)
        started = await asyncio.gather(*(self._set_up_and_start(g) for g in by_host.values()))
        return done + sum(started)

    async def _set_up_and_start(self, group: list[SetUp]) -> int:
        """One host's rentals: its accounts in one helper call, then their starts (the credentials go
        out with them) without waiting for the other hosts, so a slow machine holds back only its own."""
        ready = await self._set_up_many(group)
        started = await asyncio.gather(*(self._guarded(c.id, self.starter.start(c.id, c.escrow_id)) for c in ready))
        return sum(1 for r in started if r is True)

    async def release_claims(self) -> int:
        """Make every provisioning rental claimable now (see Fulfilment.take_over); returns how many."""
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            done = await session.execute(
                update(Rental).where(Rental.state == S.PROVISIONING.value, Rental.retry_at > now)
                .values(retry_at=now).execution_options(synchronize_session=False))
        if done.rowcount:
            log.warning("took over %d rental(s) an earlier worker left mid-provisioning", done.rowcount)
        return done.rowcount

    async def _guarded(self, rental_id: int, step):
        try:
            return await step
        except Exception as exc:  # noqa: BLE001 - an RPC or store hiccup: this rental waits a little
            log.warning("provisioning rental %s deferred: %s", rental_id, describe(exc))
            await self.retry_later(rental_id, RETRY_FIRST)
            return None

    async def claim(self, rental_id: int) -> Claim | None:
        """Take the rental for this worker: funded -> provisioning, or a provisioning rental whose
        lease (or retry time) is up. Guarded, so of two workers only one gets it."""
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            if rental.refund_reason is not None:
                return None
            if rental.state == S.FUNDED.value:
                try:
                    await move(session, rental, Step.PROVISION, "provisioning SSH access", retry_at=now + LEASE)
                except Conflict:
                    return None
                await notify(session, Kind.PROVISIONING, f"rental:{rental.id}:provisioning", data={"rental": rental.id},
                             user_id=rental.renter_id, rental_id=rental.id)     # the progress message only
            elif rental.state == S.PROVISIONING.value:
                taken = await session.execute(
                    update(Rental).where(Rental.id == rental.id, Rental.state == S.PROVISIONING.value,
                                         Rental.refund_reason.is_(None),
                                         Rental.retry_at.is_(None) | (Rental.retry_at <= now))
                    .values(retry_at=now + LEASE).execution_options(synchronize_session=False))
                if taken.rowcount != 1:
                    return None
                await session.refresh(rental)
            else:
                return None
            rental.attempts += 1
            return await self._claim_of(session, rental)

    async def _claim_of(self, session, rental: Rental) -> Claim:
        if not rental.unix_user:
            rental.unix_user = renter_user(rental.escrow_id[2:14])
        host = await session.get(Host, rental.host_id) if rental.host_id else None
        renter = await session.get(User, rental.renter_id)
        return Claim(id=rental.id, escrow_id=rental.escrow_id, unix_user=rental.unix_user, hours=rental.hours,
                     attempts=rental.attempts, credentials_ready=rental.credentials_sealed is not None,
                     host=host, offer=await session.get(Offer, rental.offer_id),
                     renter_key=renter.ssh_public_key if renter else None)

    async def claim_early(self, rental_id: int) -> Claim | None:
        """Take a rental whose deposit is seen but not confirmed, to prepare its account (guarded
        by the lease: of two workers only one gets it). The rental stays awaiting its deposit."""
        now = self.ctx.now()
        async with self.ctx.sessions.begin() as session:
            taken = await session.execute(
                update(Rental).where(Rental.id == rental_id, Rental.state == S.AWAITING_DEPOSIT.value,
                                     Rental.deposit_seen_at.is_not(None), Rental.credentials_sealed.is_(None),
                                     Rental.refund_reason.is_(None), Rental.retry_at.is_(None) | (Rental.retry_at <= now))
                .values(retry_at=now + LEASE).execution_options(synchronize_session=False))
            if taken.rowcount != 1:
                return None
            return await self._claim_of(session, await session.get(Rental, rental_id))

    async def _plan(self, c: Claim) -> bool | SetUp:
        """Compare a claimed rental with the chain: its account to set up (a SetUp), or done here
        (True when its start got recorded)."""
        if self.escrow is None:
            return False
        check = await self.starter.check(c.escrow_id)
        if check.started or check.latest.status == Status.ACTIVE:
            # the chain's clock runs (an earlier start of ours mined late): deliver at once, for the chain's time
            running = check.record if check.started else check.latest
            if not c.credentials_ready:
                return SetUp(c, ts(chain_end(running)), deadline=None)
            return await self.starter.start(c.id, c.escrow_id)
        if not check.funded:
            await self.retry_later(c.id, LEASE)       # cancelled or gone: its event brings the store along
            return False
        if c.credentials_ready or await open_tx(self.escrow, c.escrow_id, "start") is not None:
            return await self.starter.start(c.id, c.escrow_id)
        if check.too_late:
            await self.refunds.flag(c.id, NOT_STARTED_IN_TIME)
            return False
        ends_at = self.ctx.now() + timedelta(hours=c.hours)     # a guess: the start fixes the end
        return SetUp(c, ends_at, deadline=check.deadline, chain_now=check.chain_now)

    async def _set_up_many(self, group: list[SetUp]) -> list[Claim]:
        """Create the accounts of one host's rentals and check its GPUs in one helper call; the
        claims whose credentials are now sealed in the store."""
        host = group[0].claim.host
        if not self.can_ssh or host is None or host.host_key is None:
            for s in (s for s in group if not s.early):      # an early one: decided once funded
                await self._guarded(s.claim.id, self._cannot(
                    s.claim, "the provider's machine is not verified, so access could not be set up",
                    started=s.deadline is None))
            return []
        requests = [ProvisionRequest(user=s.claim.unix_user, ends_at=s.ends_at, renter_public_key=s.claim.renter_key,
                                     expected=GpuSpec(model=s.claim.offer.gpu_key, count=s.claim.offer.gpu_count,
                                                      vram_gb=s.claim.offer.vram_gb)) for s in group]
        try:
            results = await provision_many(self.ssh, self.target(host), requests)
        except Exception as exc:  # noqa: BLE001 - not host trouble (that is a result): these rentals wait
            log.warning("provisioning on host %s deferred: %s", host.id, describe(exc))
            for s in group:
                await self.retry_later(s.claim.id, RETRY_FIRST)
            return []
        stored = await asyncio.gather(*(self._guarded(s.claim.id, self._store(s, r)) for s, r in zip(group, results)))
        return [s.claim for s, ok in zip(group, stored) if ok and not s.early]

    async def _store(self, s: SetUp, result) -> bool:
        """Act on one rental's provisioning result; True when its credentials are sealed in the store."""
        c, offer = s.claim, s.claim.offer
        if s.early and not result.ok:
            return False          # not paid yet: the funded rental tries again and decides (lease runs out)
        if result.transient:
            await self._unreachable(c, s.deadline, s.chain_now)
            return False
        if not result.ok:
            await self._cannot(c, result.reason, started=s.deadline is None, flag_offer=True)
            return False
        checkpoint("account-created")
        async with self.ctx.sessions.begin() as session:
            row = await session.get(Rental, c.id)
            row.credentials_sealed = seal_credentials(self.ctx.box, row.id, result.credentials)
            # the public half only (a bot-made private key is DMed, never stored in the clear)
            row.ssh_public_key = result.credentials.public_key
            row.host_expiry = result.credentials.key_expires_at
            add_timeline(session, row.id, "provisioned",
                         f"SSH account {row.unix_user} created; GPUs checked: "
                         f"{len(result.gpus)}x {offer.gpu_model} as listed")
            await notify(session, Kind.GPU_VERIFIED, f"rental:{row.id}:gpu-verified", user_id=row.renter_id,
                         rental_id=row.id, data={"rental": row.id, "gpus": f"{len(result.gpus)}x {offer.gpu_model}"})
        return True

    async def _unreachable(self, c: Claim, deadline: int | None, chain_now: int) -> None:
        """Try again later with backoff; give up (refund, pause the offer) only close to the deadline."""
        delay = min(RETRY_FIRST * 2 ** min(c.attempts - 1, 10), RETRY_MAX)
        if deadline is not None and chain_now + delay.total_seconds() >= deadline - GIVE_UP_MARGIN_S:
            log.warning("rental %s: host %s still unreachable near the start deadline; refunding", c.id, c.host.id)
            await self.refunds.flag(c.id, UNREACHABLE, flag_offer=True)
            return
        log.warning("rental %s: host %s unreachable (attempt %d); retrying in %ds", c.id, c.host.id, c.attempts,
                    delay.total_seconds())
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, c.id)
            rental.retry_at = self.ctx.now() + delay
            if c.attempts == 1:
                add_timeline(session, rental.id, "host_unreachable",
                             "the provider's machine did not answer; trying again with backoff")
                if await self._host_fails_repeatedly(session, c.host.id):
                    await self.refunds.flag_offer(session, rental, "the machine was unreachable for several "
                                                                   "rentals in a row")

    async def _host_fails_repeatedly(self, session, host_id: int) -> bool:
        since = self.ctx.now() - REPEAT_WINDOW
        await session.flush()
        hits = await session.scalar(
            select(func.count(distinct(TimelineEntry.rental_id))).join(Rental, Rental.id == TimelineEntry.rental_id)
            .where(Rental.host_id == host_id, TimelineEntry.kind == "host_unreachable", TimelineEntry.at >= since))
        return hits >= REPEAT_LIMIT

    async def _cannot(self, c: Claim, reason: str, *, started: bool, flag_offer: bool = False) -> None:
        """Access cannot be set up. Before the start: refund. Once the chain's clock runs the escrow
        takes no cancel, so the renter is told to dispute (and support is told) while the worker keeps
        trying now and then."""
        if not started:
            await self.refunds.flag(c.id, reason, flag_offer=flag_offer)
            return
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, c.id)
            rental.retry_at = self.ctx.now() + LEASE
            add_timeline(session, rental.id, "delivery_failed", f"running on chain but access failed: {reason}")
            data = {"rental": rental.id, "reason": reason}
            await notify(session, Kind.ACCESS_FAILED, f"rental:{rental.id}:started-undelivered", data=data,
                         user_id=rental.renter_id, rental_id=rental.id)
            await notify(session, Kind.ACCESS_FAILED_SUPPORT, f"rental:{rental.id}:started-undelivered:support",
                         data=data, rental_id=rental.id)
