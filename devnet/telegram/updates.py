"""Updates reach the bot as Telegram hands them over: getUpdates long polling, or a webhook.

getUpdates: an update is confirmed (and forgotten) once getUpdates is called with an offset above
its id; `timeout` seconds of long polling; a second concurrent poll ends the first with 409
"terminated by other getUpdates request"; no polling while a webhook is set (409).
Webhook: each update POSTed as JSON to the URL with `X-Telegram-Bot-Api-Secret-Token` when a
secret was set; anything but a 2xx answer is retried later, in order per chat. Like a
self-hosted Bot API server, plain http is accepted for loopback addresses only.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

import aiohttp

from .errors import ApiError, bad_request, refused

if TYPE_CHECKING:
    from .emulator import TelegramEmulator

DEFAULT_EXCLUDED = {"chat_member", "message_reaction", "message_reaction_count"}
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Webhook:
    """Delivers updates to the bot's HTTP endpoint, in order per chat, retrying failures."""

    def __init__(self, url: str, secret: str | None, max_connections: int, retry_delay: float) -> None:
        self.url, self.secret, self.retry_delay = url, secret, retry_delay
        self._limit = asyncio.Semaphore(max_connections)
        self._queues: dict[object, deque[dict[str, Any]]] = {}
        self._workers: dict[object, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.last_error: tuple[int, str] | None = None
        self.delivered = 0
        self.on_post: Callable[[dict[str, Any]], None] = lambda update: None

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [u for q in self._queues.values() for u in q]

    def enqueue(self, update: dict[str, Any]) -> None:
        key = _chat_key(update)
        self._queues.setdefault(key, deque()).append(update)
        if key not in self._workers or self._workers[key].done():
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key))

    async def _drain(self, key: object) -> None:
        queue = self._queues[key]
        delay = self.retry_delay
        while queue:
            async with self._limit:
                ok = await self._post(queue[0])
            if ok:
                queue.popleft()
                self.delivered += 1
                delay = self.retry_delay
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _post(self, update: dict[str, Any]) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret} if self.secret else {}
        try:
            self.on_post(update)
            async with self._session.post(self.url, json=update, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return True
                self.last_error = (int(time.time()), f"Wrong response from the webhook: {resp.status} {resp.reason}")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.last_error = (int(time.time()), f"Connection failed: {type(exc).__name__}")
        return False

    async def close(self) -> list[dict[str, Any]]:
        """Stop delivering; the undelivered updates, oldest first."""
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        return sorted(self.pending, key=lambda u: u["update_id"])


def _chat_key(update: dict[str, Any]) -> object:
    for kind, payload in update.items():
        if isinstance(payload, dict):
            chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
            if chat:
                return chat["id"]
    return None


class Updates:
    def __init__(self, emu: "TelegramEmulator") -> None:
        self.emu = emu
        self.pending: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.handed_over: dict[int, float] = {}    # update_id -> when the bot first received it
        self.allowed: list[str] | None = None
        self.webhook: Webhook | None = None
        self._next_id = 1
        self._cond = asyncio.Condition()
        self._generation = 0
        self._closing = False

    def build(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self.emu.self_check("Update", update)
        return update

    async def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update for the bot; None when its allowed_updates exclude the kind."""
        if (kind not in self.allowed) if self.allowed else (kind in DEFAULT_EXCLUDED):
            return None
        update = self.build(kind, payload)
        self.history.append(update)
        if self.webhook is not None:
            self.webhook.enqueue(update)
        else:
            async with self._cond:
                self.pending.append(update)
                self._cond.notify_all()
        return update

    async def get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                "deleteWebhook to delete the webhook first")
        if "allowed_updates" in p:
            self.allowed = list(p["allowed_updates"]) or None
        offset, limit = p.get("offset"), min(max(int(p.get("limit", 100)), 1), 100)
        if offset is not None and offset < 0:
            self.pending = self.pending[offset:]
        elif offset is not None:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        self._generation += 1
        mine = self._generation
        async with self._cond:
            self._cond.notify_all()                         # an older poll ends now
        deadline = time.monotonic() + max(0.0, float(p.get("timeout", 0)))
        async with self._cond:
            while True:
                if self._closing:
                    return []
                if mine != self._generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that "
                                        "only one bot instance is running")
                if self.pending or time.monotonic() >= deadline:
                    batch = self.pending[:limit]
                    stamp = time.monotonic()
                    for update in batch:
                        self.handed_over.setdefault(update["update_id"], stamp)
                    return batch
                try:
                    await asyncio.wait_for(self._cond.wait(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    pass

    async def set_webhook(self, p: dict[str, Any]) -> bool:
        url = p["url"]
        if not url:
            await self.delete_webhook(p)
            return True
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise refused("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters or is not 1-256 characters long")
        connections = int(p.get("max_connections", 40))
        if not 1 <= connections <= 100:
            raise bad_request("max_connections must be 1-100")
        if "allowed_updates" in p:
            self.allowed = list(p["allowed_updates"]) or None
        backlog = await self._detach()
        if p.get("drop_pending_updates"):
            backlog = []
        self.webhook = Webhook(url, secret, connections, self.emu.webhook_retry_delay)
        self.webhook.on_post = lambda u: self.handed_over.setdefault(u["update_id"], time.monotonic())
        for update in backlog:
            self.webhook.enqueue(update)
        return True

    async def delete_webhook(self, p: dict[str, Any]) -> bool:
        backlog = await self._detach()
        async with self._cond:
            self.pending = [] if p.get("drop_pending_updates") else sorted(
                self.pending + backlog, key=lambda u: u["update_id"])
            self._cond.notify_all()
        return True

    async def _detach(self) -> list[dict[str, Any]]:
        hook, self.webhook = self.webhook, None
        backlog = await hook.close() if hook else []
        backlog += self.pending
        self.pending = []
        return sorted(backlog, key=lambda u: u["update_id"])

    async def webhook_info(self, p: dict[str, Any]) -> dict[str, Any]:
        hook = self.webhook
        info: dict[str, Any] = {"url": hook.url if hook else "", "has_custom_certificate": False,
                                "pending_update_count": len(hook.pending) if hook else len(self.pending)}
        if hook and hook.last_error:
            info["last_error_date"], info["last_error_message"] = hook.last_error
        if self.allowed:
            info["allowed_updates"] = list(self.allowed)
        return info

    async def close(self) -> None:
        """End open long polls (they answer no updates) and stop webhook delivery."""
        async with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self.webhook is not None:
            await self.webhook.close()
