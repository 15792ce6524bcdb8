"""The gateway half of the emulator: a websocket speaking Discord's gateway protocol (v10, JSON,
plain-text frames: discord.py reads text frames as JSON whatever compression it asked for).

HELLO → IDENTIFY (token, intents; privileged intents refused with 4014 unless allowed; shard
[id, count]) → READY (session id, `resume_gateway_url`, user, application id and flags) and one
GUILD_CREATE per guild of the shard. Heartbeats are ACKed; REQUEST_GUILD_MEMBERS is answered
with GUILD_MEMBERS_CHUNK. Every dispatch gets the session's next sequence number and is kept, so
after a dropped connection a RESUME (on the resume URL) replays what the client missed, then
RESUMED; an unknown session gets INVALID_SESSION (false).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from devnet.discord import payloads

if TYPE_CHECKING:
    from devnet.discord.emulator import DiscordEmulator

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT, REQUEST_MEMBERS = 0, 1, 2, 3, 6, 7, 8
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
GUILDS, GUILD_MEMBERS, GUILD_PRESENCES, GUILD_MESSAGES = 1 << 0, 1 << 1, 1 << 8, 1 << 9
DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 12, 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
BACKLOG = 5000
# A heartbeat ACK after a network-like delay: discord.py stamps a heartbeat as sent only after its
# send completes, so an instant loopback ACK would be measured against the previous beat.
ACK_DELAY_S = 0.01


@dataclass
class Session:
    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    backlog: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    writer: asyncio.Task[None] | None = None

    def covers(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id


class Gateway:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.heartbeat_interval_ms = 41_250
        self.allowed_intents = 0                 # privileged intents enabled in the "developer portal"
        self.sessions: dict[str, Session] = {}
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.frames_in: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()

    # -- the websocket ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                                      "s": None, "t": None}))
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Decode error")
                    break
                self.frames_in.append(frame)
                if op == HEARTBEAT:
                    self.heartbeats += 1
                    asyncio.get_running_loop().call_later(ACK_DELAY_S, self._ack, ws)
                elif op == IDENTIFY and session is None:
                    session = await self._identify(ws, frame.get("d") or {})
                elif op == RESUME and session is None:
                    session = await self._resume(ws, frame.get("d") or {})
                elif op == REQUEST_MEMBERS and session is not None:
                    self._members_chunk(session, frame.get("d") or {})
                elif op == PRESENCE:
                    pass
                elif op in (IDENTIFY, RESUME):
                    await ws.close(code=4005, message=b"Already authenticated")
                    break
                else:
                    await ws.close(code=4001, message=b"Unknown opcode")
                    break
                if ws.closed:
                    break
        finally:
            if session is not None and session.ws is ws:
                self._detach(session)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        if data.get("token") != self.emu.state.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int):
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        if intents & PRIVILEGED & ~self.allowed_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = tuple(data.get("shard") or (0, 1))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        self.identifies += 1
        session = Session(secrets.token_hex(16), (int(shard[0]), int(shard[1])), intents)
        self.sessions[session.id] = session
        self._attach(session, ws)
        state = self.emu.state
        guilds = [g for g in state.guilds.values() if session.covers(g.id)]
        self._send(session, "READY", {
            "v": 10, "user": payloads.user(state.bot), "session_id": session.id, "session_type": "normal",
            "resume_gateway_url": self.emu.resume_gateway_url, "shard": list(session.shard),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "application": {"id": str(state.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "presences": [], "user_settings": {},
            "geo_ordered_rtc_regions": [], "auth": {}, "_trace": ["[\"gpuflow-devnet\"]"],
        })
        with_members = bool(intents & GUILD_MEMBERS)
        for guild in guilds:
            self._send(session, "GUILD_CREATE", payloads.gateway_guild(state, guild, with_members=with_members))
        self.ready.set()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.emu.state.token:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        if session.ws is not None:            # the old socket is still open: it loses
            old = session.ws
            self._detach(session)
            await old.close(code=4000)
        self.resumes += 1
        last = int(data.get("seq") or 0)
        self._attach(session, ws)
        for frame in session.backlog:
            if frame["s"] > last:
                session.queue.put_nowait(frame)
        self._send(session, "RESUMED", {"_trace": ["[\"gpuflow-devnet\"]"]})
        self.resumed.set()
        return session

    def _members_chunk(self, session: Session, data: dict[str, Any]) -> None:
        state = self.emu.state
        guild = state.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for m in guild.members.values() if not wanted or m.user_id in wanted]
        if not wanted and not session.intents & GUILD_MEMBERS:
            members = []
        chunk: dict[str, Any] = {"guild_id": str(guild.id), "members": [payloads.member(state, m) for m in members],
                                 "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._send(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _ack(self, ws: web.WebSocketResponse) -> None:
        if not ws.closed:
            asyncio.ensure_future(ws.send_str(json.dumps({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})))

    # -- sending ------------------------------------------------------------------------------
    def _attach(self, session: Session, ws: web.WebSocketResponse) -> None:
        session.ws = ws
        session.queue = asyncio.Queue()
        session.writer = asyncio.get_running_loop().create_task(self._write(session, ws))

    def _detach(self, session: Session) -> None:
        session.ws = None
        if session.writer is not None:
            session.writer.cancel()
            session.writer = None

    async def _write(self, session: Session, ws: web.WebSocketResponse) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                frame = await session.queue.get()
                await ws.send_str(json.dumps(frame))
                if frame["t"] == "INTERACTION_CREATE":
                    self.emu.interaction_sent(int(frame["d"]["id"]))

    def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        del session.backlog[:-BACKLOG]
        if session.ws is not None:
            session.queue.put_nowait(frame)

    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None, intent: int = 0) -> int:
        """Send an event to every session covering the guild (and subscribed); returns how many."""
        sent = 0
        for session in self.sessions.values():
            if session.covers(guild_id) and (not intent or session.intents & intent):
                self._send(session, event, data)
                sent += 1
        return sent

    # -- faults -------------------------------------------------------------------------------
    async def drop(self, code: int = 4000, *, forget: bool = False) -> None:
        """Close every connection as a failing gateway node would; sessions stay resumable
        unless `forget` (then the RESUME gets INVALID_SESSION and the client identifies again)."""
        for session in list(self.sessions.values()):
            ws = session.ws
            if forget:
                del self.sessions[session.id]
            if ws is not None:
                self._detach(session)
                self.resumed.clear()
                await ws.close(code=code, message=b"Unknown error")

    async def request_reconnect(self) -> None:
        """Op 7 RECONNECT: the client closes and resumes by itself."""
        for session in self.sessions.values():
            if session.ws is not None:
                self.resumed.clear()
                await session.ws.send_str(json.dumps({"op": RECONNECT, "d": None, "s": None, "t": None}))

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            ws = session.ws
            self._detach(session)
            if ws is not None:
                await ws.close(code=1001)

    @property
    def connected(self) -> bool:
        return any(s.ws is not None for s in self.sessions.values())
