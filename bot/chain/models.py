"""Tables of the chain side: the watcher's applied events, recent block hashes and checkpoint, and
the journal of the bot's own transactions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, TokenAmount, UTCDateTime, utcnow

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
    # the checkpoint block's timestamp: how far the chain's clock has been seen (deadlines that depend
    # on a deposit, like expiring an unpaid rental, wait until the chain has been read past them)
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


TX_PENDING = "pending"      # signed and stored; sent, or about to be (a crash in between: sent again)
TX_MINED = "mined"          # one of its hashes has a successful receipt
TX_REVERTED = "reverted"    # mined, but the call reverted
TX_DROPPED = "dropped"      # its nonce was used by another transaction: never mined
TX_REJECTED = "rejected"    # the node refused it outright (never in any mempool)
TX_OPEN = (TX_PENDING,)


class ChainTx(Base):
    """One of the bot's own transactions, written (signed) BEFORE it is sent.

    So a crash between sending and recording never loses track of a transaction that may still be
    mined: on restart the bot waits on the stored hashes (or sends the stored raw transaction
    again) instead of sending a second, different one. A replacement (same nonce, higher fee)
    keeps the row and adds its hash to `hashes`; whichever of them is mined settles it.
    `purpose` and `ref` (the function and the escrow rental id) let callers ask "is a start of
    this rental still open?" before deciding anything.
    """

    __tablename__ = "chain_txs"
    __table_args__ = (Index("ix_chain_txs_open", "chain_id", "sender", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(66), index=True)
    to: Mapped[str | None] = mapped_column(String(42))
    data: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(TokenAmount())
    gas: Mapped[int] = mapped_column(BigInteger)
    max_fee: Mapped[int] = mapped_column(TokenAmount())
    priority_fee: Mapped[int] = mapped_column(TokenAmount())
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)    # the latest one sent
    hashes: Mapped[list[str]] = mapped_column(JSON)                  # every hash sent for this nonce
    raw: Mapped[str] = mapped_column(Text)                           # the latest signed transaction
    status: Mapped[str] = mapped_column(String(16), default=TX_PENDING)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    mined_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)   # last (re)broadcast
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
