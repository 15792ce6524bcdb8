"""Time from "funded" (call to provision) to "credentials ready", on a real local sshd.

Run as root from the repo root: .venv/bin/python -m bench.ssh_provision [rounds]
Prints p50/p95 in ms for one rental at a time (warm pooled connection, plus the cold first
one) and for 20 concurrent rentals on one host. Goal: p95 under 500 ms for one.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import pct  # noqa: E402
from bot.ssh import GpuSpec, SshPool, provision, revoke  # noqa: E402
from devnet.sshd import start_sshd  # noqa: E402

SPEC = GpuSpec("RTX 4090", 1, 24)


async def timed(pool: SshPool, target, user: str) -> float:
    t0 = time.perf_counter()
    result = await provision(pool, target, user=user, ends_at=datetime.now(timezone.utc) + timedelta(hours=1),
                             expected=SPEC)
    elapsed = (time.perf_counter() - t0) * 1000
    if not result.ok:
        raise SystemExit(f"provision failed: {result.reason}")
    return elapsed


async def main(rounds: int) -> None:
    server = start_sshd()
    pool = SshPool()
    try:
        target = server.target()
        cold = await timed(pool, target, "r_bcold0")
        await revoke(pool, target, "r_bcold0")
        single = []
        for i in range(rounds):
            single.append(await timed(pool, target, f"r_bone{i:03d}"))
            await revoke(pool, target, f"r_bone{i:03d}")
        burst = []
        for r in range(max(1, rounds // 10)):
            users = [f"r_bb{r:02d}{i:02d}" for i in range(20)]
            burst += await asyncio.gather(*(timed(pool, target, u) for u in users))
            await asyncio.gather(*(revoke(pool, target, u) for u in users))
        print(f"cold first rental (new connection): {cold:.0f} ms")
        print(f"1 rental   (n={len(single)}): p50 {statistics.median(single):.0f} ms, p95 {pct(single, .95):.0f} ms")
        print(f"20 at once (n={len(burst)}): p50 {statistics.median(burst):.0f} ms, p95 {pct(burst, .95):.0f} ms")
        print(f"connections made: {pool.connects}")
    finally:
        await pool.aclose()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
