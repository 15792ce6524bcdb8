"""Send one account's own transactions strictly in nonce order, journaled before they leave.

Why a local nonce manager: leaving nonces to the node under concurrency yields "replacement
transaction underpriced", and anvil strands transactions whose nonces arrive out of order
(foundry #10122). One TxSender per key serialises sign-and-send under a lock, so nonces leave
this process in order; a failed send resynchronises from the node's pending count.

With a journal (bot.chain.journal) every signed transaction is stored before it is sent, and
`follow_up` brings each open one to an end: mined (or reverted) under any of its hashes and buried
under `confirmations` blocks, sent again when the node lost it (also after a reorg took its block
out), replaced with the same nonce at a higher fee when stuck, or dropped when its nonce was used
by another transaction.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_account import Account
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import TransactionNotFound, Web3RPCError

from bot.chain.journal import TxJournal, TxRow
from bot.chain.models import TX_DROPPED, TX_MINED, TX_REJECTED, TX_REVERTED
from bot.chain.rpc import wait_for_receipt
from bot.db.base import utcnow

log = logging.getLogger(__name__)
GAS_MARGIN_PCT = 20
BUMP_PCT = 125          # a replacement pays at least 12.5 % more (nodes ask for +10 % on both fees)


class TxRejected(RuntimeError):
    """The node refused the transaction outright (it was never pending anywhere)."""


@dataclass(frozen=True)
class TxDone:
    """A journaled transaction that came to an end during follow_up."""

    row: TxRow
    status: str
    block_number: int | None = None


def _bump(value: int) -> int:
    return value * BUMP_PCT // 100 + 1


def _node_message(exc: Web3RPCError) -> str:
    return str(getattr(exc, "message", "") or exc).lower()


class TxSender:
    """Holds one private key (never printed) and the next nonce for its address."""

    def __init__(self, w3: AsyncWeb3, private_key: str, chain_id: int, *,
                 max_priority_fee_wei: int | None = None, journal: TxJournal | None = None,
                 stuck_after_s: float = 60.0, confirmations: int = 0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._w3 = w3
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address
        self.chain_id = chain_id
        self.journal = journal
        self.stuck_after_s = stuck_after_s
        self.confirmations = confirmations
        self._clock = clock
        self._priority = max_priority_fee_wei
        self._lock = asyncio.Lock()
        self._nonce: int | None = None

    def __repr__(self) -> str:
        return f"TxSender({self.address})"

    async def _fees(self) -> tuple[int, int]:
        base = (await self._w3.eth.get_block("latest"))["baseFeePerGas"]
        priority = self._priority if self._priority is not None else await self._w3.eth.max_priority_fee
        return 2 * base + priority, priority

    async def fees(self) -> tuple[int, int]:
        """(max fee, priority fee) per gas this sender would offer now: a dry run prices with them."""
        return await self._fees()

    async def _next_nonce(self) -> int:
        if self._nonce is None:
            nonce = await self._w3.eth.get_transaction_count(self.address, "pending")
            if self.journal is not None:
                # an open row the node has not seen (a crash before it was sent) keeps its nonce:
                # follow_up sends it again rather than have two transactions share a nonce
                highest = await self.journal.highest_open_nonce(self.address)
                if highest is not None:
                    nonce = max(nonce, highest + 1)
            self._nonce = nonce
        return self._nonce

    async def send(self, to: str | None, data: str, value: int = 0, *, purpose: str = "call",
                   ref: str | None = None) -> HexBytes:
        """Estimate, sign, journal and broadcast; returns the tx hash. A reverting call raises before
        a nonce is used (from estimate_gas), so it never leaves a gap. A transport error after the
        journal write leaves the row open (it may have arrived); follow_up settles it."""
        async with self._lock:
            for attempt in (1, 2):
                try:
                    return await self._send_locked(to, data, value, purpose, ref)
                except TxRejected as exc:
                    if attempt == 2 or "nonce too low" not in str(exc):
                        raise
                    # another sender (a second worker, a wallet) used the nonce: resync and go again
        raise AssertionError("unreachable")

    async def _send_locked(self, to: str | None, data: str, value: int, purpose: str, ref: str | None) -> HexBytes:
        call: dict[str, Any] = {"from": self.address, "data": data, "value": value}
        if to is not None:
            call["to"] = to
        gas = (await self._w3.eth.estimate_gas(call)) * (100 + GAS_MARGIN_PCT) // 100
        nonce = await self._next_nonce()
        max_fee, priority = await self._fees()
        tx = dict(call, chainId=self.chain_id, nonce=nonce, type=2, gas=gas,
                  maxPriorityFeePerGas=priority, maxFeePerGas=max_fee)
        signed = self._account.sign_transaction(tx)
        tx_hash = HexBytes(signed.hash).to_0x_hex()
        row_id = None
        if self.journal is not None:
            row_id = await self.journal.record(sender=self.address, nonce=nonce, purpose=purpose, ref=ref, to=to,
                                               data=data, value=value, gas=gas, max_fee=max_fee,
                                               priority_fee=priority, tx_hash=tx_hash,
                                               raw=HexBytes(signed.raw_transaction).to_0x_hex())
        try:
            await self._w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            self._nonce = None
            message = _node_message(exc)
            if "already known" in message or "known transaction" in message:
                self._nonce = nonce + 1
                return HexBytes(tx_hash)
            if row_id is not None:
                await self.journal.finish(row_id, TX_REJECTED)
            raise TxRejected(f"{purpose} transaction refused by the node: {message[:120]}") from None
        except BaseException:
            self._nonce = None   # unknown whether it arrived: ask the node (and the journal) next time
            raise
        self._nonce = nonce + 1
        return HexBytes(tx_hash)

    async def send_and_wait(self, to: str | None, data: str, value: int = 0, *,
                            timeout_s: float = 120.0) -> Any:
        """Send, then poll for the receipt (see bot.chain.rpc on why we poll)."""
        return await wait_for_receipt(self._w3, await self.send(to, data, value), timeout_s=timeout_s)

    # ------------------------------------------------------------ follow-up of open transactions

    async def receipt_of(self, row: TxRow) -> Any | None:
        """The receipt of whichever of the row's hashes was mined, if any."""
        for tx_hash in reversed(row.hashes):
            try:
                return await self._w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                continue
        return None

    async def follow_up(self) -> list[TxDone]:
        """One pass over this sender's open journal rows; returns those that came to an end."""
        if self.journal is None:
            return []
        rows = await self.journal.open_rows(self.address)
        if not rows:
            return []
        done: list[TxDone] = []
        head = await self._w3.eth.block_number
        used = await self._w3.eth.get_transaction_count(self.address, "latest")
        for row in rows:
            receipt = await self.receipt_of(row)
            if receipt is not None and receipt["blockNumber"] > head - self.confirmations:
                continue          # mined but not buried yet: a reorg may still take it out (then it is re-sent)
            if receipt is not None:
                status = TX_MINED if receipt["status"] == 1 else TX_REVERTED
                mined = HexBytes(receipt["transactionHash"]).to_0x_hex()
                await self.journal.finish(row.id, status, block_number=receipt["blockNumber"], mined_hash=mined)
                done.append(TxDone(row, status, receipt["blockNumber"]))
            elif used > row.nonce and await self.receipt_of(row) is None:
                # the nonce is spent and none of our hashes has a receipt (checked after the count,
                # so a receipt that arrived meanwhile was seen): another transaction took it
                await self.journal.finish(row.id, TX_DROPPED)
                done.append(TxDone(row, TX_DROPPED))
            elif (self._clock() - row.sent_at).total_seconds() >= self.stuck_after_s:
                await self._replace(row)
            else:
                await self._ensure_known(row)
        return done

    async def _ensure_known(self, row: TxRow) -> None:
        """Send the stored raw transaction again if the node does not know it (a crash between the
        journal write and the send, or a node that dropped it from its pool)."""
        try:
            await self._w3.eth.get_transaction(row.tx_hash)
            return
        except TransactionNotFound:
            pass
        try:
            await self._w3.eth.send_raw_transaction(HexBytes(row.raw))
            await self.journal.resent(row.id)
            log.info("%s transaction (nonce %d) sent again: the node did not know it", row.purpose, row.nonce)
        except Web3RPCError as exc:
            log.info("re-sending %s transaction (nonce %d) refused: %s", row.purpose, row.nonce,
                     _node_message(exc)[:120])

    async def _replace(self, row: TxRow) -> None:
        """Same nonce, same call, higher fees: whichever version is mined settles the row."""
        async with self._lock:
            max_fee, priority = await self._fees()
            priority = max(priority, _bump(row.priority_fee))
            max_fee = max(max_fee, _bump(row.max_fee), priority)
            tx: dict[str, Any] = {"from": self.address, "data": row.data, "value": row.value,
                                  "chainId": self.chain_id, "nonce": row.nonce, "type": 2, "gas": row.gas,
                                  "maxPriorityFeePerGas": priority, "maxFeePerGas": max_fee}
            if row.to is not None:
                tx["to"] = row.to
            signed = self._account.sign_transaction(tx)
            tx_hash = HexBytes(signed.hash).to_0x_hex()
            await self.journal.replaced(row.id, tx_hash=tx_hash, raw=HexBytes(signed.raw_transaction).to_0x_hex(),
                                        max_fee=max_fee, priority_fee=priority)
            try:
                await self._w3.eth.send_raw_transaction(signed.raw_transaction)
                log.info("%s transaction (nonce %d) was stuck; replaced at a higher fee", row.purpose, row.nonce)
            except Web3RPCError as exc:
                log.info("replacing %s transaction (nonce %d) refused: %s", row.purpose, row.nonce,
                         _node_message(exc)[:120])
