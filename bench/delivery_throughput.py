"""Delivery throughput and lag: 10,000 deliveries across two platforms drained by one worker.

The real queue (bot.delivery.queue) on a real store, SQLite file and PostgreSQL: one worker
serves both platforms ("alpha", "beta") with claim -> (a platform send that costs nothing) ->
sent, so the figures are the core's own cost per delivery. Two runs per database:

  backlog  10,000 pending before the worker starts: deliveries per second; the lag is mostly
           the wait in the queue (the last one waits for all before it)
  steady   2,000 queued at a steady 50 a second while the worker runs, woken by the doorbell (not
           polling): the p95 lag is what a person waits beyond the core's own work

Lag = delivery created (the notice's commit) -> marked sent, on the wall clock.

    .venv/bin/python bench/delivery_throughput.py [deliveries] [--pg URL]
"""
from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("GPUFLOW_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PLATFORMS = ("alpha", "beta")
USERS = 200
STEADY_TOTAL, STEADY_RATE, BURST = 2_000, 50, 10      # 10 notices every 0.2 s


async def open_store(url: str, data_dir: Path):
    from bot.app import open_app
    from bot.config import Settings
    from bot.crypto import generate_master_key

    return await open_app(Settings(database_url=url, data_dir=data_dir, master_key=generate_master_key()))


async def make_users(app) -> list[int]:
    from bot.db.models import Identity, User

    ids = []
    async with app.services.ctx.sessions.begin() as session:
        for i in range(USERS):
            user = User(display_name=f"user{i}")
            session.add(user)
            await session.flush()
            session.add(Identity(user_id=user.id, platform=PLATFORMS[i % 2], platform_user_id=f"u{i}",
                                 display_name=f"user{i}"))
            ids.append(user.id)
    return ids


async def enqueue(app, users: list[int], start: int, count: int) -> None:
    from bot.delivery.kinds import Kind
    from bot.delivery.notify import notify

    async with app.services.ctx.sessions.begin() as session:
        for i in range(start, start + count):
            await notify(session, Kind.WALLET, f"bench:{i}", data={"text": f"notice {i}"},
                         user_id=users[i % len(users)])


async def worker(app, total: int, stop: asyncio.Event) -> int:
    queue = app.services.deliveries
    done = 0
    while done < total and not stop.is_set():
        got = 0
        for platform in PLATFORMS:
            for d in await queue.claim(platform, limit=100):
                await queue.sent(d)
                got += 1
        done += got
        if not got:      # one worker, two platforms: wake on either one's doorbell
            waits = [asyncio.ensure_future(queue.wait_for_work(p, timeout=1.0)) for p in PLATFORMS]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
    return done


async def lags(app) -> list[float]:
    from sqlalchemy import select

    from bot.delivery.models import DeliveryRow

    async with app.services.ctx.sessions() as session:
        rows = (await session.execute(select(DeliveryRow.created_at, DeliveryRow.sent_at)
                                      .where(DeliveryRow.status == "sent"))).all()
    return [(sent - created).total_seconds() for created, sent in rows]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


async def run(url: str, total: int, mode: str, data_dir: Path) -> dict:
    app = await open_store(url, data_dir)
    try:
        users = await make_users(app)
        stop = asyncio.Event()
        if mode == "backlog":
            for start in range(0, total, 500):
                await enqueue(app, users, start, min(500, total - start))
            t0, c0 = time.perf_counter(), time.process_time()
            done = await worker(app, total, stop)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        else:
            total = min(total, STEADY_TOTAL)
            t0, c0 = time.perf_counter(), time.process_time()
            task = asyncio.create_task(worker(app, total, stop))
            loop = asyncio.get_running_loop()
            start_at = loop.time()
            for n, start in enumerate(range(0, total, BURST)):
                await enqueue(app, users, start, min(BURST, total - start))
                await asyncio.sleep(max(0.0, start_at + (n + 1) * BURST / STEADY_RATE - loop.time()))
            done = await asyncio.wait_for(task, timeout=1800)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        waits = await lags(app)
        return {"done": done, "per_s": done / wall, "cpu_ms": cpu * 1000 / done, "p50": statistics.median(waits),
                "p95": p95(waits)}
    finally:
        await app.close()


async def pg_schema(base: str) -> tuple[str, str]:
    import asyncpg

    schema = "bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={schema}", schema


async def drop_schema(base: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


async def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    total = int(args[0]) if args else 10_000
    pg = sys.argv[sys.argv.index("--pg") + 1] if "--pg" in sys.argv else PG_URL
    print(f"delivery throughput: {total} pending deliveries over {len(PLATFORMS)} platforms drained by one worker "
          f"(claim -> sent, sends cost nothing); steady: {STEADY_TOTAL} queued at {STEADY_RATE}/s meanwhile")
    print("(steady: the same process also queues the notices, so its CPU per delivery includes queueing)")
    print(f"{'store':<11}{'mode':<9}{'delivered':>10}{'per s':>9}{'cpu ms/d':>10}{'p50 lag s':>11}{'p95 lag s':>11}")
    for store in ("sqlite", "postgresql"):
        for mode in ("backlog", "steady"):
            with tempfile.TemporaryDirectory(prefix="gpuflow-bench-") as tmp:
                if store == "sqlite":
                    url, schema = f"sqlite+aiosqlite:///{tmp}/bench.db", None
                else:
                    try:
                        url, schema = await pg_schema(pg)
                    except Exception as exc:  # noqa: BLE001 - say so and go on with what runs
                        print(f"{store:<11}{mode:<9} skipped: PostgreSQL unreachable ({type(exc).__name__})")
                        continue
                try:
                    r = await run(url, total, mode, Path(tmp))
                finally:
                    if schema:
                        await drop_schema(pg, schema)
            print(f"{store:<11}{mode:<9}{r['done']:>10}{r['per_s']:>9.0f}{r['cpu_ms']:>10.2f}{r['p50']:>11.3f}"
                  f"{r['p95']:>11.3f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
