"""How the front-end receives updates: webhook mode with the secret token, and `gpuflow-bot run
--only telegram` as an operator starts it (a separate process talking to the loopback Telegram)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from devnet.telegram import LoopbackTelegram

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hook_Secret-123"


async def test_webhook_mode_checks_the_secret_token(tg: LoopbackTelegram, frontend_factory) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"
    await frontend_factory(telegram={"webhook_url": url, "webhook_port": port},
                           telegram_webhook_secret=SecretStr(SECRET))
    (hook,) = [c.params for c in tg.calls("setWebhook")]
    assert hook["url"] == url and hook["secret_token"] == SECRET
    alice = tg.add_user("Alice", started=True)
    forged = tg.emu.updates.build("message", {
        "message_id": 50, "date": 0, "chat": alice.dm.json(), "from": alice.user.json(), "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]})
    async with aiohttp.ClientSession() as http:
        for headers in ({"X-Telegram-Bot-Api-Secret-Token": "guess"}, {}):
            async with http.post(url, json=forged, headers=headers) as resp:
                assert resp.status == 403
    await asyncio.sleep(0.3)
    assert tg.messages(alice.dm) == []                            # the forged updates did nothing
    await alice.send("/help")
    await tg.wait_for(alice.dm, "Commands:")
    assert tg.calls("getUpdates") == []


async def test_gpuflow_bot_run_only_telegram(tg: LoopbackTelegram, tmp_path: Path) -> None:
    cfg = tmp_path / "gpuflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[telegram]\nenabled = true\nbase_url = "{tg.base_url}"\n'
                   f'base_file_url = "{tg.base_file_url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    env.update(GPUFLOW_TELEGRAM_TOKEN=tg.token, GPUFLOW_MASTER_KEY="ab" * 32, PYTHONPATH=str(ROOT))
    migrate = await asyncio.create_subprocess_exec(sys.executable, "-m", "handlers.cli", "--config", str(cfg),
                                                   "migrate", env=env, cwd=ROOT)
    assert await migrate.wait() == 0
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "handlers.cli", "--config", str(cfg), "run",
                                                "--only", "telegram", env=env, cwd=ROOT,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        alice = tg.add_user("Alice")
        for _ in range(100):                                       # until its menus are registered
            if tg.commands({"type": "all_private_chats"}):
                break
            await asyncio.sleep(0.2)
        await alice.start()
        await tg.wait_for(alice.dm, "GPU rentals", timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert "gpuflow running: telegram" in text and "Traceback" not in text, text
    assert tg.token not in text and tg.token.split(":")[1] not in text      # the token never in logs
