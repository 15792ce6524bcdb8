"""The loopback Telegram for the tests, and a way to run a python-telegram-bot Application on it.

Every test that uses `tg` fails at teardown if the bot sent anything the Bot API description or
Telegram's limits refuse, or if the emulator answered anything the description does not allow.
Tests that provoke refusals on purpose take them with `tg.take_violations()`.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import AsyncIterator, Iterable

import pytest
from telegram.ext import Application, ApplicationBuilder, BaseHandler

from devnet.telegram import LoopbackTelegram, RateLimits


@pytest.fixture
async def tg(request: pytest.FixtureRequest) -> AsyncIterator[LoopbackTelegram]:
    """Telegram's flood limits by default; `@pytest.mark.tg_limits(RateLimits.off())` to change."""
    marker = request.node.get_closest_marker("tg_limits")
    limits = marker.args[0] if marker else RateLimits()
    async with LoopbackTelegram(limits=limits) as emulator:
        yield emulator
        problems = list(emulator.violations)
    assert problems == [], "the bot or the emulator broke the Bot API:\n" + "\n".join(problems)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_app(tg: LoopbackTelegram, handlers: Iterable[BaseHandler], **builder_kw: object) -> Application:
    builder = ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)
    for name, value in builder_kw.items():
        builder = getattr(builder, name)(value)
    app = builder.build()
    for handler in handlers:
        app.add_handler(handler)
    return app


@contextlib.asynccontextmanager
async def polling(app: Application, timeout: int = 1) -> AsyncIterator[Application]:
    """The Application polling the emulator (long polls of `timeout` seconds) until the block ends."""
    await app.initialize()
    await app.updater.start_polling(poll_interval=0, timeout=timeout)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@contextlib.asynccontextmanager
async def webhook(app: Application, secret: str | None, port: int | None = None) -> AsyncIterator[str]:
    """The Application serving a webhook on loopback (the emulator delivers to it); yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    await app.initialize()
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="tg-hook", webhook_url=url,
                                    secret_token=secret)
    await app.start()
    try:
        yield url
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@dataclass
class Frontend:
    """The product's Telegram front-end on a real runtime (SQLite), talking to the emulator."""
    tg: LoopbackTelegram
    runtime: object
    app: Application

    @property
    def services(self):
        return self.runtime.services


@pytest.fixture
async def frontend_factory(tg: LoopbackTelegram, tmp_path):
    """start(**settings overrides) -> Frontend; everything stopped after the test."""
    from bot.runtime import start_runtime
    from handlers.telegram.app import build_application, start_application, stop_application
    from handlers.telegram.delivery import TelegramDelivery
    from tests.conftest import test_settings

    started: list[Frontend] = []

    async def start(runtime=None, **overrides) -> Frontend:
        telegram = {"enabled": True, "base_url": tg.base_url, "base_file_url": tg.base_file_url,
                    **overrides.pop("telegram", {})}
        if runtime is None:
            settings = test_settings(f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}", data_dir=tmp_path,
                                     telegram=telegram, telegram_token=tg.token, **overrides)
            runtime = await start_runtime(settings)
            owned = True
        else:                          # the caller's runtime, configured for this emulator already
            settings, owned = runtime.app.settings, False
        app = build_application(settings, tg.token)
        shared = await start_application(app, runtime, settings)
        front = Frontend(tg, runtime, app)
        front.stop = asyncio.Event()  # type: ignore[attr-defined]
        front.delivering = asyncio.get_running_loop().create_task(  # type: ignore[attr-defined]
            TelegramDelivery(shared).run(front.stop))
        front.owned = owned  # type: ignore[attr-defined]
        started.append(front)
        return front

    yield start
    for front in started:
        front.stop.set()  # type: ignore[attr-defined]
        await front.delivering  # type: ignore[attr-defined]
        await stop_application(front.app)
        if front.owned:  # type: ignore[attr-defined]
            await front.runtime.close()
