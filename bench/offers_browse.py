"""Benchmark: /offers with a filter and a sort over 100,000 offers on SQLite.

Prints p50/p95 per query in milliseconds (goal: p95 under 20 ms), measured through the
service layer exactly as a front-end calls it. Run: .venv/bin/python bench/offers_browse.py [N]
"""
from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from bot.app import open_app
from bot.config import Settings, TokenSettings
from bot.db.base import utcnow
from bot.db.models import Host, Offer, Provider, User
from bot.services.offers import price_nano

QUERIES = [
    "gpu=rtx4090 vram>=24 price<=0.8 sort=price",
    "gpu=a100 count>=2 region=eu sort=-reliability",
    "count>=4 price<=2 sort=price page=3",
    "region=us-east sort=-vram",
    "vram>=48 reliability>=95% sort=price limit=25",
    "",
]
GPUS = [("rtx4090", 24), ("rtx3090", 24), ("a100", 80), ("h100", 80), ("l40s", 48), ("rtx6000", 48)]
REGIONS = ["eu", "us-east", "us-west", "ap", "sa"]


async def seed(app, n: int) -> None:
    rng = random.Random(7)
    now = utcnow()
    async with app.services.ctx.sessions.begin() as s:
        await s.execute(insert(User), [{"id": i, "display_name": f"p{i}", "is_support": False,
                                        "is_admin": False, "created_at": now} for i in range(1, 201)])
        await s.execute(insert(Provider), [{"id": i, "user_id": i, "name": f"prov{i}", "delivered_count": 0,
                                            "failed_count": 0, "created_at": now} for i in range(1, 201)])
        await s.execute(insert(Host), [{"id": i, "provider_id": i, "name": "rig", "address": "h.example", "port": 22,
                                        "login_user": "gpuflow", "public_key": "k", "private_key_sealed": "x",
                                        "created_at": now} for i in range(1, 201)])
        rows = []
        for i in range(n):
            gpu, vram = rng.choice(GPUS)
            price = rng.randint(100_000, 5_000_000)   # 0.1 .. 5 USDC
            p = rng.randint(1, 200)
            rows.append({"provider_id": p, "host_id": p, "gpu_model": gpu, "gpu_key": gpu,
                         "gpu_count": rng.choice([1, 1, 2, 4, 8]), "vram_gb": vram, "token_symbol": "USDC",
                         "price_per_hour": price, "price_nano": price_nano(price, 6), "min_hours": 1,
                         "max_hours": 72, "region": rng.choice(REGIONS), "capacity": 1, "reserved": 0,
                         "status": rng.choice(["active"] * 9 + ["paused"]),
                         "reliability_bps": rng.randint(8000, 10_000), "created_at": now, "updated_at": now})
        for start in range(0, n, 5000):
            await s.execute(insert(Offer.__table__), rows[start:start + 5000])


async def main(n: int = 100_000, rounds: int = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), chain={"tokens": [TokenSettings(symbol="USDC", decimals=6)]})
        app = await open_app(settings)
        t0 = time.perf_counter()
        await seed(app, n)
        print(f"seeded {n:,} offers in {time.perf_counter() - t0:.1f} s (SQLite, WAL)")
        await app.services.maintain_store()   # what the running bot does at start and hourly
        for q in QUERIES:   # warm-up
            await app.services.offers.browse(q)
        worst = 0.0
        for q in QUERIES:
            samples = []
            for _ in range(rounds):
                t = time.perf_counter()
                page = await app.services.offers.browse(q)
                samples.append((time.perf_counter() - t) * 1000)
            samples.sort()
            p50, p95 = statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
            worst = max(worst, p95)
            print(f"  /offers {q or '(no filter)':<48} {page.total:>6} match   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
        print(f"worst p95: {worst:.2f} ms (goal: under 20 ms) -> {'MET' if worst < 20 else 'NOT MET'}")
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
