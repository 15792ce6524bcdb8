"""Follow the escrow's events into the store: confirmed, reorg-safe, exactly once, resumable.

Each poll costs a constant number of RPC calls however many rentals are open: eth_blockNumber,
one eth_getBlockByNumber to check the checkpoint's hash (a changed ancestor changes it too, so
this catches every reorg below it), one for the new range's last block, and ONE eth_getLogs for
the contract over the whole new range. Events of a range, their handler effects, the hashes of
the range's blocks and the new checkpoint are written in one database transaction.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hexbytes import HexBytes
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3
from web3.exceptions import BlockNotFound

from bot.chain.events import EscrowEvent, EscrowEventHandler, EventDecoder
from bot.chain.models import EVENT_APPLIED, EVENT_REVERTED, ChainBlock, ChainCursor, ChainEvent
from bot.db.base import utcnow

log = logging.getLogger(__name__)


class DeepReorg(RuntimeError):
    """The chain forked below every block hash we still keep: needs an operator's attention."""


@dataclass(frozen=True)
class PollResult:
    applied: int = 0          # events newly applied
    reverted: int = 0         # events rolled back by a reorg
    checkpoint: int = -1      # last fully processed block after the poll
    behind: bool = False      # more confirmed blocks are waiting (poll again without sleeping)


