"""A back-office process for the leader-election test and benchmark: the real Runtime.run loop
with PostgreSQL leadership, printing `TICK <pid> <unix time>` on each of its ticks."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time


async def main(database_url: str) -> None:
    from bot.config import Settings
    from bot.leader import leadership_for
    from bot.runtime import start_runtime

    settings = Settings(database_url=database_url, chain={"poll_interval_s": 0.2})
    runtime = await start_runtime(settings)
    runtime.leadership, _ = leadership_for(database_url)
    runtime.leadership.retry_s = 0.2
    real_tick = runtime.tick

    async def tick() -> None:
        print(f"TICK {os.getpid()} {time.time():.3f}", flush=True)
        await real_tick()

    runtime.tick = tick
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"READY {os.getpid()}", flush=True)
    try:
        await runtime.run(stop)
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
