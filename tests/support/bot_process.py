"""The bot's back office as a process of its own, for crash tests: the real start_runtime and
Runtime.run, killed and restarted by the test.

    python -m tests.support.bot_process SETTINGS_JSON CLOCK_FILE START_BLOCK

SETTINGS_JSON is a 0600 file of Settings fields (secrets included: it stands for the operator's
environment). The service clock follows CLOCK_FILE ("<unix time> <written at>"), which the test
moves together with anvil's clock, so rentals can end without waiting hours.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


def file_clock(path: Path):
    def now() -> datetime:
        base, written = map(float, path.read_text().split())
        return datetime.fromtimestamp(base + (time.time() - written), tz=timezone.utc)
    return now


def write_clock(path: Path, unix_time: float) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{unix_time} {time.time()}")
    tmp.replace(path)


async def main(settings_file: str, clock_file: str, start_block: int) -> None:
    from bot.config import Settings
    from bot.runtime import start_runtime

    settings = Settings(**json.loads(Path(settings_file).read_text()))
    runtime = await start_runtime(settings, clock=file_clock(Path(clock_file)), start_block=start_block)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("RUNNING", flush=True)
    try:
        await runtime.run(stop)
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
