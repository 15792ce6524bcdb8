"""Benchmark: how fast the Discord front-end acknowledges commands, with many people at once.

The bot runs as an operator runs it (`gpuflow-bot run --only discord`, its own process, SQLite
store with 30 offers) against the loopback Discord in this process (so Discord's side, with its
OpenAPI validation, does not eat the bot's CPU). 200 simulated members each run a command at the
same moment (/offers with options, /rentals, /offer show, /help in turn); the emulator measures,
per interaction, the time from sending INTERACTION_CREATE on the gateway to the bot's callback (an
answer or a deferral): what Discord's 3-second deadline applies to. One command alone is measured in the
same run as the baseline. Goal: p99 under 100 ms.

    .venv/bin/python bench/discord_ack.py [--users 200] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import pct  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.crypto import generate_master_key  # noqa: E402
from devnet.discord import DiscordEmulator  # noqa: E402
from tests.conftest import Clock, test_settings  # noqa: E402
from tests.helpers import provider_with_offer  # noqa: E402

COMMANDS = [("offers", {"gpu": "rtx4090", "sort": "price"}), ("rentals", {}), ("offer show", {"offer": 1}),
            ("help", {})]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def burst(emu, people, channel) -> tuple[list[float], int]:
    handles = []
    for i, person in enumerate(people):
        path, args = COMMANDS[i % len(COMMANDS)]
        handles.append(await emu.slash(person, path, channel=channel, **args))
        await asyncio.sleep(0)              # the gateway sends each as it is made
    try:
        await emu.wait_until(lambda: all(h.interaction.answered for h in handles), 30, "every acknowledgement")
        await asyncio.gather(*(h.done(timeout=60) for h in handles))
    except TimeoutError:
        pass                 # counted below: an interaction not acknowledged in time is a miss
    acks = [(h.interaction.answered_at - h.interaction.sent_at) * 1000 if h.interaction.answered else float("inf")
            for h in handles]
    deferred = sum(1 for h in handles if h.response_type == 5)
    return acks, deferred


async def seed(db: Path, tmp: Path) -> None:
    settings = test_settings(f"sqlite+aiosqlite:///{db}", data_dir=tmp, master_key=generate_master_key())
    app = await open_app(settings, clock=Clock())
    try:
        for i in range(30):
            await provider_with_offer(app, f"prov{i}")
    finally:
        await app.close()


async def main(users: int, rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        emu = DiscordEmulator()
        await emu.start()
        guild = emu.add_guild("Bench", channels=["general"])
        channel = emu.state.channels[guild.channel_ids[0]]
        people = [emu.add_user(f"member{i}") for i in range(users)]
        for person in people:
            emu.add_member(guild, person)
        db = tmp / "bench.db"
        await seed(db, tmp)
        cfg = tmp / "gpuflow.toml"
        cfg.write_text(f'data_dir = "{tmp}"\ndatabase_url = "sqlite+aiosqlite:///{db}"\nsupport = ["console:sue"]\n'
                       f'[discord]\nenabled = true\nguild_id = {guild.id}\nrest_base_url = "{emu.rest_base}"\n'
                       f'gateway_url = "{emu.gateway_url}"\n[[chain.tokens]]\nsymbol = "USDC"\ndecimals = 6\n'
                       f'address = "0x{"a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"}"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
        env.update(GPUFLOW_DISCORD_TOKEN=emu.token, GPUFLOW_MASTER_KEY="ab" * 32, PYTHONPATH=str(ROOT))
        profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        bot = await asyncio.create_subprocess_exec(sys.executable, *profile, "-m", "handlers.cli", "--config", str(cfg), "run",
                                                   "--only", "discord", env=env, cwd=ROOT)
        try:
            await emu.wait_until(lambda: emu.gateway.connected and any(c.guild_id == guild.id for c in
                                                                        emu.state.commands.values()),
                                 120, "the bot to connect and sync")
            single = []
            for _ in range(20):
                acks, _ = await burst(emu, people[:1], channel)
                single += acks
            print(f"one command alone (20 runs): p50 {statistics.median(single):.1f} ms, "
                  f"p99 {pct(single, 0.99):.1f} ms")
            everyone: list[float] = []
            deferred = 0
            bot_cpu, emu_cpu = cpu_seconds(bot.pid), time.process_time()
            for _ in range(rounds):
                acks, d = await burst(emu, people, channel)
                everyone += acks
                deferred += d
            bot_cpu, emu_cpu = cpu_seconds(bot.pid) - bot_cpu, time.process_time() - emu_cpu
            missed = sum(1 for a in everyone if a > 3000)
            print(f"{users} members at once ({rounds} rounds, {len(everyone)} commands): "
                  f"p50 {statistics.median(everyone):.1f} ms, p99 {pct(everyone, 0.99):.1f} ms, "
                  f"max {max(everyone):.1f} ms; deferred first: {deferred}; past 3 s: {missed}")
            print(f"CPU per command (answer included): bot {bot_cpu / len(everyone) * 1000:.1f} ms, "
                  f"emulator {emu_cpu / len(everyone) * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores")
            print(f"p99 ratio burst/alone: {pct(everyone, 0.99) / max(pct(single, 0.99), 0.001):.1f}x; "
                  f"goal p99 < 100 ms: {'met' if pct(everyone, 0.99) < 100 else 'NOT met'}; "
                  f"Discord's deadline 3000 ms; emulator violations: {len(emu.violations)}")
            for v in emu.violations[:3]:
                print("  ", v)
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
            await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.rounds))
