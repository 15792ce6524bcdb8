"""Time from "deposit confirmed" (funded) to "credentials ready" through the whole runtime.

Run as root from the repo root: .venv/bin/python -m bench.rental_flow [rounds]
Real parts: anvil with the deployed escrow, a local sshd set up like a provider host (shipped
helper, sudo, fake nvidia-smi), SQLite, and the bot's Runtime driven by its tick. Renters pay by
sending exactly the transactions the /rent reply lists.

Per rental, from the timeline's stamps (service clock, running in real time here):
  funded      = the watcher applied Deposited (state funded)
  provisioned = SSH account made and GPUs checked (credentials sealed)
  ready       = the watcher applied Started and the credentials DM is in the outbox
Ticks run back to back with confirmations=0 (anvil mines each transaction at once), so the
figures are the bot's own work: a deployment adds its poll interval (2 s by default) and the
chain's block time and confirmations on top. Prints p50/p95 for 1 rental at a time and for 20
concurrent rentals on one host.
"""
from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bench.stats import pct  # noqa: E402
from bot.chain.deploy import deploy_escrow  # noqa: E402
from bot.chain.rpc import make_web3  # noqa: E402
from bot.config import Settings, TokenSettings  # noqa: E402
from bot.crypto import generate_master_key  # noqa: E402
from bot.db.models import Rental, TimelineEntry  # noqa: E402
from tests.conftest import Clock  # noqa: E402
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT,  # noqa: E402
                                DISPUTE_WINDOW, FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, START_WINDOW, Market)
from devnet.anvil import start_anvil  # noqa: E402
from devnet.sshd import start_sshd  # noqa: E402

MAX_TICKS = 50


def show(label: str, values: list[float]) -> str:
    return f"{label} p50 {statistics.median(values):6.0f} ms, p95 {pct(values, .95):6.0f} ms"


async def stamps(m: Market, rental_id: int) -> dict[str, float]:
    async with m.runtime.services.ctx.sessions() as session:
        rows = (await session.scalars(select(TimelineEntry).where(TimelineEntry.rental_id == rental_id))).all()
    return {r.kind: r.at.timestamp() for r in rows}


async def round_of(m: Market, renter, offer_id: int, n: int) -> list[dict[str, float]]:
    """n rentals paid before the bot looks, then ticks until all have their credentials DM."""
    ids = []
    for _ in range(n):
        reply = await m.ok(renter, f"/rent {offer_id} 1")
        ids.append(int(re.search(r"Rental #([0-9]+) reserved", reply.text).group(1)))
        await m.pay_reply(renter, reply.text)
    for _ in range(MAX_TICKS):
        await m.runtime.tick()
        async with m.runtime.services.ctx.sessions() as session:
            states = (await session.scalars(select(Rental.state).where(Rental.id.in_(ids)))).all()
        if all(s == "active" for s in states):
            break
    else:
        raise SystemExit(f"not all active after {MAX_TICKS} ticks: {states}")
    out = []
    for rid in ids:
        s = await stamps(m, rid)
        dms = [x for x in await m.notices(renter, rid) if x.sensitive]
        if len(dms) != 1:
            raise SystemExit(f"rental {rid}: {len(dms)} credential DMs")
        out.append({"provisioned": (s["provisioned"] - s["deposit_confirmed"]) * 1000,
                    "ready": (s["start"] - s["deposit_confirmed"]) * 1000})
    return out


class RunningClock(Clock):
    """The service clock, set to the chain's time and then running in real time: the timeline is
    stamped with the service clock, so a frozen test clock would measure 0 ms."""

    def __init__(self) -> None:
        super().__init__()
        self._set_at = time.monotonic()

    def __setattr__(self, name, value) -> None:
        super().__setattr__(name, value)
        if name == "now":
            super().__setattr__("_set_at", time.monotonic())

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self._set_at)


async def main(rounds: int) -> None:
    server = start_sshd()
    anvil = start_anvil()
    tmp = tempfile.TemporaryDirectory(prefix="gpuflow-bench-")
    w3 = make_web3(anvil.rpc_url)
    m = None
    try:
        address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY],
                                      arbiter=ADDRESS[ARBITER_KEY], admin=ADDRESS[DEPLOYER_KEY],
                                      fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                      start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                      dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp.name}/bench.db", data_dir=Path(tmp.name),
            master_key=generate_master_key(), operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY, fee_bps=FEE_BPS,
            chain={"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address, "confirmations": 0,
                   "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
                   "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
                   "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
            ssh={"helper_path": server.helper})
        m = Market(anvil=anvil, sshd=server, settings=settings, clock=RunningClock(), tmp_path=Path(tmp.name),
                   escrow_address=address, start_block=await w3.eth.block_number, w3=w3)
        m.sync_clock()
        await m.start()
        _, renter, offer_id = await m.market_with_offer(capacity=rounds + 20 * max(1, rounds // 10))
        single = [r for _ in range(rounds) for r in await round_of(m, renter, offer_id, 1)]
        burst = [r for _ in range(max(1, rounds // 10)) for r in await round_of(m, renter, offer_id, 20)]
        print(f"funded -> credentials ready through the runtime (SQLite, confirmations=0, ticks back to back)")
        print(show(f"1 rental   (n={len(single):3d}) funded->provisioned:", [r["provisioned"] for r in single]))
        print(show(f"1 rental   (n={len(single):3d}) funded->ready:      ", [r["ready"] for r in single]))
        print(show(f"20 at once (n={len(burst):3d}) funded->provisioned:", [r["provisioned"] for r in burst]))
        print(show(f"20 at once (n={len(burst):3d}) funded->ready:      ", [r["ready"] for r in burst]))
        print(f"SSH connections made: {m.runtime.services.ctx.ssh.connects}")
    finally:
        if m is not None and m.runtime is not None:
            await m.runtime.close()
        await w3.provider.disconnect()
        anvil.stop()
        server.stop()
        tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
