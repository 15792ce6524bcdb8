"""Footprint of the bot with 10,000 open rentals: start-up time, RSS, CPU per back-office tick.

A real store (SQLite file) holding 10,000 active rentals over 100 providers and hosts, a real
chain (anvil with the escrow deployed), and the real runtime in a process of its own: the parent
times the child from spawn to the end of its first tick (start-up: imports, migrations check,
chain and SSH attach), then the child runs ticks back to back and reports its CPU time per tick
and its resident memory. Goals (issue 13): RSS under 200 MB, start-up under 3 s.

    .venv/bin/python bench/footprint.py [rentals]
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICKS = 30


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def child(settings_json: str) -> None:
    from bot.config import Settings
    from bot.runtime import start_runtime

    settings = Settings(**json.loads(settings_json))
    runtime = await start_runtime(settings)
    try:
        await runtime.tick()
        print("READY", flush=True)
        # rentals written straight into the store have no reminder timers yet: the bot makes them
        # a batch per tick; make them all first, so the ticks below show the steady state
        catch_up = time.perf_counter()
        while await runtime.services.timers.schedule():
            pass
        catch_up = time.perf_counter() - catch_up
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(TICKS):
            await runtime.tick()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        print(json.dumps({"timers_catch_up_s": catch_up, "cpu_ms_per_tick": cpu / TICKS * 1000, "wall_ms_per_tick": wall / TICKS * 1000,
                          "rss_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM")}), flush=True)
    finally:
        await runtime.close()


async def populate(url: str, settings, rentals: int) -> None:
    from sqlalchemy import insert

    from bot.app import open_app
    from bot.db.models import Host, Offer, Provider, Rental, User

    app = await open_app(settings)
    now = app.services.ctx.now()
    hosts = 100
    try:
        async with app.services.ctx.sessions.begin() as s:
            await s.execute(insert(User), [{"id": i, "display_name": f"user{i}"} for i in range(1, hosts + 1001)])
            await s.execute(insert(Provider), [{"id": i, "user_id": i, "name": f"prov{i}"} for i in range(1, hosts + 1)])
            await s.execute(insert(Host), [{"id": i, "provider_id": i, "name": "rig", "address": "127.0.0.1", "port": 1,
                                            "login_user": "gpuflow", "public_key": "ssh-ed25519 AAAA",
                                            "private_key_sealed": "x"} for i in range(1, hosts + 1)])
            per = rentals // hosts
            await s.execute(insert(Offer), [{
                "id": i, "provider_id": i, "host_id": i, "gpu_model": "RTX 4090", "gpu_key": "rtx4090", "gpu_count": 1,
                "vram_gb": 24, "token_symbol": "ETH", "price_per_hour": 10**15, "price_nano": 10**6, "min_hours": 1,
                "max_hours": 72, "region": "eu", "capacity": per, "reserved": per} for i in range(1, hosts + 1)])
            rows = []
            for n in range(rentals):
                prov = n % hosts + 1
                rows.append({
                    "escrow_id": "0x" + f"{n + 1:064x}", "offer_id": prov, "renter_id": hosts + 1 + n % 1000,
                    "provider_id": prov, "host_id": prov, "token_symbol": "ETH", "token_decimals": 18,
                    "price_per_hour": 10**15, "hours": 24, "amount": 24 * 10**15, "fee_bps": 100,
                    "fee": 24 * 10**13, "state": "active", "deposit_deadline": now, "funded_at": now,
                    "started_at": now, "ends_at": now + timedelta(hours=24), "unix_user": f"r_{n + 1:08d}",
                    "host_expiry": now + timedelta(hours=25), "ssh_public_key": "ssh-ed25519 AAAA"})
            for i in range(0, len(rows), 1000):
                await s.execute(insert(Rental), rows[i:i + 1000])
    finally:
        await app.close()


async def main(rentals: int) -> None:
    from bot.chain.deploy import deploy_escrow
    from bot.chain.rpc import make_web3
    from bot.config import Settings, TokenSettings
    from bot.crypto import generate_master_key
    from devnet.anvil import start_anvil
    from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT, DISPUTE_WINDOW,
                                    FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, START_WINDOW)

    anvil = start_anvil()
    tmp = tempfile.TemporaryDirectory(prefix="gpuflow-footprint-")
    w3 = make_web3(anvil.rpc_url)
    try:
        address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY], arbiter=ADDRESS[ARBITER_KEY],
                                      admin=ADDRESS[DEPLOYER_KEY], fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                      start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                      dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
        url = f"sqlite+aiosqlite:///{tmp.name}/footprint.db"
        raw = {"database_url": url, "data_dir": tmp.name, "master_key": generate_master_key(),
               "operator_key": OPERATOR_KEY, "arbiter_key": ARBITER_KEY, "fee_bps": FEE_BPS,
               "chain": {"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address,
                         "confirmations": 1, "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
                         "dispute_timeout_s": DISPUTE_TIMEOUT, "tokens": [{"symbol": "ETH", "decimals": 18}]}}
        settings = Settings(**{**raw, "chain": {**raw["chain"], "tokens": [TokenSettings(symbol="ETH", decimals=18)]}})
        t0 = time.perf_counter()
        await populate(url, settings, rentals)
        print(f"store: {rentals:,} active rentals written in {time.perf_counter() - t0:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        spawned = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(raw)], stdout=subprocess.PIPE,
                                text=True, env=env, cwd=ROOT)
        ready = proc.stdout.readline().strip()
        started = time.perf_counter() - spawned
        figures = json.loads(proc.stdout.readline())
        proc.wait(60)
        if ready != "READY":
            raise SystemExit(f"the runtime did not start: {ready!r}")
        print(f"start-up (spawn -> first tick done): {started:.2f} s (goal: under 3 s)")
        print(f"reminder timers for {rentals:,} rentals that had none: made in {figures['timers_catch_up_s']:.1f} s")
        print(f"back-office tick with {rentals:,} open rentals: CPU {figures['cpu_ms_per_tick']:.1f} ms, "
              f"wall {figures['wall_ms_per_tick']:.1f} ms")
        print(f"RSS {figures['rss_mb']:.0f} MB, peak {figures['peak_rss_mb']:.0f} MB (goal: under 200 MB)")
    finally:
        await w3.provider.disconnect()
        anvil.stop()
        tmp.cleanup()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2]))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
