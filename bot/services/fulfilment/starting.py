"""Starting the rental clock on chain, decided from the contract's record.

Access is handed over as soon as it is ready: the credentials are queued together with the start
transaction, not after it is mined and confirmed (its confirmation protects the provider's money,
not the renter's access). The start is sent once (journaled; one still open is waited on, never
sent again; a dropped or reorged one is re-sent by the journal or decided here) and its outcome is
read back from the contract as of the last confirmed block: ACTIVE there means started, whoever's
transaction did it, and the store takes the chain's start and end; only FUNDED past the start
window (or CANCELLED) means the refund path, which also removes the access. A revert, a receipt
that did not come, or an RPC error decide nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.chain.escrow import EscrowError, RentalRecord, Status
from bot.faults import checkpoint
from bot.db.models import Rental
from bot.services.fulfilment.base import Part
from bot.services.fulfilment.delivery import queue_credentials, record_start
from bot.services.fulfilment.refunding import Refunds, open_tx

RECHECK_AFTER = timedelta(0)     # a start sent but not confirmed yet: look again next round (each block)
NOT_STARTED_IN_TIME = "the rental could not be started within the escrow's start window"


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def chain_end(record: RentalRecord) -> int:
    """The contract's endOf: when the rental clock stops."""
    return record.stopped_at or record.started_at + record.duration


@dataclass(frozen=True)
class StartCheck:
    """What a rental's start looks like on chain right now."""

    record: RentalRecord        # as of the last confirmed block: what decisions are made on
    latest: RentalRecord        # as of the latest block: a start mined but not confirmed yet shows here
    chain_now: int              # the latest block's time
    deadline: int               # depositedAt + start window: no start from this block time on
    block: int = -1             # the latest block's number: the check holds while it is the head

    @property
    def started(self) -> bool:
        return self.record.status == Status.ACTIVE

    @property
    def funded(self) -> bool:
        return self.record.status == Status.FUNDED and self.latest.status == Status.FUNDED

    @property
    def too_late(self) -> bool:
        return self.funded and self.chain_now >= self.deadline


class Starter(Part):
    def __init__(self, ctx, escrow, ssh, refunds: Refunds) -> None:
        super().__init__(ctx, escrow, ssh)
        self.refunds = refunds

    async def head(self) -> tuple[int, int]:
        """The latest block's (number, time): many checks of one round read the chain as of it."""
        block = await self.escrow.w3.eth.get_block("latest")
        return block["number"], block["timestamp"]

    async def check(self, escrow_id: str, head: tuple[int, int] | None = None) -> StartCheck:
        """The rental's record as of the latest block (`head`, when the caller read it already)."""
        number, timestamp = head or await self.head()
        confirmed = max(0, number - self.ctx.settings.chain.confirmations_needed)
        latest = await self.escrow.rental(escrow_id, number)
        record = latest if confirmed == number else await self.escrow.rental(escrow_id, confirmed)
        return StartCheck(record, latest, timestamp, latest.deposited_at + self.ctx.settings.chain.start_window_s,
                          number)

    async def start(self, rental_id: int, escrow_id: str, *, known: StartCheck | None = None) -> bool:
        """The access is ready: hand it over and send the start (unless one is open). True when the
        start is recorded in the store (the chain's record shows it confirmed). `known`: this
        rental's check as of the block that is still the latest (the same answer a new read gives)."""
        check = known or await self.check(escrow_id)
        if check.started:
            checkpoint("start-mined")
            return await self.record(rental_id, check.record)
        if check.latest.status == Status.ACTIVE:      # mined, not confirmed yet: hand over, record later
            await self.hand_over(rental_id, ends_at=ts(chain_end(check.latest)))
            await self.retry_later(rental_id, RECHECK_AFTER)
            return False
        if not check.funded:
            await self.retry_later(rental_id, timedelta(minutes=5))    # cancelled: its event brings the store along
            return False
        pending = await open_tx(self.escrow, escrow_id, "start")
        if check.too_late:
            if pending is None:
                await self.refunds.flag(rental_id, NOT_STARTED_IN_TIME)
            else:                 # it can only revert now; once the journal says so, refund
                await self.retry_later(rental_id, RECHECK_AFTER)
            return False
        await self.hand_over(rental_id)
        if pending is None:
            return await self.send_start(rental_id, escrow_id)
        await self.retry_later(rental_id, RECHECK_AFTER)
        return False

    def plain(self, known: StartCheck | None) -> bool:
        """The usual case after the accounts are made: the chain's record (as of the block that is
        still the head) shows it funded and in time; with no start of ours open, start() would
        hand over and send."""
        return known is not None and known.funded and not known.too_late

    async def hand_over_many(self, rental_ids: list[int]) -> None:
        """hand_over for several rentals in one transaction (all or none)."""
        async with self.ctx.sessions.begin() as session:
            rows = (await session.scalars(select(Rental).where(Rental.id.in_(rental_ids)))).all()
            queued = [await queue_credentials(session, self.ctx.box, row) for row in rows]
        for _ in filter(None, queued):
            checkpoint("credentials-queued")

    async def send_start(self, rental_id: int, escrow_id: str) -> bool:
        """The start of a plain rental whose access was handed over (the rest of start())."""
        try:
            await self.escrow.submit("start", escrow_id)
            checkpoint("start-sent")
        except EscrowError as exc:
            if exc.error != "TooLate":
                raise
            await self.refunds.flag(rental_id, NOT_STARTED_IN_TIME)
            return False
        await self.retry_later(rental_id, RECHECK_AFTER)
        return False

    async def hand_over(self, rental_id: int, *, ends_at: datetime | None = None) -> None:
        """Queue the credentials DM now (once): the renter does not wait for the start to be mined."""
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            queued = await queue_credentials(session, self.ctx.box, rental, ends_at=ends_at)
        if queued:
            checkpoint("credentials-queued")

    async def record(self, rental_id: int, record: RentalRecord) -> bool:
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            recorded = await record_start(session, self.ctx.box, rental, started_at=ts(record.started_at),
                                          ends_at=ts(chain_end(record)),
                                          detail="access delivered and GPU checked; the rental clock started on chain")
        if recorded:
            checkpoint("credentials-queued")
        return recorded
