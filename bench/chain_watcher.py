"""Benchmark the escrow watcher on anvil.

Prints (1) the watcher's RPC calls per block with 10 and with 10,000 open rentals, counted on the
wire by a JSON-RPC proxy (they must be equal: one eth_getLogs per range, never one call per rental),
and (2) the time from a deposit's confirmation (its block reaching the configured depth) to the
watcher having applied it, p50/p95 in ms.

    .venv/bin/python bench/chain_watcher.py [--samples 40] [--poll 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402

from bot.chain.events import EscrowEvent  # noqa: E402
from bot.chain.rpc import make_web3  # noqa: E402
from bot.chain.watcher import EscrowWatcher  # noqa: E402
from bot.db.base import Base  # noqa: E402
from tests.chain.conftest import OPERATOR, PROVIDER, RENTER, ZERO, deploy_contracts, make_chain  # noqa: E402
from tests.chain.rpcproxy import RpcProxy  # noqa: E402
from devnet.anvil import start_anvil  # noqa: E402

CONFIRMATIONS = 2


class TimingHandler:
    """Records when each event was applied; writes nothing else (the store cost is the watcher's own)."""

    def __init__(self) -> None:
        self.applied_at: dict[str, float] = {}

    async def apply(self, session: AsyncSession, event: EscrowEvent) -> None:
        if event.rental_id:
            self.applied_at.setdefault(event.rental_id, time.perf_counter())

    async def revert(self, session: AsyncSession, event: EscrowEvent) -> None:
        pass


def batch_rpc(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def open_rentals(chain: Any, n: int) -> list[bytes]:
    """n funded-and-started rentals, sent in batches and mined in few blocks."""
    ids = [os.urandom(32) for _ in range(n)]
    chain.node.rpc("evm_setAutomine", [False])
    nonce = {who: chain.w3.eth.get_transaction_count(who) for who in (RENTER, OPERATOR)}

    def next_nonce(who: str) -> str:
        nonce[who] += 1
        return hex(nonce[who] - 1)

    for k in range(0, n, 500):
        calls = [("eth_sendTransaction", [{
            "from": RENTER, "to": chain.escrow.address, "value": hex(10**12), "gas": hex(200_000),
            "nonce": next_nonce(RENTER),
            "data": chain.escrow.encode_abi("deposit", args=[i, PROVIDER, ZERO, 10**12, 3600, 2**40, chain.quote(
                i, RENTER, PROVIDER, ZERO, 10**12, 3600, expiry=2**40)[1]])}]) for i in ids[k:k + 500]]
        calls += [("eth_sendTransaction", [{
            "from": OPERATOR, "to": chain.escrow.address, "gas": hex(100_000), "nonce": next_nonce(OPERATOR),
            "data": chain.escrow.encode_abi("start", args=[i])}]) for i in ids[k:k + 500]]
        answers = batch_rpc(chain.node.rpc_url, calls)
        assert all("result" in a for a in answers), [a for a in answers if "result" not in a][:1]
        while chain.node.rpc("txpool_status")["pending"] != "0x0":
            chain.node.rpc("evm_mine")
    chain.node.rpc("evm_setAutomine", [True])
    return ids


async def calls_per_block(open_count: int, blocks: int = 10) -> dict[str, float]:
    with start_anvil("--gas-limit", "1000000000") as node, tempfile.TemporaryDirectory() as tmp:
        chain = make_chain(node, deploy_contracts(node))
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        with RpcProxy(node.rpc_url) as proxy:
            w3 = make_web3(proxy.url)
            w = EscrowWatcher(w3, sessions, TimingHandler(), chain_id=31337, address=chain.escrow.address,
                              confirmations=CONFIRMATIONS, start_block=chain.w3.eth.block_number + 1)
            ids = open_rentals(chain, open_count)
            node.rpc("anvil_mine", [hex(CONFIRMATIONS)])
            applied = 0
            while True:                                  # catch up on the rentals' own events
                r = await w.poll_once()
                applied += r.applied
                if not r.behind:
                    break
            assert applied == 2 * open_count, applied
            first = (await w.poll_once()).checkpoint
            proxy.reset()
            for b in range(blocks):                      # steady state: one event and one poll per block
                chain.send(RENTER, chain.escrow.functions.endEarly(ids[b]))
                last = (await w.poll_once()).checkpoint
            calls = dict(proxy.calls)
            blocks = last - first
            await w3.provider.disconnect()
        await engine.dispose()
    return {m: round(c / blocks, 2) for m, c in sorted(calls.items())}


async def apply_latency(samples: int, poll_s: float) -> list[float]:
    """ms from the moment a deposit's block is CONFIRMATIONS deep to the watcher having applied it."""
    with start_anvil() as node, tempfile.TemporaryDirectory() as tmp:
        chain = make_chain(node, deploy_contracts(node))
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        handler = TimingHandler()
        w3 = make_web3(node.rpc_url)
        w = EscrowWatcher(w3, async_sessionmaker(engine, expire_on_commit=False), handler, chain_id=31337,
                          address=chain.escrow.address, confirmations=CONFIRMATIONS,
                          start_block=chain.w3.eth.block_number + 1, poll_interval_s=poll_s)
        stop = asyncio.Event()
        task = asyncio.create_task(w.run(stop))
        latencies = []
        for _ in range(samples):
            rid = os.urandom(32)
            chain.send(RENTER, chain.deposit(RENTER, rid, PROVIDER, ZERO, 10**12, 3600), 10**12)
            await asyncio.to_thread(node.rpc, "anvil_mine", [hex(CONFIRMATIONS)])
            confirmed = time.perf_counter()
            key = "0x" + rid.hex()
            while key not in handler.applied_at:
                await asyncio.sleep(0.002)
            latencies.append((handler.applied_at[key] - confirmed) * 1000)
            await asyncio.sleep(poll_s * (0.13 + (len(latencies) % 7) / 7))   # spread over the poll phase
        stop.set()
        await task
        await w3.provider.disconnect()
        await engine.dispose()
    return latencies


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--poll", type=float, default=0.1, help="watcher poll interval in seconds")
    ap.add_argument("--big", type=int, default=10_000)
    args = ap.parse_args()
    for n in (10, args.big):
        t0 = time.perf_counter()
        per_block = await calls_per_block(n)
        print(f"open rentals {n:>6}: RPC calls per block {sum(per_block.values()):.2f}  {per_block}  "
              f"(setup {time.perf_counter() - t0:.1f}s)")
    lat = await apply_latency(args.samples, args.poll)
    print(f"deposit confirmed -> applied (confirmations={CONFIRMATIONS}, poll {args.poll * 1000:.0f} ms, "
          f"{len(lat)} samples): p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
