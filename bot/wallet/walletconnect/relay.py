"""A WebSocket JSON-RPC client for the WalletConnect relay (irn protocol).

Why its own reconnect logic: a relay restart or a network blip must not lose a pending wallet
request, so unanswered relay calls are re-sent and all topics re-subscribed in one
irn_batchSubscribe as soon as the socket is back.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .auth import ClientIdentity
from .errors import RelayError, RelayUnavailable

log = logging.getLogger(__name__)

DEFAULT_RELAY_URL = "wss://relay.walletconnect.org"
USER_AGENT = "wc-2/python-gpuflow-0.1/server"
_SEEN_LIMIT = 5000


@dataclass(frozen=True)
class RelayMessage:
    """One message pushed by the relay on a subscribed topic (still encrypted)."""

    topic: str
    message: str
    published_at: int | None = None
    tag: int | None = None


MessageHandler = Callable[[RelayMessage], Awaitable[None]]


def subscription_id(topic: str, client_id: str) -> str:
    """The id the relay gives a subscription, computed as the SDK does (sha256(topic + clientId))."""
    return hashlib.sha256((topic + client_id).encode()).hexdigest()


class RelayClient:
    """Keeps one connection to the relay alive and turns its traffic into RelayMessage callbacks."""

    def __init__(self, relay_url: str, identity: ClientIdentity, on_message: MessageHandler, *,
                 project_id: str | None = None, call_timeout: float = 20.0,
                 ping_interval: float = 20.0) -> None:
        if not relay_url.startswith(("wss://", "ws://")):
            raise ValueError("relay URL must start with wss:// or ws://")
        self.relay_url = relay_url
        self._identity = identity
        self._on_message = on_message
        self._project_id = project_id
        self._call_timeout = call_timeout
        self._ping_interval = ping_interval
        self._ids = itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))
        self._topics: set[str] = set()
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._runner: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[RelayMessage] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self.reconnects = 0

    # ---- life cycle -------------------------------------------------------------------------
    def _url(self) -> str:
        params = {"auth": self._identity.sign_jwt(self.relay_url), "ua": USER_AGENT}
        if self._project_id:
            params["projectId"] = self._project_id
        sep = "&" if "?" in self.relay_url else "?"
        return self.relay_url + sep + urlencode(params)

    async def start(self, timeout: float = 15.0, *, require_connection: bool = False) -> None:
        """Start connecting and wait up to `timeout` for the first connection.

        If the relay is down the client keeps retrying in the background (calls wait for it), so a
        relay outage does not stop the bot from starting; `require_connection` raises instead.
        """
        self._closed = False
        self._consumer = asyncio.create_task(self._consume())
        self._runner = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            if require_connection:
                await self.close()
                raise RelayUnavailable("the WalletConnect relay could not be reached") from None
            log.warning("the WalletConnect relay is not reachable yet; retrying in the background")

    async def close(self) -> None:
        self._closed = True
        for task in (self._runner, self._consumer):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RelayUnavailable("the relay client was closed"))
        self._pending.clear()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while not self._closed:
            try:
                async with connect(self._url(), ping_interval=self._ping_interval, ping_timeout=20,
                                   open_timeout=10, max_size=2**22) as ws:
                    self._ws = ws
                    delay = 0.1
                    if not first:
                        self.reconnects += 1
                        log.info("relay reconnected")
                    first = False
                    self._connected.set()
                    self._after_connect(ws)
                    async for raw in ws:
                        await self._handle_frame(ws, raw)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.info("relay connection lost: %s", type(exc).__name__)
            finally:
                self._connected.clear()
                self._ws = None
            if self._closed:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _after_connect(self, ws: ClientConnection) -> None:
        """Re-subscribe every topic and re-send every unanswered call on the new socket."""
        if self._topics:
            asyncio.create_task(self._resubscribe(sorted(self._topics)))
        for req_id, (frame, _) in list(self._pending.items()):
            asyncio.create_task(self._send_quietly(ws, frame))

    async def _resubscribe(self, topics: list[str]) -> None:
        try:
            for start in range(0, len(topics), 500):
                await self.call("irn_batchSubscribe", {"topics": topics[start:start + 500]})
        except (RelayError, RelayUnavailable) as exc:
            log.warning("batch re-subscribe failed: %s", exc)

    @staticmethod
    async def _send_quietly(ws: ClientConnection, frame: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    # ---- incoming ---------------------------------------------------------------------------
    async def _handle_frame(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            payload = json.loads(raw)
        except ValueError:
            log.warning("relay sent a frame that is not JSON")
            return
        if not isinstance(payload, dict):
            return
        if "method" in payload:
            if str(payload["method"]).endswith("_subscription"):
                await self._send_quietly(ws, json.dumps({"id": payload.get("id"), "jsonrpc": "2.0", "result": True}))
                data = (payload.get("params") or {}).get("data") or {}
                if isinstance(data.get("topic"), str) and isinstance(data.get("message"), str):
                    self._inbox.put_nowait(RelayMessage(data["topic"], data["message"],
                                                        data.get("publishedAt"), data.get("tag")))
            return
        entry = self._pending.pop(payload.get("id"), None) if isinstance(payload.get("id"), int) else None
        if entry is None:
            return
        _, fut = entry
        if fut.done():
            return
        if "error" in payload:
            err = payload["error"] or {}
            log.warning("relay refused a call: %s %s", err.get("code"), str(err.get("message"))[:200])
            fut.set_exception(RelayError(f"the WalletConnect relay refused the message (code {err.get('code')})",
                                         err.get("code")))
        else:
            fut.set_result(payload.get("result"))

    async def _consume(self) -> None:
        """Hand messages to the owner one at a time and in order, dropping exact replays."""
        while True:
            msg = await self._inbox.get()
            key = hashlib.sha256((msg.topic + msg.message).encode()).hexdigest()
            if key in self._seen:
                continue
            self._seen[key] = None
            if len(self._seen) > _SEEN_LIMIT:
                self._seen.popitem(last=False)
            try:
                await self._on_message(msg)
            except Exception:  # a bad message must not stop the client
                log.exception("handling a relay message failed")

    # ---- outgoing ---------------------------------------------------------------------------
    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """One JSON-RPC call; survives reconnects until `call_timeout`."""
        req_id = next(self._ids)
        frame = json.dumps({"id": req_id, "jsonrpc": "2.0", "method": method, "params": params})
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (frame, fut)
        try:
            ws = self._ws
            if ws is not None and self.connected:
                await self._send_quietly(ws, frame)
            return await asyncio.wait_for(fut, self._call_timeout)
        except TimeoutError:
            raise RelayUnavailable("the WalletConnect relay did not answer in time") from None
        finally:
            self._pending.pop(req_id, None)

    async def subscribe(self, topic: str) -> str:
        self._topics.add(topic)
        result = await self.call("irn_subscribe", {"topic": topic})
        return str(result)

    def track(self, topic: str) -> None:
        """Remember a topic the relay subscribed us to implicitly (wc_proposeSession)."""
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        with contextlib.suppress(RelayError, RelayUnavailable):
            await self.call("irn_unsubscribe",
                            {"topic": topic, "id": subscription_id(topic, self._identity.client_id)})

    async def publish(self, topic: str, message: str, *, ttl: int, tag: int, prompt: bool = False,
                      correlation_id: int | None = None) -> None:
        params: dict[str, Any] = {"topic": topic, "message": message, "ttl": ttl, "tag": tag, "prompt": prompt}
        if correlation_id is not None:
            params["correlationId"] = correlation_id
        await self.call("irn_publish", params)
