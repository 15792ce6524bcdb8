"""A WebSocket JSON-RPC client for the WalletConnect relay (irn protocol).

Why its own reconnect logic: a relay restart or a network blip must not lose a pending wallet
request, so unanswered relay calls are re-sent and all topics re-subscribed in one
irn_batchSubscribe as soon as the socket is back, and again until the relay accepts them (a
refused batch would leave the bot connected but deaf). An auth refusal is reported as the
configuration error it is, with a slow backoff (reconnect.py).
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
from .reconnect import AUTH_CLOSE_CODE, Backoff, close_of, is_auth_refusal

log = logging.getLogger(__name__)

DEFAULT_RELAY_URL = "wss://relay.walletconnect.org"
USER_AGENT = "wc-2/python-gpuflow-0.1/server"
_SEEN_LIMIT = 5000
REFUSED_FOR_USERS = ("the WalletConnect relay refuses this bot right now (a configuration problem; the operator's "
                     "log says which)")


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
                 ping_interval: float = 20.0, retry_interval: float = 5.0) -> None:
        if not relay_url.startswith(("wss://", "ws://")):
            raise ValueError("relay URL must start with wss:// or ws://")
        self.relay_url = relay_url
        self._identity = identity
        self._on_message = on_message
        self._project_id = project_id
        self._call_timeout = call_timeout
        self._ping_interval = ping_interval
        self._retry_interval = retry_interval     # the SDK's heartbeat: failed subscriptions retry on it
        self._ids = itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))
        self._topics: set[str] = set()
        self._unconfirmed: set[str] = set()       # topics the relay has not confirmed on this socket
        self._wake_subscriber = asyncio.Event()
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._healthy = False                     # the relay answered on the current socket
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: asyncio.Queue[RelayMessage] = asyncio.Queue()
        self.backoff = Backoff()
        self.reconnects = 0
        self.refused: tuple[int, str] | None = None   # the last attempt's auth refusal (code, reason), until the next open

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
        self._tasks = [asyncio.create_task(self._consume()), asyncio.create_task(self._run()),
                       asyncio.create_task(self._keep_subscribed())]
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.connected and not (require_connection and self.refused):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), min(left, 0.1))
        if not self.connected:
            if require_connection:
                refused = self.refused
                await self.close()
                raise RelayUnavailable(self.refusal_text(refused) if refused else
                                       "the WalletConnect relay could not be reached") from None
            if self.refused is None:
                log.warning("the WalletConnect relay is not reachable yet; retrying in the background")

    async def close(self) -> None:
        """Close the socket with 1000 (a normal close) first, then stop the background work."""
        self._closed = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close(1000, "client closing")
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RelayUnavailable("the relay client was closed"))
        self._pending.clear()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def _run(self) -> None:
        first = True
        while not self._closed:
            exc: BaseException | None = None
            opened = False
            ws_close: tuple[int | None, str | None] = (None, None)
            try:
                async with connect(self._url(), ping_interval=self._ping_interval, ping_timeout=20,
                                   open_timeout=10, max_size=2**22) as ws:
                    # open is not accepted (an auth refusal closes right after), so only `refused` is
                    # cleared here; the backoff restarts once the relay has answered (_mark_healthy)
                    opened, self._ws, self._healthy, self.refused = True, ws, False, None
                    if not first:
                        self.reconnects += 1
                        log.info("relay reconnected")
                    first = False
                    self._connected.set()
                    self._after_connect(ws)
                    async for raw in ws:
                        await self._handle_frame(ws, raw)
                    ws_close = (ws.close_code, ws.close_reason)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as err:
                exc = err
            finally:
                self._connected.clear()
                self._ws = None
            if self._closed:
                break
            await asyncio.sleep(self._after_disconnect(exc, opened, *ws_close))

    def _after_disconnect(self, exc: BaseException | None, opened: bool, ws_code: int | None,
                          ws_reason: str | None) -> float:
        """Log how the connection ended and choose the wait before the next attempt."""
        code, reason = close_of(exc, ws_code, ws_reason)
        reason = reason[:200]
        if is_auth_refusal(code, handshake=not opened):
            assert code is not None
            self.refused = (code, reason)
            delay = self.backoff.next_delay(auth_refused=True)
            log.error("%s; retrying in %.0f s", self.refusal_text(self.refused), delay)
            for _, fut in self._pending.values():     # no answer can come: say so now
                if not fut.done():
                    fut.set_exception(RelayUnavailable(REFUSED_FOR_USERS))
            return delay
        if self._healthy:
            self.backoff.reset()
        delay = self.backoff.next_delay(auth_refused=False)
        what = f"closed (code {code}{': ' + reason if reason else ''})" if isinstance(code, int) else \
            f"lost ({reason})"
        log.info("relay connection %s; reconnecting in %.1f s", what, delay)
        return delay

    @staticmethod
    def refusal_text(refused: tuple[int, str]) -> str:
        code, reason = refused
        how = f"close code {code}" if code == AUTH_CLOSE_CODE else f"HTTP {code}"
        return (f"the WalletConnect relay refuses this bot's credentials ({how}: {reason or 'no reason given'}). "
                "This is a configuration problem, not an outage: check walletconnect.project_id, that this "
                "machine's clock is right (the relay checks the auth token's times), and walletconnect.relay_url")

    def _after_connect(self, ws: ClientConnection) -> None:
        """Re-subscribe every topic and re-send every unanswered call on the new socket."""
        self._unconfirmed = set(self._topics)
        self._wake_subscriber.set()
        for req_id, (frame, _) in list(self._pending.items()):
            asyncio.create_task(self._send_quietly(ws, frame))

    async def _keep_subscribed(self) -> None:
        """Subscribe what the relay has not confirmed, in batches of 500; a refused or unanswered
        batch stays queued and is tried again every `retry_interval` (as the SDK's heartbeat does)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_subscriber.wait(), self._retry_interval)
            self._wake_subscriber.clear()
            while self.connected and self._unconfirmed:
                batch = sorted(self._unconfirmed)[:500]
                try:
                    await self.call("irn_batchSubscribe", {"topics": batch})
                except (RelayError, RelayUnavailable) as exc:
                    log.warning("re-subscribing %d topic(s) failed (%s); retrying in %.0f s", len(batch), exc,
                                self._retry_interval)
                    break
                self._unconfirmed.difference_update(batch)

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
                self._mark_healthy()
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
            self._mark_healthy()
            fut.set_result(payload.get("result"))

    def _mark_healthy(self) -> None:
        if not self._healthy:
            self._healthy = True
            self.backoff.reset()

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
        if self.refused is not None and not self.connected:   # fail at once: no answer can come
            raise RelayUnavailable(REFUSED_FOR_USERS)
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

    async def subscribe(self, topic: str) -> str | None:
        """Subscribe now; if the relay refuses or does not answer, keep trying in the background
        (returns None then) so a session topic is never left deaf."""
        self._topics.add(topic)
        try:
            return str(await self.call("irn_subscribe", {"topic": topic}))
        except (RelayError, RelayUnavailable) as exc:
            log.warning("subscribing to a topic failed (%s); retrying in %.0f s", exc, self._retry_interval)
            self._unconfirmed.add(topic)
            return None

    def track(self, topic: str) -> None:
        """Remember a topic the relay subscribed us to implicitly (wc_proposeSession)."""
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        self._unconfirmed.discard(topic)
        with contextlib.suppress(RelayError, RelayUnavailable):
            await self.call("irn_unsubscribe",
                            {"topic": topic, "id": subscription_id(topic, self._identity.client_id)})

    async def publish(self, topic: str, message: str, *, ttl: int, tag: int, prompt: bool = False,
                      correlation_id: int | None = None) -> None:
        params: dict[str, Any] = {"topic": topic, "message": message, "ttl": ttl, "tag": tag, "prompt": prompt}
        if correlation_id is not None:
            params["correlationId"] = correlation_id
        await self.call("irn_publish", params)
