"""A loopback WalletConnect relay for the tests and the demo (irn JSON-RPC over websockets).

It does what the public relay does for one pairing: checks the EdDSA JWT (signature, expiry,
not-before with its own clock, audience = its URL, the project id when given a list) and refuses a
bad one as the public relay does, by accepting the socket and closing it with code 3000 and an
"Authorization error: ..." reason; keeps every published message in a mailbox for its TTL and
replays it to subscribers that have not acknowledged it (a wallet may publish before the bot
subscribes), subscribes the sender implicitly on wc_proposeSession / wc_approveSession, and pings
every client well under the SDK's 35 s dead-connection timeout. Its mailbox survives `restart()`,
like the real relay's.

Faults for the tests: `fail_next(method)` refuses the next call(s) of a method with a JSON-RPC
error, `clock_skew_s` moves the relay's clock (a skewed clock refuses valid JWTs),
`close_all(code, reason)` drops every client with a close code; `connections`, `refusals` and
`closes` record what happened.
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

    JWT_LEEWAY_S = 60      # how far in the future a token's iat may be (clock drift)

    def __init__(self, port: int | None = None, ping_interval: float = 15.0, *,
                 project_ids: set[str] | None = None, clock_skew_s: float = 0.0,
                 refuse_with: str = "close") -> None:
        self.port = port or free_port()
        self.ping_interval = ping_interval
        self.project_ids = project_ids          # None: any (or no) project id is accepted
        self.clock_skew_s = clock_skew_s
        self.refuse_with = refuse_with          # "close": 3000 after the upgrade; "http": 401 in the handshake
        self.connections = 0                    # websocket handshakes seen, refused ones included
        self.refusals: list[str] = []
        self.closes: list[tuple[str, int | None, str]] = []   # (client_id, close code, reason) as clients leave
        self._failures: dict[str, list[dict[str, Any]]] = {}
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

    def fail_next(self, method: str, times: int = 1, code: int = -32000,
                  message: str = "Internal error, try again", client_id: str | None = None) -> None:
        """Answer the next `times` calls of `method` (from `client_id`, or anyone) with this JSON-RPC
        error, and do nothing else."""
        key = f"{method}@{client_id}" if client_id else method
        self._failures.setdefault(key, []).extend({"code": code, "message": message} for _ in range(times))

    async def close_all(self, code: int = 1001, reason: str = "") -> None:
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.conn.close(code, reason)

    def now(self) -> float:
        return time.time() + self.clock_skew_s

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
    def _auth_problem(self, query: dict[str, list[str]]) -> tuple[str | None, str]:
        """(None, client_id) for a good token, else (the public relay's kind of reason, "")."""
        if self.project_ids is not None:
            project = (query.get("projectId") or [""])[0]
            if not project:
                return "Authorization error: Project ID is missing", ""
            if project not in self.project_ids:
                return "Authorization error: Project ID not found", ""
        try:
            payload = verify_jwt((query.get("auth") or [""])[0])
        except Exception:  # noqa: BLE001 - any unreadable or forged token
            return "Authorization error: JWT validation error: Invalid signature", ""
        now = self.now()
        if payload.get("exp", 0) < now:
            return f"Authorization error: JWT validation error: JWT Token is expired: Some({payload.get('exp')})", ""
        if payload.get("iat", 0) > now + self.JWT_LEEWAY_S:
            return "Authorization error: JWT validation error: JWT Token is not yet valid", ""
        if payload.get("aud") != self.url:
            return "Authorization error: JWT validation error: Invalid audience", ""
        return None, payload["iss"]

    def _check_auth(self, conn: ServerConnection, request: Request) -> Response | None:
        self.connections += 1
        problem, client_id = self._auth_problem(parse_qs(urlparse(request.path).query))
        conn.client_id = client_id  # type: ignore[attr-defined]
        conn.auth_problem = problem  # type: ignore[attr-defined]
        if problem is not None:
            self.refusals.append(problem)
            if self.refuse_with == "http":
                return Response(401, "Unauthorized", Headers({"Content-Length": "0"}), b"")
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        if conn.auth_problem is not None:  # type: ignore[attr-defined]
            await conn.close(3000, conn.auth_problem)  # type: ignore[attr-defined]
            return
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
            self.closes.append((client.client_id, conn.close_code, conn.close_reason or ""))
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
        for key in (f"{method}@{client.client_id}", method):
            if self._failures.get(key):
                await self._reply(client, req_id, error=self._failures[key].pop(0))
                return
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
