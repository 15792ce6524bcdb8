"""Tables the escrow watcher needs: applied events, recent block hashes, and its checkpoint."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime, utcnow

EVENT_APPLIED = "applied"
EVENT_REVERTED = "reverted"


class ChainEvent(Base):
    """One escrow log, applied at most once per canonical chain.

    The unique key (chain_id, tx_hash, log_index) is what makes a redelivered log a no-op. A log
    removed by a reorg keeps its row with status "reverted"; if the same log comes back on the new
    fork, the row is applied again (status "applied", new block number and hash).
    """

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index("ix_chain_events_contract_block", "chain_id", "contract", "block_number"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    name: Mapped[str] = mapped_column(String(32))
    rental_id: Mapped[str | None] = mapped_column(String(66), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)   # integers stored as decimal strings
    status: Mapped[str] = mapped_column(String(16), default=EVENT_APPLIED)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChainBlock(Base):
    """Hash of a recently processed block (each checkpoint and each block with events).

    Used to find the fork point after a reorg; pruned to the most recent few hundred.
    """

    __tablename__ = "chain_blocks"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract: Mapped[str] = mapped_column(String(42), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))


class ChainCursor(Base):
    """The watcher's checkpoint: every log up to and including block_number has been applied."""

    __tablename__ = "chain_cursors"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract: Mapped[str] = mapped_column(String(42), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