class EscrowWatcher:
    """Polls one escrow contract on one chain. Run one watcher per (chain, contract)."""

    def __init__(self, w3: AsyncWeb3, sessions: async_sessionmaker[AsyncSession], handler: EscrowEventHandler, *,
                 chain_id: int, address: str, confirmations: int = 2, start_block: int = 0,
                 max_range: int = 1000, keep_blocks: int = 256, poll_interval_s: float = 2.0,
                 peek_unconfirmed: bool = False) -> None:
        if confirmations < 0 or max_range < 1 or keep_blocks < 2:
            raise ValueError("confirmations >= 0, max_range >= 1, keep_blocks >= 2")
        self.w3 = w3
        self.sessions = sessions
        self.handler = handler
        self.decoder = EventDecoder(w3, address, chain_id)
        self.chain_id = chain_id
        self.address = self.decoder.address
        self.confirmations = confirmations
        self.start_block = start_block
        self.max_range = max_range
        self.keep_blocks = keep_blocks
        self.poll_interval_s = poll_interval_s
        self.peek_unconfirmed = peek_unconfirmed      # also show the handler deposits not confirmed yet
        self._peeked_head: int | None = None

    # ------------------------------------------------------------ loop

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set. Errors (RPC timeouts, a failing handler) are logged and retried
        with backoff; web3 calls are never cancelled (see bot.chain.rpc)."""
        failures = 0
        while not stop.is_set():
            try:
                result = await self.poll_once()
                failures = 0
                if result.behind:
                    continue
                delay = self.poll_interval_s
            except DeepReorg:
                log.critical("escrow watcher stopped: reorg deeper than %d kept blocks", self.keep_blocks)
                raise
            except Exception as exc:   # noqa: BLE001 - the loop must survive any single poll
                failures += 1
                delay = min(self.poll_interval_s * 2 ** min(failures, 6), 60.0)
                log.warning("escrow watcher poll failed (%s: %s); retrying in %.1fs",
                            type(exc).__name__, self._redact(str(exc)), delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)   # cancels only stop.wait(), never web3
            except TimeoutError:
                pass

    def _redact(self, text: str) -> str:
        """RPC URLs often embed API keys: never log them."""
        uri = str(getattr(self.w3.provider, "endpoint_uri", "") or "")
        return (text.replace(uri, "<rpc>") if uri else text)[:300]

    # ------------------------------------------------------------ one poll

    async def poll_once(self) -> PollResult:
        head = await self.w3.eth.block_number
        result = await self._poll_confirmed(head)
        if self.peek_unconfirmed and not result.behind and result.reverted == 0:
            await self._peek(max(result.checkpoint, head - self.confirmations), head)
        return result

    async def _peek(self, confirmed: int, head: int) -> None:
        """Show the handler the deposits in blocks not confirmed yet (once per new head): advisory
        only, for work that can start early and be undone (preparing an account); nothing that
        moves money or access is decided on them. One eth_getLogs, for the Deposited topic only."""
        if head <= confirmed or head == self._peeked_head or not hasattr(self.handler, "peek"):
            return
        self._peeked_head = head
        logs = await self.w3.eth.get_logs({"address": self.address, "fromBlock": confirmed + 1, "toBlock": head,
                                           "topics": [self.decoder.topic_of("Deposited")]})
        events = [e for e in (self.decoder.decode(raw) for raw in logs if not raw.get("removed")) if e is not None]
        if events:
            async with self.sessions.begin() as s:
                for event in events:
                    await self.handler.peek(s, event)

    async def _poll_confirmed(self, head: int) -> PollResult:
        number, block_hash = await self._checkpoint()
        anchor: tuple[int, str] | None = None
        if block_hash is None and 0 <= number <= head:
            # first poll: remember the hash of the block below start_block, so that a reorg of
            # the very first processed blocks still has a kept block to roll back to
            block_hash = HexBytes((await self.w3.eth.get_block(number))["hash"]).to_0x_hex()
            anchor = (number, block_hash)
        elif block_hash is not None:
            try:
                current = HexBytes((await self.w3.eth.get_block(number))["hash"]).to_0x_hex()
            except BlockNotFound:
                current = None
            if current != block_hash:
                return await self._rollback()
        safe = head - self.confirmations
        if safe <= number:
            return PollResult(checkpoint=number)
        to = min(safe, number + self.max_range)
        to_block = await self.w3.eth.get_block(to)
        to_hash = HexBytes(to_block["hash"]).to_0x_hex()
        logs = await self.w3.eth.get_logs({"address": self.address, "fromBlock": number + 1, "toBlock": to})
        events = []
        for raw in logs:
            if raw.get("removed"):
                return PollResult(checkpoint=number)     # the node is mid-reorg: try again next poll
            event = self.decoder.decode(raw)
            if event is None:
                continue
            if event.block_number == to and event.block_hash != to_hash:
                return PollResult(checkpoint=number)     # range changed under us: try again
            events.append(event)
        applied = await self._commit(number, to, to_hash, events, anchor, to_time=to_block["timestamp"])
        if applied is None:
            return PollResult(checkpoint=number)
        return PollResult(applied=applied, checkpoint=to, behind=to < safe)

    async def _checkpoint(self) -> tuple[int, str | None]:
        async with self.sessions() as s:
            cur = await s.get(ChainCursor, (self.chain_id, self.address))
            if cur is None:
                return self.start_block - 1, None
            return cur.block_number, cur.block_hash

    async def _commit(self, expected: int, to: int, to_hash: str, events: list[EscrowEvent],
                      anchor: tuple[int, str] | None = None, to_time: int | None = None) -> int | None:
        """Apply a range atomically; None if another writer moved the checkpoint meanwhile."""
        async with self.sessions.begin() as s:
            cur = await s.get(ChainCursor, (self.chain_id, self.address), with_for_update=True)
            if cur is None:
                cur = ChainCursor(chain_id=self.chain_id, contract=self.address, block_number=self.start_block - 1)
                s.add(cur)
            if cur.block_number != expected:
                return None
            applied = 0
            hashes = dict([anchor]) if anchor else {}
            hashes[to] = to_hash
            known = await self._known(s, events)
            for event in events:
                applied += await self._apply_once(s, event, known)
                hashes[event.block_number] = event.block_hash
            for n, h in hashes.items():
                await s.merge(ChainBlock(chain_id=self.chain_id, contract=self.address, number=n, hash=h))
            await s.execute(delete(ChainBlock).where(
                ChainBlock.chain_id == self.chain_id, ChainBlock.contract == self.address,
                ChainBlock.number <= to - self.keep_blocks))
            cur.block_number, cur.block_hash, cur.block_time = to, to_hash, to_time
        return applied

    async def _known(self, s: AsyncSession, events: list[EscrowEvent]) -> dict[tuple[str, int], ChainEvent]:
        """The stored rows of a range's events (delivered before, or reorged out), in one query per
        500 transactions instead of one per event."""
        hashes = sorted({e.tx_hash for e in events})
        known: dict[tuple[str, int], ChainEvent] = {}
        for i in range(0, len(hashes), 500):
            for row in (await s.scalars(select(ChainEvent).where(
                    ChainEvent.chain_id == self.chain_id, ChainEvent.tx_hash.in_(hashes[i:i + 500])))).all():
                known[(row.tx_hash, row.log_index)] = row
        return known

    async def _apply_once(self, s: AsyncSession, event: EscrowEvent,
                          known: dict[tuple[str, int], ChainEvent] | None = None) -> int:
        """Apply one event unless it was applied before (its row, by transaction and log index)."""
        if known is None:
            known = await self._known(s, [event])
        row = known.get((event.tx_hash, event.log_index))
        if row is not None and row.status == EVENT_APPLIED:
            return 0                                   # delivered before: already applied
        if row is None:
            row = ChainEvent(chain_id=self.chain_id, contract=self.address, tx_hash=event.tx_hash,
                             log_index=event.log_index, block_number=event.block_number,
                             block_hash=event.block_hash, name=event.name, rental_id=event.rental_id,
                             args=EventDecoder.args_to_json(event.args), status=EVENT_APPLIED)
            s.add(row)
            known[(event.tx_hash, event.log_index)] = row      # the same log twice in a range: once
        else:                                          # removed by a reorg, back on the new fork
            row.block_number, row.block_hash = event.block_number, event.block_hash
            row.status, row.applied_at, row.reverted_at = EVENT_APPLIED, utcnow(), None
        await s.flush()
        await self.handler.apply(s, event)
        return 1

    # ------------------------------------------------------------ reorgs

    async def _rollback(self) -> PollResult:
        """Find the highest kept block still on the chain; revert every event above it."""
        async with self.sessions() as s:
            kept = (await s.scalars(select(ChainBlock).where(
                ChainBlock.chain_id == self.chain_id, ChainBlock.contract == self.address,
            ).order_by(ChainBlock.number.desc()))).all()
            kept = [(b.number, b.hash) for b in kept]
        fork: tuple[int, str] | None = None
        for number, block_hash in kept:
            try:
                current = HexBytes((await self.w3.eth.get_block(number))["hash"]).to_0x_hex()
            except BlockNotFound:
                continue
            if current == block_hash:
                fork = (number, block_hash)
                break
        if fork is None:
            raise DeepReorg(f"no kept block of chain {self.chain_id} is still canonical")
        async with self.sessions.begin() as s:
            rows = (await s.scalars(select(ChainEvent).where(
                ChainEvent.chain_id == self.chain_id, ChainEvent.contract == self.address,
                ChainEvent.block_number > fork[0], ChainEvent.status == EVENT_APPLIED,
            ).order_by(ChainEvent.block_number.desc(), ChainEvent.log_index.desc()))).all()
            for row in rows:
                await self.handler.revert(s, self._event_of(row))
                row.status, row.reverted_at = EVENT_REVERTED, utcnow()
            await s.execute(delete(ChainBlock).where(
                ChainBlock.chain_id == self.chain_id, ChainBlock.contract == self.address,
                ChainBlock.number > fork[0]))
            cur = await s.get(ChainCursor, (self.chain_id, self.address), with_for_update=True)
            cur.block_number, cur.block_hash, cur.block_time = fork[0], fork[1], None   # learnt again next poll
        log.warning("escrow watcher: reorg on chain %d, rolled back %d event(s) above block %d",
                    self.chain_id, len(rows), fork[0])
        return PollResult(reverted=len(rows), checkpoint=fork[0], behind=True)

    def _event_of(self, row: ChainEvent) -> EscrowEvent:
        return EscrowEvent(name=row.name, rental_id=row.rental_id,
                           args=self.decoder.args_from_json(row.name, row.args), block_number=row.block_number,
                           block_hash=row.block_hash, tx_hash=row.tx_hash, log_index=row.log_index,
                           chain_id=self.chain_id, contract=self.address)
