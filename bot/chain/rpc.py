"""Web3 connections that never need cancelling, and receipt polling with a deadline.

web3.py #3867: cancelling an in-flight AsyncHTTPProvider request can leave its process-wide
session lock held, after which every HTTP call hangs. So: bound each request with aiohttp's own
timeout (it fires inside the request, after web3's lock is released), never wrap web3 calls in
asyncio.wait_for, and poll receipts ourselves instead of web3's wait_for_transaction_receipt.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import ClientTimeout
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound

from bot.observability import metrics


class CountedHTTPProvider(AsyncHTTPProvider):
    """web3's HTTP provider, counting requests and failures into the bot's metrics."""

    async def make_request(self, method, params):  # type: ignore[override]
        metrics.RPC_REQUESTS.inc()
        try:
            response = await super().make_request(method, params)
        except Exception as exc:
            metrics.rpc_error(type(exc).__name__)
            raise
        if isinstance(response, dict) and response.get("error"):
            error = response["error"]
            metrics.rpc_error(f"error_response_{error.get('code') if isinstance(error, dict) else ''}")
        return response


class ReceiptTimeout(TimeoutError):
    """A transaction was not mined within the wait; it may still be mined later."""


def make_web3(rpc_url: str, *, timeout_s: float = 10.0) -> AsyncWeb3:
    """An AsyncWeb3 over HTTP whose requests fail (not hang) after `timeout_s`, without retries.

    Retries belong to the caller's loop (the watcher polls again), so a black-holed endpoint costs
    one timeout per poll rather than a burst of hidden retries.
    """
    if not rpc_url.startswith(("http://", "https://")):
        raise ValueError("make_web3 takes an http(s) URL; use web3's WebSocketProvider for ws(s)")
    provider = CountedHTTPProvider(rpc_url, request_kwargs={"timeout": ClientTimeout(total=timeout_s)},
                                 exception_retry_configuration=None)
    return AsyncWeb3(provider)


async def wait_for_receipt(w3: AsyncWeb3, tx_hash: HexBytes | str, *, timeout_s: float = 120.0,
                           poll_s: float = 0.2) -> Any:
    """Poll for a receipt until `timeout_s` passes; each poll is a complete, uncancelled call."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            pass
        if time.monotonic() >= deadline:
            raise ReceiptTimeout(f"transaction {HexBytes(tx_hash).to_0x_hex()} not mined after {timeout_s:.0f}s")
        await asyncio.sleep(poll_s)
