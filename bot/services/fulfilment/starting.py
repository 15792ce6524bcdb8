"""Starting the rental clock on chain, decided from the contract's record.

The start is sent once (journaled; a start still open is waited on, never sent again) and its
outcome is read back from the contract, not from the transaction: ACTIVE means started, whoever's
transaction did it; only FUNDED past the start window (or CANCELLED) means the refund path. A
revert of a second start, a receipt that did not come in time, or an RPC error change nothing.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from bot.faults import checkpoint
from bot.chain.escrow import EscrowError, RentalRecord, Status
from bot.db.models import Rental
from bot.services.fulfilment.base import Part, log
from bot.services.fulfilment.delivery import record_start
from bot.services.fulfilment.refunding import Refunds, open_tx

RECHECK_AFTER = timedelta(seconds=2)     # a start sent but not mined yet: look again this soon
NOT_STARTED_IN_TIME = "the rental could not be started within the escrow's start window"


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def chain_end(record: RentalRecord) -> int:
    """The contract's endOf: when the rental clock stops."""
    return record.stopped_at or record.started_at + record.duration


@dataclass(frozen=True)
class StartCheck:
    """What a rental's start looks like on chain right now."""

    record: RentalRecord
    chain_now: int
    deadline: int               # depositedAt + start window: no start from this block time on

    @property
    def too_late(self) -> bool:
        return self.record.status == Status.FUNDED and self.chain_now >= self.deadline


class Starter(Part):
    def __init__(self, ctx, escrow, ssh, refunds: Refunds) -> None:
        super().__init__(ctx, escrow, ssh)
        self.refunds = refunds

    async def check(self, escrow_id: str) -> StartCheck:
        record = await self.escrow.rental(escrow_id)
        block = await self.escrow.w3.eth.get_block("latest")
        return StartCheck(record, block["timestamp"], record.deposited_at + self.ctx.settings.chain.start_window_s)

    async def start(self, rental_id: int, escrow_id: str) -> bool:
        """Send the start (unless one is open), wait a little for it, and act on the record. True
        when the start is recorded in the store."""
        pending = await open_tx(self.escrow, escrow_id, "start")
        if pending is None:
            check = await self.check(escrow_id)
            if check.record.status == Status.ACTIVE:
                return await self.record(rental_id, check.record)
            if check.record.status != Status.FUNDED:
                await self.retry_later(rental_id, timedelta(minutes=5))    # its event brings the store along
                return False
            if check.too_late:
                await self.refunds.flag(rental_id, NOT_STARTED_IN_TIME)
                return False
            try:
                hashes = [HexBytes(await self.escrow.submit("start", escrow_id)).to_0x_hex()]
                checkpoint("start-sent")
            except EscrowError as exc:
                if exc.error != "TooLate":
                    raise
                await self.refunds.flag(rental_id, NOT_STARTED_IN_TIME)
                return False
        else:
            hashes = list(pending.hashes)
        await self._wait_mined(hashes)
        checkpoint("start-mined")
        return await self.settle_outcome(rental_id, escrow_id)

    async def settle_outcome(self, rental_id: int, escrow_id: str) -> bool:
        """After a start was sent: the record says started, still waiting, or (past the window) refund."""
        check = await self.check(escrow_id)
        if check.record.status == Status.ACTIVE:
            return await self.record(rental_id, check.record)
        if check.too_late and await open_tx(self.escrow, escrow_id, "start") is None:
            await self.refunds.flag(rental_id, NOT_STARTED_IN_TIME)
        elif check.record.status == Status.FUNDED:
            await self.retry_later(rental_id, RECHECK_AFTER)
        return False

    async def record(self, rental_id: int, record: RentalRecord) -> bool:
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id)
            recorded = await record_start(session, self.ctx.box, rental, started_at=ts(record.started_at),
                                          ends_at=ts(chain_end(record)),
                                          detail="access delivered and GPU checked; the rental clock started on chain")
        if recorded:
            checkpoint("credentials-queued")
        return recorded

    async def _wait_mined(self, hashes: list[str]) -> None:
        """Poll for a receipt of any of the hashes, at most chain.receipt_wait_s; never raises for
        "not yet" (the record decides, now or on a later round)."""
        deadline = time.monotonic() + self.ctx.settings.chain.receipt_wait_s
        while True:
            for tx_hash in hashes:
                try:
                    await self.escrow.w3.eth.get_transaction_receipt(tx_hash)
                    return
                except TransactionNotFound:
                    pass
                except Exception as exc:  # noqa: BLE001 - an RPC hiccup while waiting: the record decides
                    log.info("waiting for a start transaction: %s", type(exc).__name__)
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.2)
