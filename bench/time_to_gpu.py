"""Time to GPU: from the moment the renter's deposit transaction is sent until the credentials DM
is queued, through the whole runtime, against the chain's floor.

Run as root from the repo root: .venv/bin/python -m bench.time_to_gpu [--rounds N] [--ws]
Real parts: anvil mining on a timer (--block-time 2 and 12), the deployed escrow, a local sshd set
up like a provider host (shipped helper, sudo, fake nvidia-smi), SQLite, and the bot's real loop
(Runtime.run, its block cadence; --ws: newHeads over WebSocket). The renter sends exactly the
deposit the /rent reply lists, at a random moment within a block; the credentials notice's stamp
(the service clock, wall time here) ends the measurement.

Floor: (confirmations + 1) x block time: the deposit waits up to a block to be mined, then
`confirmations` more blocks. Goal (issue 14): p95 <= floor + 1 s for one rental, <= floor + 2 s
for 20 at once on one host.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bench.stats import pct, wall  # noqa: E402
from bot.chain.deploy import deploy_escrow  # noqa: E402
from bot.chain.rpc import make_web3  # noqa: E402
from bot.chain.sender import TxSender  # noqa: E402
from bot.config import Settings, TokenSettings  # noqa: E402
from bot.crypto import generate_master_key  # noqa: E402
from bot.delivery.models import NoticeRow  # noqa: E402
from devnet.anvil import start_anvil  # noqa: E402
from devnet.sshd import start_sshd  # noqa: E402
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT,  # noqa: E402
                                DISPUTE_WINDOW, FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, START_WINDOW, TX_LINE,
                                Market)

CONFIRMATIONS = 2
POLL_INTERVAL_S = 2.0


async def credentials_at(m: Market, rental_ids: list[int], timeout: float) -> dict[int, float]:
    """Unix time at which each rental's credentials notice was queued (waits for all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with m.runtime.services.ctx.sessions() as session:
            rows = (await session.execute(select(NoticeRow.rental_id, NoticeRow.created_at).where(
                NoticeRow.kind == "credentials", NoticeRow.rental_id.in_(rental_ids)))).all()
        if len(rows) == len(rental_ids):
            return {rid: at.timestamp() for rid, at in rows}
        await asyncio.sleep(0.05)
    raise SystemExit(f"credentials not queued within {timeout:.0f} s")


async def one_round(m: Market, renter, offer_id: int, payer: TxSender, n: int, block_s: int,
                    rng: random.Random) -> list[float]:
    """n rentals paid at once (one random moment within a block); seconds to each credentials DM."""
    replies = []
    for _ in range(n):
        reply = await m.ok(renter, f"/rent {offer_id} 1")
        replies.append((int(re.search(r"Rental #([0-9]+) reserved", reply.text).group(1)), reply.text))
    await asyncio.sleep(rng.uniform(0, block_s))
    sent_at = {}
    for rental_id, text in replies:
        ((to, value, data),) = TX_LINE.findall(text)
        sent_at[rental_id] = time.time()
        await payer.send(to, data, int(value))
    done = await credentials_at(m, list(sent_at), timeout=(CONFIRMATIONS + 4) * block_s + 60)
    return [done[rid] - sent_at[rid] for rid in sent_at]


async def measure(server, block_s: int, rounds: int, burst: int, ws: bool) -> tuple[list[float], list[float]]:
    anvil = start_anvil("--block-time", str(block_s))
    tmp = tempfile.TemporaryDirectory(prefix="gpuflow-ttg-")
    w3 = make_web3(anvil.rpc_url)
    m, stop, loop_task = None, asyncio.Event(), None
    try:
        address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY], arbiter=ADDRESS[ARBITER_KEY],
                                      admin=ADDRESS[DEPLOYER_KEY], fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                      start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                      dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
        chain = {"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address,
                 "confirmations": CONFIRMATIONS, "poll_interval_s": POLL_INTERVAL_S,
                 "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
                 "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
                 "tokens": [TokenSettings(symbol="ETH", decimals=18)]}
        if ws:
            chain["ws_url"] = anvil.ws_url
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp.name}/bench.db", data_dir=Path(tmp.name),
                            master_key=generate_master_key(), operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY,
                            fee_bps=FEE_BPS, chain=chain, ssh={"helper_path": server.helper})
        m = Market(anvil=anvil, sshd=server, settings=settings, clock=wall, tmp_path=Path(tmp.name),
                   escrow_address=address, start_block=await w3.eth.block_number, w3=w3)
        await m.start()
        provider, renter, offer_id = await m.market_with_offer(capacity=rounds + burst)
        loop_task = asyncio.ensure_future(m.runtime.run(stop))     # the real loop from here on
        payer = TxSender(w3, renter.key, CHAIN_ID)
        rng = random.Random(block_s)
        single = [s for _ in range(rounds) for s in await one_round(m, renter, offer_id, payer, 1, block_s, rng)]
        many = await one_round(m, renter, offer_id, payer, burst, block_s, rng)
        return single, many
    finally:
        stop.set()
        if loop_task is not None:
            await asyncio.wait_for(loop_task, 60)
        if m is not None and m.runtime is not None:
            await m.runtime.close()
        for user in server.renters():
            server.run_helper("revoke", user)
        await w3.provider.disconnect()
        anvil.stop()
        tmp.cleanup()


def line(label: str, values: list[float], floor: float) -> str:
    p50, p95 = statistics.median(values), pct(values, .95)
    return (f"{label:<22} n={len(values):3d}  p50 {p50:6.2f} s  p95 {p95:6.2f} s  floor {floor:5.1f} s  "
            f"p95 - floor {p95 - floor:+5.2f} s")


async def main(args) -> None:
    server = start_sshd()
    try:
        print(f"deposit sent -> credentials DM queued; confirmations={CONFIRMATIONS}, poll interval at most "
              f"{POLL_INTERVAL_S} s, {'newHeads over WebSocket' if args.ws else 'block cadence over HTTP'}, SQLite")
        for block_s in args.blocks:
            rounds = args.rounds if block_s <= 2 else max(3, args.rounds // 2)
            single, many = await measure(server, block_s, rounds, args.burst, args.ws)
            floor = (CONFIRMATIONS + 1) * block_s
            print(line(f"{block_s:2d} s blocks, 1 rental", single, floor))
            print(line(f"{block_s:2d} s blocks, {args.burst} at once", many, floor))
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="single-rental rounds at 2 s blocks (half at 12 s)")
    parser.add_argument("--burst", type=int, default=20, help="rentals paid at once on one host")
    parser.add_argument("--blocks", type=int, nargs="+", default=[2, 12], help="block times in seconds")
    parser.add_argument("--ws", action="store_true", help="newHeads over WebSocket instead of the cadence")
    asyncio.run(main(parser.parse_args()))
