"""A front-end process for the crash test: claims deliveries of one platform, sends them into a
fake platform kept on disk, then stops at a named point and waits to be killed (SIGKILL).

    python -m tests.delivery.crash_worker URL PLATFORM SINK DEDUPES NOW STOP_AT
STOP_AT: "after-send" (sent, not marked) or "before-send" (claimed, not sent).
The master key comes from GPUFLOW_MASTER_KEY, as for the bot itself.
"""
from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path

from bot.app import open_app
from tests.conftest import test_settings
from tests.delivery.fake_frontend import FakePlatform


async def main(url: str, platform: str, sink: str, dedupes: str, now: str, stop_at: str) -> None:
    moment = datetime.fromisoformat(now)
    app = await open_app(test_settings(url, master_key=os.environ["GPUFLOW_MASTER_KEY"]), clock=lambda: moment)
    fake = FakePlatform(platform, dedupes=dedupes == "1", sink=Path(sink))
    batch = await app.services.deliveries.claim(platform)
    for d in batch:
        if stop_at == "after-send":
            fake.send(d)
    print(f"{stop_at} {len(batch)}", flush=True)
    await asyncio.sleep(3600)          # killed here, before marking anything


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
