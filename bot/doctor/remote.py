"""Doctor: the WalletConnect relay accepts the bot, and Discord and Telegram accept its tokens
(through their configured base URLs, so a proxy or a self-hosted Bot API server is checked too)."""
from __future__ import annotations

import os

import aiohttp

from bot.config import Settings
from bot.doctor import Check, fail, ok, skip
from bot.observability.redact import redact
from bot.wallet.walletconnect.auth import ClientIdentity
from bot.wallet.walletconnect.errors import RelayError, RelayUnavailable
from bot.wallet.walletconnect.relay import RelayClient

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
USER_AGENT = "DiscordBot (https://gpuflow.invalid, 0.1)"   # Discord wants this form


async def check_relay(settings: Settings) -> list[Check]:
    wc = settings.walletconnect
    if not wc.project_id and not wc.relay_url.startswith("ws://"):
        return [skip("walletconnect relay", "no walletconnect.project_id: /wallet link uses signatures only")]

    async def ignore(_message) -> None:
        return None

    relay = RelayClient(wc.relay_url, ClientIdentity.generate(), ignore, project_id=wc.project_id, call_timeout=10)
    topic = os.urandom(32).hex()
    try:
        await relay.start(timeout=10, require_connection=True)
        await relay.call("irn_subscribe", {"topic": topic})     # accepted, not merely connected
        await relay.unsubscribe(topic)
    except (RelayUnavailable, RelayError) as exc:
        text = relay.refusal_text(relay.refused) if relay.refused else str(exc)
        return [fail("walletconnect relay", f"{redact(wc.relay_url)}: {text}")]
    finally:
        await relay.close()
    return [ok("walletconnect relay", f"{redact(wc.relay_url)} accepts the bot")]


async def _get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, object]:
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        async with http.get(url, headers=headers or {}) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = None
            return resp.status, body


async def check_discord(settings: Settings) -> list[Check]:
    if settings.discord_token is None:
        return [skip("discord", "off" if not settings.discord.enabled else "no GPUFLOW_DISCORD_TOKEN")]
    base = settings.discord.rest_base_url.rstrip("/")
    status, body = await _get_json(f"{base}/users/@me", {
        "Authorization": f"Bot {settings.discord_token.get_secret_value()}", "User-Agent": USER_AGENT})
    if status == 200 and isinstance(body, dict):
        return [ok("discord", f"{redact(base)} accepts the token: bot {body.get('username')} ({body.get('id')})")]
    if status == 401:
        return [fail("discord", f"{redact(base)} refuses GPUFLOW_DISCORD_TOKEN (401 Unauthorized): "
                                f"reset it in the Developer Portal")]
    return [fail("discord", f"{redact(base)} answered HTTP {status} to GET /users/@me")]


async def check_telegram(settings: Settings) -> list[Check]:
    if settings.telegram_token is None:
        return [skip("telegram", "off" if not settings.telegram.enabled else "no GPUFLOW_TELEGRAM_TOKEN")]
    base = settings.telegram.base_url
    status, body = await _get_json(f"{base}{settings.telegram_token.get_secret_value()}/getMe")
    if status == 200 and isinstance(body, dict) and body.get("ok"):
        me = body.get("result") or {}
        return [ok("telegram", f"{redact(base)} accepts the token: @{me.get('username')} ({me.get('id')})")]
    if status in (401, 404):
        return [fail("telegram", f"{redact(base)} refuses GPUFLOW_TELEGRAM_TOKEN ({status}): check it with @BotFather")]
    return [fail("telegram", f"{redact(base)} answered HTTP {status} to getMe")]
