"""The journal of the bot's own transactions: each is stored, signed, before it is sent.

Why: a transaction that was sent but not seen mined (a slow block, an RPC timeout, a crash right
after sending) may still be mined later. Deciding from what the bot remembers ("I sent nothing")
or from a revert ("my second start failed") then does the wrong thing with money or access. With
the journal the bot waits on the stored hashes, sends the stored raw transaction again when the
node lost it, replaces it at a higher fee when stuck, and asks "is a start of this rental still
open?" before sending another one. Rows are plain snapshots (TxRow) outside their session.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.models import TX_PENDING, ChainTx
from bot.db.base import utcnow


@dataclass(frozen=True)
class TxRow:
    id: int
    sender: str
    nonce: int
    purpose: str
    ref: str | None
    to: str | None
    data: str
    value: int
    gas: int
    max_fee: int
    priority_fee: int
    tx_hash: str
    hashes: tuple[str, ...]
    raw: str
    status: str
    block_number: int | None
    mined_hash: str | None
    sent_at: datetime

    @classmethod
    def of(cls, r: ChainTx) -> TxRow:
        return cls(id=r.id, sender=r.sender, nonce=r.nonce, purpose=r.purpose, ref=r.ref, to=r.to, data=r.data,
                   value=r.value, gas=r.gas, max_fee=r.max_fee, priority_fee=r.priority_fee, tx_hash=r.tx_hash,
                   hashes=tuple(r.hashes), raw=r.raw, status=r.status, block_number=r.block_number,
                   mined_hash=r.mined_hash, sent_at=r.sent_at)


class TxJournal:
    """Rows of one chain; every write is its own committed transaction (it must survive a crash
    that follows it)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], chain_id: int, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.chain_id = chain_id
        self.clock = clock

    async def record(self, *, sender: str, nonce: int, purpose: str, ref: str | None, to: str | None, data: str,
                     value: int, gas: int, max_fee: int, priority_fee: int, tx_hash: str, raw: str) -> int:
        now = self.clock()
        async with self.sessions.begin() as s:
            row = ChainTx(chain_id=self.chain_id, sender=sender, nonce=nonce, purpose=purpose, ref=ref, to=to,
                          data=data, value=value, gas=gas, max_fee=max_fee, priority_fee=priority_fee,
                          tx_hash=tx_hash, hashes=[tx_hash], raw=raw, status=TX_PENDING, created_at=now, sent_at=now)
            s.add(row)
            await s.flush()
            return row.id

    async def replaced(self, row_id: int, *, tx_hash: str, raw: str, max_fee: int, priority_fee: int) -> None:
        """A replacement (same nonce, higher fee) about to be sent: its hash joins the row's."""
        async with self.sessions.begin() as s:
            row = await s.get(ChainTx, row_id)
            row.hashes = [*row.hashes, tx_hash]
            row.tx_hash, row.raw, row.max_fee, row.priority_fee, row.sent_at = \
                tx_hash, raw, max_fee, priority_fee, self.clock()

    async def resent(self, row_id: int) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(ChainTx).where(ChainTx.id == row_id).values(sent_at=self.clock()))

    async def finish(self, row_id: int, status: str, *, block_number: int | None = None,
                     mined_hash: str | None = None) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(ChainTx).where(ChainTx.id == row_id, ChainTx.status == TX_PENDING).values(
                status=status, block_number=block_number, mined_hash=mined_hash, done_at=self.clock()))

    async def open_rows(self, sender: str) -> list[TxRow]:
        async with self.sessions() as s:
            rows = (await s.scalars(select(ChainTx).where(
                ChainTx.chain_id == self.chain_id, ChainTx.sender == sender, ChainTx.status == TX_PENDING)
                .order_by(ChainTx.nonce, ChainTx.id))).all()
            return [TxRow.of(r) for r in rows]

    async def highest_open_nonce(self, sender: str) -> int | None:
        async with self.sessions() as s:
            return await s.scalar(select(func.max(ChainTx.nonce)).where(
                ChainTx.chain_id == self.chain_id, ChainTx.sender == sender, ChainTx.status == TX_PENDING))

    async def latest_for(self, ref: str, purpose: str) -> TxRow | None:
        """The most recent transaction of `purpose` for `ref`, whatever its status."""
        async with self.sessions() as s:
            row = await s.scalar(select(ChainTx).where(
                ChainTx.chain_id == self.chain_id, ChainTx.ref == ref, ChainTx.purpose == purpose)
                .order_by(ChainTx.id.desc()).limit(1))
            return TxRow.of(row) if row is not None else None

    async def open_for(self, ref: str, purpose: str) -> TxRow | None:
        row = await self.latest_for(ref, purpose)
        return row if row is not None and row.status == TX_PENDING else None

    async def open_refs(self, refs: list[str], purpose: str) -> set[str]:
        """Those of `refs` whose most recent transaction of `purpose` is still open (open_for for
        many, in one query)."""
        if not refs:
            return set()
        async with self.sessions() as s:
            latest = (select(ChainTx.ref, func.max(ChainTx.id).label("id"))
                      .where(ChainTx.chain_id == self.chain_id, ChainTx.purpose == purpose, ChainTx.ref.in_(refs))
                      .group_by(ChainTx.ref).subquery())
            return set((await s.scalars(select(ChainTx.ref).join(latest, ChainTx.id == latest.c.id)
                                        .where(ChainTx.status == TX_PENDING))).all())

    async def count(self, ref: str, purpose: str) -> int:
        async with self.sessions() as s:
            return await s.scalar(select(func.count()).select_from(ChainTx).where(
                ChainTx.chain_id == self.chain_id, ChainTx.ref == ref, ChainTx.purpose == purpose))
