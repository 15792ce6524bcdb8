"""A front-end process killed (SIGKILL) between sending and marking: the delivery is claimed again
once its lease runs out and sent with the same idempotency key, so a platform that dedupes by it
(Discord's nonce) shows exactly one message, another at most one duplicate, and none is lost."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from tests.delivery.fake_frontend import FakePlatform

ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(m, platform: str, sink: Path, dedupes: bool, stop_at: str, now) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "GPUFLOW_MASTER_KEY": m.services.ctx.settings.master_key.get_secret_value()}
    url = m.services.ctx.settings.database_url
    proc = subprocess.Popen([sys.executable, "-m", "tests.delivery.crash_worker", url, platform, str(sink),
                             "1" if dedupes else "0", now.isoformat(), stop_at],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = proc.stdout.readline()
        assert line.split() == [stop_at, "1"], (line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stop_at", ["after-send", "before-send"])
async def test_a_killed_front_end_neither_loses_nor_doubles_where_the_platform_dedupes(market, clock, tmp_path, stop_at):
    m = market
    for platform, user in (("alpha", "al"), ("beta", "bo")):
        who = await m.on(platform, user, user.title())
        async with m.services.ctx.sessions.begin() as session:
            await notify(session, Kind.WALLET, f"wallet:{user}", data={"text": f"hello {user}"}, user_id=who.user_id)
    results = {}
    for platform, dedupes in (("alpha", True), ("beta", False)):
        sink = tmp_path / f"{platform}-{stop_at}.jsonl"
        run_until_killed(m, platform, sink, dedupes, stop_at, clock.now)
        front = FakePlatform(platform, dedupes=dedupes, sink=sink)
        assert await front.drain(m.queue) == 0                  # still leased by the dead process
        clock.advance(seconds=m.services.ctx.settings.delivery.lease_s + 1)
        assert await front.drain(m.queue) == 1                  # claimed again and sent
        assert await front.drain(m.queue) == 0
        front.load()
        results[platform] = [p.text for p in front.posted]
    if stop_at == "after-send":
        assert results == {"alpha": ["hello al"], "beta": ["hello bo", "hello bo"]}   # nonce dedupes; else one dup
    else:
        assert results == {"alpha": ["hello al"], "beta": ["hello bo"]}
