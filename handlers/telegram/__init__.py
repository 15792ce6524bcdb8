"""The Telegram front-end: the market in commands, inline keyboards, private chats and forum topics.

A thin adapter over the chat core (bot/chat/README.md): text commands go to the core's router,
buttons carry the core's action payloads, replies are rendered to Telegram HTML. One module per
concern: app (the PTB Application), dispatch (text commands), buttons (callback queries),
asking (questions for missing inputs), disputes (/resolve confirmation), replies (private vs
group), sender/render/keyboards (putting messages on Telegram), menu (setMyCommands), ratelimit,
context (the Invocation), delivery (the notices queue). `gpuflow-bot run` calls `run_frontend`.
"""
from __future__ import annotations

import asyncio


async def run_frontend(runtime, stop: asyncio.Event) -> None:
    """Serve Telegram until `stop` is set (`gpuflow-bot run`, `--only telegram`)."""
    from .app import build_application, start_application, stop_application

    settings = runtime.app.settings
    if settings.telegram_token is None:
        raise SystemExit("telegram is enabled but GPUFLOW_TELEGRAM_TOKEN is not set")
    from .delivery import TelegramDelivery

    app = build_application(settings, settings.telegram_token.get_secret_value())
    front = await start_application(app, runtime, settings)
    try:
        await TelegramDelivery(front).run(stop)        # until stop is set
    finally:
        await stop_application(app)
