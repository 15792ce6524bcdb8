"""A loopback WalletConnect relay for the tests and the demo (irn JSON-RPC over websockets).

It does what the public relay does for one pairing: checks the EdDSA JWT, keeps every published
message in a mailbox for its TTL and replays it to subscribers that have not acknowledged it
(a wallet may publish before the bot subscribes), subscribes the sender implicitly on
wc_proposeSession / wc_approveSession, and pings every client well under the SDK's 35 s
dead-connection timeout. Its mailbox survives `restart()`, like the real relay's.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from bot.wallet.walletconnect.auth import verify_jwt
from devnet.anvil import free_port


@dataclass
class Stored:
    topic: str
    message: str
    tag: int | None
    published_at: int
    expires_at: float
    sender: str
    acked_by: set[str] = field(default_factory=set)


@dataclass
class Client:
    conn: ServerConnection
    client_id: str
    topics: set[str] = field(default_factory=set)
    sent: dict[int, Stored] = field(default_factory=dict)


class LoopbackRelay:
    """Start with `await relay.start()`; `relay.url` is what both sides connect to."""

    def __init__(self, port: int | None = None, ping_interval: float = 15.0) -> None:
        self.port = port or free_port()
        self.ping_interval = ping_interval
        self.mailbox: list[Stored] = []
        self.clients: list[Client] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []   # (client_id, method, params)
        self._server: Server | None = None
        self._ids = itertools.count(int(time.time() * 1000) * 1000)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", self.port, process_request=self._check_auth,
                                   ping_interval=self.ping_interval, ping_timeout=20)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.clients.clear()

    async def restart(self, downtime: float = 0.3) -> None:
        """Drop every connection and subscription; keep the mailbox."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start()

    def methods_called(self, method: str) -> list[tuple[str, dict[str, Any]]]:
        return [(cid, params) for cid, m, params in self.calls if m == method]

    async def inject(self, topic: str, message: str, tag: int = 1108, *, force: bool = False) -> None:
        """Publish as a foreign client would (for tampering tests); `force` pushes it to every client,
        subscribed or not, as a faulty or hostile relay might."""
        if not force:
            await self._publish("did:key:foreign", topic, message, 300, tag)
            return
        stored = Stored(topic, message, tag, int(time.time() * 1000), time.time() + 300, "did:key:foreign")
        for client in list(self.clients):
            await self._deliver(client, stored)

    # ---- connection handling ----------------------------------------------------------------
    @staticmethod
    def _check_auth(conn: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlparse(request.path).query)
        try:
            payload = verify_jwt(query["auth"][0])
            if payload["exp"] < time.time():
                raise ValueError("expired")
        except Exception:  # any bad token is refused, like the real relay
            return Response(401, "Unauthorized", Headers({"Content-Length": "0"}), b"")
        conn.client_id = payload["iss"]  # type: ignore[attr-defined]
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        client = Client(conn, conn.client_id)  # type: ignore[attr-defined]
        self.clients.append(client)
        try:
            async for raw in conn:
                payload = json.loads(raw)
                if "method" in payload:
                    await self._on_request(client, payload)
                elif "result" in payload and payload.get("id") in client.sent:
                    client.sent.pop(payload["id"]).acked_by.add(client.client_id)
        except Exception:  # a client dropping is normal
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)

    async def _reply(self, client: Client, req_id: Any, result: Any = None, error: dict | None = None) -> None:
        body: dict[str, Any] = {"id": req_id, "jsonrpc": "2.0"}
        body.update({"error": error} if error else {"result": result})
        with contextlib.suppress(Exception):
            await client.conn.send(json.dumps(body))

    async def _on_request(self, client: Client, payload: dict[str, Any]) -> None:
        method, params, req_id = payload["method"], payload.get("params") or {}, payload.get("id")
        self.calls.append((client.client_id, method, params))
        if method == "irn_subscribe":
            await self._reply(client, req_id, self._sub_id(client, params["topic"]))
            await self._subscribe(client, params["topic"])
        elif method == "irn_batchSubscribe":
            await self._reply(client, req_id, [self._sub_id(client, t) for t in params["topics"]])
            for topic in params["topics"]:
                await self._subscribe(client, topic)
        elif method in ("irn_unsubscribe", "irn_batchUnsubscribe"):
            for topic in [params.get("topic")] + [s.get("topic") for s in params.get("subscriptions", [])]:
                client.topics.discard(topic)
            await self._reply(client, req_id, True)
        elif method == "irn_publish":
            await self._reply(client, req_id, True)
            await self._publish(client.client_id, params["topic"], params["message"], params["ttl"], params.get("tag"))
        elif method == "wc_proposeSession":
            await self._reply(client, req_id, True)
            client.topics.add(params["pairingTopic"])
            await self._publish(client.client_id, params["pairingTopic"], params["sessionProposal"],
                                params.get("ttl", 300), 1100)
        elif method == "wc_approveSession":
            await self._reply(client, req_id, True)
            client.topics.add(params["sessionTopic"])
            await self._publish(client.client_id, params["pairingTopic"], params["sessionProposalResponse"],
                                params.get("ttl", 300), 1101)
            await self._publish(client.client_id, params["sessionTopic"], params["sessionSettlementRequest"],
                                params.get("ttl", 300), 1102)
        elif method == "irn_batchFetchMessages":
            await self._reply(client, req_id, {"messages": [], "hasMore": False})
        else:
            await self._reply(client, req_id, error={"code": -32601, "message": f"unknown method {method}"})

    @staticmethod
    def _sub_id(client: Client, topic: str) -> str:
        return hashlib.sha256((topic + client.client_id).encode()).hexdigest()

    # ---- mailbox ----------------------------------------------------------------------------
    async def _subscribe(self, client: Client, topic: str) -> None:
        client.topics.add(topic)
        now = time.time()
        self.mailbox = [m for m in self.mailbox if m.expires_at > now]
        for stored in self.mailbox:
            if stored.topic == topic and stored.sender != client.client_id and client.client_id not in stored.acked_by:
                await self._deliver(client, stored)

    async def _publish(self, sender: str, topic: str, message: str, ttl: int, tag: int | None) -> None:
        stored = Stored(topic, message, tag, int(time.time() * 1000), time.time() + ttl, sender)
        self.mailbox.append(stored)
        for client in list(self.clients):
            if topic in client.topics and client.client_id != sender:
                await self._deliver(client, stored)

    async def _deliver(self, client: Client, stored: Stored) -> None:
        push_id = next(self._ids)
        client.sent[push_id] = stored
        frame = {"id": push_id, "jsonrpc": "2.0", "method": "irn_subscription",
                 "params": {"id": self._sub_id(client, stored.topic),
                            "data": {"topic": stored.topic, "message": stored.message,
                                     "publishedAt": stored.published_at, "tag": stored.tag}}}
        with contextlib.suppress(Exception):
            await client.conn.send(json.dumps(frame))
