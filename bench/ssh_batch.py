"""Provisioning many rentals on one host: one helper call per rental vs one batch per host.

Run as root from the repo root: .venv/bin/python -m bench.ssh_batch [N ...]
For each N (default 20 and 100) prints the wall time to provision N rentals on one real local
sshd (i) as N concurrent `provision` calls (the helper serialises them on its lock) and (ii) as
one `provision_many`, then the same for revoking them, with the ratio measured in this run.
"""
from __future__ import annotations

import asyncio
import secrets
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ssh import GpuSpec, ProvisionRequest, SshPool, provision, provision_many, revoke, revoke_many  # noqa: E402
from devnet.sshd import start_sshd  # noqa: E402

SPEC = GpuSpec("RTX 4090", 1, 24)


async def one_by_one(pool: SshPool, target, n: int) -> tuple[float, float]:
    users = [f"r_s{secrets.token_hex(4)}" for _ in range(n)]
    ends = datetime.now(timezone.utc) + timedelta(hours=1)
    t0 = time.perf_counter()
    results = await asyncio.gather(*(provision(pool, target, user=u, ends_at=ends, expected=SPEC) for u in users))
    t1 = time.perf_counter()
    await asyncio.gather(*(revoke(pool, target, u) for u in users))
    t2 = time.perf_counter()
    if not all(r.ok for r in results):
        raise SystemExit("provision failed: " + next(r.reason for r in results if not r.ok))
    return t1 - t0, t2 - t1


async def batched(pool: SshPool, target, n: int) -> tuple[float, float]:
    users = [f"r_m{secrets.token_hex(4)}" for _ in range(n)]
    ends = datetime.now(timezone.utc) + timedelta(hours=1)
    t0 = time.perf_counter()
    results = await provision_many(pool, target, [ProvisionRequest(u, ends, SPEC) for u in users])
    t1 = time.perf_counter()
    gone = await revoke_many(pool, target, users)
    t2 = time.perf_counter()
    if not all(r.ok for r in results) or not all(g.ok for g in gone):
        raise SystemExit("batch failed: " + next(r.reason for r in results if not r.ok))
    return t1 - t0, t2 - t1


async def main(sizes: list[int]) -> None:
    server = start_sshd()
    pool = SshPool()
    try:
        target = server.target()
        await one_by_one(pool, target, 1)  # warm the pooled connection
        for n in sizes:
            (c1, r1), (c2, r2) = await one_by_one(pool, target, n), await batched(pool, target, n)
            print(f"{n:4d} rentals, one call each: provision {c1 * 1000:7.0f} ms, revoke {r1 * 1000:7.0f} ms")
            print(f"{n:4d} rentals, one batch:     provision {c2 * 1000:7.0f} ms, revoke {r2 * 1000:7.0f} ms"
                  f"   (x{c1 / c2:.1f} and x{r1 / r2:.1f} faster)")
    finally:
        await pool.aclose()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [20, 100]))
