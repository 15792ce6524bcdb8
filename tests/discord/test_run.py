"""`gpuflow-bot run` starts the Discord front-end when [discord] enabled and the token are set,
with the back office; `--only discord` starts it alone. A separate process, talking to the
loopback Discord like it would to Discord (rest_base_url, gateway_url)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("only", [["--only", "discord"], []], ids=["only-discord", "everything"])
async def test_gpuflow_bot_run_serves_discord(emu, world, tmp_path, only):
    cfg = tmp_path / "gpuflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[discord]\nenabled = true\nguild_id = {world["guild"].id}\n'
                   f'rest_base_url = "{emu.rest_base}"\ngateway_url = "{emu.gateway_url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    env.update(GPUFLOW_DISCORD_TOKEN=emu.token, GPUFLOW_MASTER_KEY="ab" * 32, PYTHONPATH=str(ROOT))
    migrate = await asyncio.create_subprocess_exec(sys.executable, "-m", "handlers.cli", "--config", str(cfg),
                                                   "migrate", env=env, cwd=ROOT)
    assert await migrate.wait() == 0
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "handlers.cli", "--config", str(cfg), "run",
                                                *only, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    try:
        await emu.wait_until(lambda: any(c.guild_id == world["guild"].id for c in emu.state.commands.values())
                             and emu.gateway.connected, 60, "the bot to sync its commands and connect")
        reply = await (await emu.slash(world["alice"], "help", channel=world["general"])).done(timeout=20)
        assert "/rent" in reply.embeds[0]["description"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    parts = "discord" if only else "worker, discord"
    assert f"gpuflow running: {parts}" in text and "Traceback" not in text, text
    assert emu.token not in text                     # the token never in logs
    assert proc.returncode == 0, text
