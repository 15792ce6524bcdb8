"""Send one account's own transactions strictly in nonce order, with gas estimation.

Why a local nonce manager: leaving nonces to the node under concurrency yields "replacement
transaction underpriced", and anvil strands transactions whose nonces arrive out of order
(foundry #10122). One TxSender per key serialises sign-and-send under a lock, so nonces leave
this process in order; a failed send resynchronises from the node's pending count.
"""
from __future__ import annotations

import asyncio
from typing import Any

from eth_account import Account
from hexbytes import HexBytes
from web3 import AsyncWeb3

from bot.chain.rpc import wait_for_receipt

GAS_MARGIN_PCT = 20


class TxSender:
    """Holds one private key (never printed) and the next nonce for its address."""

    def __init__(self, w3: AsyncWeb3, private_key: str, chain_id: int, *,
                 max_priority_fee_wei: int | None = None) -> None:
        self._w3 = w3
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address
        self.chain_id = chain_id
        self._priority = max_priority_fee_wei
        self._lock = asyncio.Lock()
        self._nonce: int | None = None

    def __repr__(self) -> str:
        return f"TxSender({self.address})"

    async def send(self, to: str | None, data: str, value: int = 0) -> HexBytes:
        """Estimate, sign and broadcast; returns the tx hash. A reverting call raises before a
        nonce is used (from estimate_gas), so it never leaves a gap."""
        async with self._lock:
            call: dict[str, Any] = {"from": self.address, "data": data, "value": value}
            if to is not None:
                call["to"] = to
            gas = await self._w3.eth.estimate_gas(call)
            if self._nonce is None:
                self._nonce = await self._w3.eth.get_transaction_count(self.address, "pending")
            base = (await self._w3.eth.get_block("latest"))["baseFeePerGas"]
            priority = self._priority if self._priority is not None else await self._w3.eth.max_priority_fee
            tx = dict(call, chainId=self.chain_id, nonce=self._nonce, type=2,
                      gas=gas * (100 + GAS_MARGIN_PCT) // 100,
                      maxPriorityFeePerGas=priority, maxFeePerGas=2 * base + priority)
            signed = self._account.sign_transaction(tx)
            try:
                tx_hash = await self._w3.eth.send_raw_transaction(signed.raw_transaction)
            except BaseException:
                self._nonce = None   # unknown whether it arrived: ask the node next time
                raise
            self._nonce += 1
            return HexBytes(tx_hash)

    async def send_and_wait(self, to: str | None, data: str, value: int = 0, *,
                            timeout_s: float = 120.0) -> Any:
        """Send, then poll for the receipt (see bot.chain.rpc on why we poll)."""
        return await wait_for_receipt(self._w3, await self.send(to, data, value), timeout_s=timeout_s)
