"""What is still waiting for the wallet: proposals (a pairing URI not yet approved) and requests
(sent, not yet answered), and their sealed records, so both survive a restart of the bot.

Why: a person may take minutes to scan a QR code or confirm a payment. If the bot restarts
meanwhile, the wallet still answers, and the relay keeps that answer in its mailbox for the
message's TTL; with the proposal's keys and the request's id restored, the answer is understood
and the caller's flow goes on (see SignClient.resumed). Only items started with a `context` are
stored: the context says which flow to resume, and is the caller's (JSON-able) business.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import crypto
from .errors import ProposalExpired, RequestExpired, SessionGone
from .session import Session
from .uri import PairingUri

PROPOSAL_PREFIX = "proposal:"
REQUEST_PREFIX = "request:"
Context = dict[str, Any]


@dataclass
class PendingSession:
    """What connect() gives back: the URI to show, and the session once the wallet approves.

    Unpacks as a tuple too: `uri, approval = await client.connect(...)`.
    """

    uri: str
    pairing_topic: str
    approval: asyncio.Future[Session]
    expiry: int

    def __iter__(self) -> Iterator[Any]:
        return iter((self.uri, self.approval))

    def __repr__(self) -> str:
        return f"PendingSession(pairing_topic={self.pairing_topic[:12]}…, expiry={self.expiry})"


@dataclass
class Proposal:
    id: int
    pairing: PairingUri
    keys: crypto.KeyPair
    approval: asyncio.Future[Session]
    params: dict[str, Any]
    context: Context | None = None
    session_topic: str | None = None
    session_key: bytes | None = None
    timer: asyncio.TimerHandle | None = None

    @property
    def key(self) -> str:
        return PROPOSAL_PREFIX + self.pairing.topic

    def to_record(self) -> dict[str, Any]:
        return {"v": 1, "id": self.id, "pairing_key": self.pairing.sym_key.hex(), "expiry": self.pairing.expiry_timestamp,
                "private_key": self.keys.private_key.hex(), "public_key": self.keys.public_key.hex(),
                "params": self.params, "context": self.context, "session_key": (self.session_key or b"").hex()}

    @classmethod
    def from_record(cls, rec: dict[str, Any], approval: asyncio.Future[Session]) -> "Proposal":
        sym_key = bytes.fromhex(rec["pairing_key"])
        session_key = bytes.fromhex(rec.get("session_key") or "") or None
        return cls(id=int(rec["id"]), approval=approval, params=rec["params"], context=rec.get("context"),
                   pairing=PairingUri(topic=crypto.topic_for(sym_key), sym_key=sym_key,
                                      expiry_timestamp=int(rec["expiry"])),
                   keys=crypto.KeyPair(bytes.fromhex(rec["private_key"]), bytes.fromhex(rec["public_key"])),
                   session_key=session_key, session_topic=crypto.topic_for(session_key) if session_key else None)


@dataclass
class Outgoing:
    topic: str
    method: str
    future: asyncio.Future[Any] = field(repr=False)
    id: int = 0
    expiry_ts: int = 0                 # when the request lapses (requests only)
    context: Context | None = None

    @property
    def key(self) -> str:
        return REQUEST_PREFIX + str(self.id)

    def to_record(self) -> dict[str, Any]:
        return {"v": 1, "id": self.id, "topic": self.topic, "method": self.method, "expiry": self.expiry_ts,
                "context": self.context}

    @classmethod
    def from_record(cls, rec: dict[str, Any], future: asyncio.Future[Any]) -> "Outgoing":
        return cls(topic=rec["topic"], method=rec["method"], future=future, id=int(rec["id"]),
                   expiry_ts=int(rec["expiry"]), context=rec.get("context"))

    def seconds_left(self, now: float | None = None) -> float:
        return self.expiry_ts - (time.time() if now is None else now)


@dataclass(frozen=True)
class Resumed:
    """A stored proposal or request found at start. `outcome` resolves as the original call's
    would have (a Session, or the wallet's result / error); `lapsed` items expired while the bot
    was down (outcome then fails with ProposalExpired / RequestExpired)."""

    kind: str                          # "proposal" | "request"
    context: Context
    outcome: asyncio.Future[Any]
    lapsed: bool = False
    topic: str = ""                    # the request's session topic


@dataclass
class Restored:
    proposals: list[Proposal] = field(default_factory=list)
    requests: list[Outgoing] = field(default_factory=list)
    resumed: list[Resumed] = field(default_factory=list)
    stale_keys: list[str] = field(default_factory=list)     # lapsed records, to delete


def restore(records: dict[str, dict[str, Any]], sessions: dict[str, Session], now: float | None = None) -> Restored:
    """Proposals and requests from the store: live ones to watch again, lapsed ones to report."""
    now = time.time() if now is None else now
    loop = asyncio.get_running_loop()
    out = Restored()

    def lapsed(kind: str, key: str, rec: dict[str, Any], error: Exception) -> None:
        fut: asyncio.Future[Any] = loop.create_future()
        fut.set_exception(error)
        out.stale_keys.append(key)
        out.resumed.append(Resumed(kind, rec.get("context") or {}, fut, lapsed=True, topic=rec.get("topic", "")))

    for key, rec in records.items():
        if key.startswith(PROPOSAL_PREFIX):
            if int(rec["expiry"]) <= now:
                lapsed("proposal", key, rec, ProposalExpired("the wallet link expired while the bot was restarting"))
                continue
            prop = Proposal.from_record(rec, loop.create_future())
            out.proposals.append(prop)
            out.resumed.append(Resumed("proposal", prop.context or {}, prop.approval))
        elif key.startswith(REQUEST_PREFIX):
            if rec["topic"] not in sessions:
                lapsed("request", key, rec, SessionGone("the wallet session ended while the bot was restarting"))
            elif int(rec["expiry"]) <= now:
                lapsed("request", key, rec, RequestExpired("the request to your wallet expired while the bot "
                                                           "was restarting"))
            else:
                request = Outgoing.from_record(rec, loop.create_future())
                out.requests.append(request)
                out.resumed.append(Resumed("request", request.context or {}, request.future, topic=request.topic))
    return out
