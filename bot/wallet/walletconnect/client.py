"""The dApp side of the WalletConnect v2 Sign API: propose, settle, request, delete.

Why hand-written: no maintained Python dApp-side client exists. Wire format and life cycle follow
@walletconnect/sign-client 2.25 (see tests/wallet for the interop tests against @reown/walletkit, run by devnet/wallet.mjs).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import crypto
from .auth import ClientIdentity
from .errors import ProposalExpired, RequestExpired, SessionGone, UnsupportedRequest, WalletConnectError, wallet_error
from .relay import DEFAULT_RELAY_URL, RelayClient, RelayMessage
from .session import Session
from .store import SessionStore
from .uri import PairingUri

log = logging.getLogger(__name__)

PROPOSAL_TTL = 300
SESSION_REQUEST_MAX_EXPIRY = 7 * 24 * 3600
# (tag, ttl) for requests we send and responses we give, from ENGINE_RPC_OPTS in sign-client.
_REQ = {"wc_sessionRequest": (1108, 900), "wc_sessionDelete": (1112, 86400), "wc_sessionPing": (1114, 86400)}
_RES = {"wc_sessionSettle": (1103, 300), "wc_sessionUpdate": (1105, 86400), "wc_sessionExtend": (1107, 86400),
        "wc_sessionRequest": (1109, 900), "wc_sessionEvent": (1111, 300), "wc_sessionDelete": (1113, 86400),
        "wc_sessionPing": (1115, 86400), "wc_pairingDelete": (1001, 86400), "wc_pairingPing": (1003, 30)}
DEFAULT_METHODS = ("personal_sign", "eth_sendTransaction", "eth_signTypedData_v4")
DEFAULT_EVENTS = ("chainChanged", "accountsChanged")
_IDENTITY_KEY = "client"
# The JS SDK's safeJsonParse quotes every run of 17+ digits followed by , } or ] -- even inside
# strings -- before JSON.parse, which corrupts the payload and the wallet drops it silently.
_SDK_UNSAFE_NUMBER = re.compile(r"\d{17,}[,}\]]")
_SESSION_PREFIX = "session:"

SessionDeletedCallback = Callable[[Session, str], Awaitable[None] | None]


def _payload_ids() -> Iterator[int]:
    """JSON-RPC ids like payloadId() in the SDK: milliseconds * 1000 + 3 random digits, increasing."""
    return itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))


def _dumps(payload: Any) -> str:
    """Compact JSON, as JSON.stringify writes it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def chain_ref(chain: int | str) -> str:
    """CAIP-2 id: 31337 -> 'eip155:31337'."""
    text = str(chain)
    return text if ":" in text else f"eip155:{int(text)}"


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
class _Proposal:
    id: int
    pairing: PairingUri
    keys: crypto.KeyPair
    approval: asyncio.Future[Session]
    params: dict[str, Any]
    session_topic: str | None = None
    session_key: bytes | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Outgoing:
    topic: str
    method: str
    future: asyncio.Future[Any] = field(repr=False)


class SignClient:
    """An async WalletConnect v2 dApp client; one per bot process.

    Call `start()` once (restores persisted sessions and connects), then `connect()`,
    `request()` and `disconnect()`; `close()` at shutdown.
    """

    def __init__(self, store: SessionStore, *, metadata: dict[str, Any], project_id: str | None = None,
                 relay_url: str = DEFAULT_RELAY_URL, on_session_deleted: SessionDeletedCallback | None = None,
                 proposal_ttl: int = PROPOSAL_TTL, relay_call_timeout: float = 20.0,
                 relay_retry_s: float = 5.0) -> None:
        if relay_url == DEFAULT_RELAY_URL and not project_id:
            log.warning("the public WalletConnect relay refuses clients without a Reown project id")
        self._store = store
        self.metadata = {"name": metadata.get("name", "gpuflow"), "description": metadata.get("description", ""),
                         "url": metadata.get("url", "https://example.org"), "icons": list(metadata.get("icons", []))}
        self._project_id = project_id
        self._relay_url = relay_url
        self._on_session_deleted = on_session_deleted
        self._proposal_ttl = proposal_ttl
        self._relay_call_timeout = relay_call_timeout
        self._relay_retry_s = relay_retry_s
        self.sessions: dict[str, Session] = {}
        self._proposals_by_pairing: dict[str, _Proposal] = {}
        self._proposals_by_session: dict[str, _Proposal] = {}
        self._outgoing: dict[int, _Outgoing] = {}
        self._ids = _payload_ids()
        self._relay: RelayClient | None = None
        self.identity: ClientIdentity | None = None

    # ---- life cycle -------------------------------------------------------------------------
    async def start(self, *, connect_timeout: float = 15.0, require_relay: bool = False) -> None:
        """Load the identity and sessions, then connect (see RelayClient.start for a relay outage)."""
        records = await self._store.load_all()
        ident = records.get(_IDENTITY_KEY)
        if ident:
            self.identity = ClientIdentity(bytes.fromhex(ident["seed"]))
        else:
            self.identity = ClientIdentity.generate()
            await self._store.save(_IDENTITY_KEY, {"seed": self.identity.seed.hex()})
        for key, rec in records.items():
            if key.startswith(_SESSION_PREFIX):
                session = Session.from_record(rec)
                if session.expired():
                    await self._store.delete(key)
                else:
                    self.sessions[session.topic] = session
        self._relay = RelayClient(self._relay_url, self.identity, self._on_message, project_id=self._project_id,
                                  call_timeout=self._relay_call_timeout, retry_interval=self._relay_retry_s)
        for topic in self.sessions:
            self._relay.track(topic)  # batch-subscribed on every (re)connection, the first included
        await self._relay.start(timeout=connect_timeout, require_connection=require_relay)

    async def close(self) -> None:
        for prop in list(self._proposals_by_pairing.values()):
            self._drop_proposal(prop, ProposalExpired("the bot is shutting down; try again in a minute"))
        for out in self._outgoing.values():
            if not out.future.done():
                out.future.set_exception(SessionGone("the bot is shutting down; try again in a minute"))
        if self._relay:
            await self._relay.close()

    @property
    def relay(self) -> RelayClient:
        if self._relay is None:
            raise RuntimeError("SignClient.start() was not called")
        return self._relay

    def get_session(self, topic: str) -> Session:
        session = self.sessions.get(topic)
        if session is None:
            raise SessionGone("this wallet session no longer exists; link your wallet again with /wallet link")
        return session

    # ---- pairing and proposal ---------------------------------------------------------------
    async def connect(self, chains: Sequence[int | str], methods: Sequence[str] = DEFAULT_METHODS,
                      events: Sequence[str] = DEFAULT_EVENTS) -> PendingSession:
        """Propose a session; show `uri` to the user (QR / deep link), then await `approval`."""
        sym_key = crypto.generate_sym_key()
        expiry = int(time.time()) + self._proposal_ttl
        pairing = PairingUri(topic=crypto.topic_for(sym_key), sym_key=sym_key, expiry_timestamp=expiry)
        keys = crypto.generate_key_pair()
        proposal_id = next(self._ids)
        params = {
            "requiredNamespaces": {},
            "optionalNamespaces": {"eip155": {"chains": [chain_ref(c) for c in chains], "methods": list(methods),
                                              "events": list(events)}},
            "relays": [{"protocol": "irn"}],
            "proposer": {"publicKey": keys.public_hex, "metadata": self.metadata},
            "expiryTimestamp": expiry,
            "pairingTopic": pairing.topic,
            "id": proposal_id,
        }
        approval: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        prop = _Proposal(id=proposal_id, pairing=pairing, keys=keys, approval=approval, params=params)
        self._proposals_by_pairing[pairing.topic] = prop
        prop.timer = asyncio.get_running_loop().call_later(
            self._proposal_ttl, self._drop_proposal, prop,
            ProposalExpired("the wallet link expired before it was used; ask for a new one"))
        payload = {"id": proposal_id, "jsonrpc": "2.0", "method": "wc_sessionPropose", "params": params}
        message = crypto.encrypt(sym_key, _dumps(payload))
        # The current SDK publishes proposals with wc_proposeSession; the relay subscribes us to the
        # pairing topic implicitly, so the topic is only tracked for re-subscription after reconnects.
        self.relay.track(pairing.topic)
        try:
            await self.relay.call("wc_proposeSession", {"pairingTopic": pairing.topic, "sessionProposal": message,
                                                        "ttl": self._proposal_ttl, "correlationId": proposal_id})
        except BaseException:
            self._drop_proposal(prop, None)
            raise
        return PendingSession(uri=pairing.format(), pairing_topic=pairing.topic, approval=approval, expiry=expiry)

    def _drop_proposal(self, prop: _Proposal, error: WalletConnectError | None) -> None:
        if prop.timer:
            prop.timer.cancel()
        self._proposals_by_pairing.pop(prop.pairing.topic, None)
        if prop.session_topic:
            self._proposals_by_session.pop(prop.session_topic, None)
        if error is not None and not prop.approval.done():
            prop.approval.set_exception(error)
            prop.approval.exception()  # mark retrieved: a caller may have given up on it
        if self._relay is not None:
            topics = [prop.pairing.topic] + ([prop.session_topic] if prop.session_topic and error else [])
            for topic in topics:
                asyncio.ensure_future(self._relay.unsubscribe(topic))

    async def _on_pairing_message(self, prop: _Proposal, payload: dict[str, Any]) -> None:
        if "method" in payload:  # wc_pairingPing / wc_pairingDelete from the wallet
            method = payload["method"]
            if method in ("wc_pairingPing", "wc_pairingDelete"):
                await self._respond(prop.pairing.topic, prop.pairing.sym_key, payload["id"], True, method)
            return
        if payload.get("id") != prop.id or prop.session_topic:
            return
        if "error" in payload:
            self._drop_proposal(prop, wallet_error(payload["error"], what="session"))
            return
        result = payload.get("result") or {}
        peer_key = bytes.fromhex(result["responderPublicKey"])
        prop.session_key = crypto.derive_sym_key(prop.keys.private_key, peer_key)
        prop.session_topic = crypto.topic_for(prop.session_key)
        self._proposals_by_session[prop.session_topic] = prop
        await self.relay.subscribe(prop.session_topic)

    async def _on_settle(self, prop: _Proposal, payload: dict[str, Any]) -> None:
        assert prop.session_topic and prop.session_key
        params = payload.get("params") or {}
        namespaces = params.get("namespaces") or {}
        if not namespaces.get("eip155", {}).get("accounts") and not any(
                ns.get("accounts") for ns in namespaces.values()):
            await self._respond_error(prop.session_topic, prop.session_key, payload["id"],
                                      {"code": 5103, "message": "no accounts"}, "wc_sessionSettle")
            self._drop_proposal(prop, UnsupportedRequest("your wallet shared no Ethereum account"))
            return
        session = Session(topic=prop.session_topic, sym_key=prop.session_key,
                          peer_public_key=params.get("controller", {}).get("publicKey", ""),
                          peer_metadata=params.get("controller", {}).get("metadata", {}),
                          namespaces=namespaces, expiry=int(params.get("expiry", time.time() + 7 * 86400)),
                          pairing_topic=prop.pairing.topic)
        self.sessions[session.topic] = session
        await self._persist(session)
        await self._respond(session.topic, session.sym_key, payload["id"], True, "wc_sessionSettle")
        prop.session_topic, topic = None, prop.session_topic  # keep the session topic subscribed
        self._proposals_by_session.pop(topic, None)
        self._drop_proposal(prop, None)
        if not prop.approval.done():
            prop.approval.set_result(session)

    # ---- requests ---------------------------------------------------------------------------
    async def request(self, session: Session | str, chain_id: int | str, method: str, params: Any,
                      expiry: int = 300) -> Any:
        """Send a JSON-RPC request to the wallet and wait for the user's answer (up to `expiry` s)."""
        if not 1 <= expiry <= SESSION_REQUEST_MAX_EXPIRY:
            raise ValueError("expiry must be between 1 s and 7 days")
        session = self._live_session(session)
        chain = chain_ref(chain_id)
        if chain not in session.chains:
            raise UnsupportedRequest(f"your wallet did not connect {chain}; link it again on that network")
        allowed = session.methods(chain)
        if allowed and method not in allowed:
            raise UnsupportedRequest(f"your wallet did not allow {method} for this bot")
        req_id = next(self._ids)
        expiry_ts = int(time.time()) + expiry
        payload = {"id": req_id, "jsonrpc": "2.0", "method": "wc_sessionRequest",
                   "params": {"request": {"method": method, "params": params, "expiryTimestamp": expiry_ts},
                              "chainId": chain}}
        if _SDK_UNSAFE_NUMBER.search(_dumps(payload)):
            raise ValueError("wallets built on the WalletConnect JS SDK drop requests containing integers of "
                             "17+ digits; pass big numbers as hex or decimal strings")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outgoing[req_id] = _Outgoing(session.topic, method, fut)
        try:
            await self._publish(session, payload, tag=1108, ttl=max(expiry, 300), prompt=True)
            return await asyncio.wait_for(fut, expiry)
        except TimeoutError:
            raise RequestExpired("the request expired before you answered it in your wallet") from None
        finally:
            self._outgoing.pop(req_id, None)

    async def ping(self, session: Session | str, timeout: float = 30.0) -> None:
        session = self._live_session(session)
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outgoing[req_id] = _Outgoing(session.topic, "wc_sessionPing", fut)
        try:
            await self._publish(session, {"id": req_id, "jsonrpc": "2.0", "method": "wc_sessionPing", "params": {}},
                                tag=1114, ttl=30)
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise RequestExpired("your wallet did not answer the ping") from None
        finally:
            self._outgoing.pop(req_id, None)

    async def disconnect(self, session: Session | str, message: str = "User disconnected.") -> None:
        """End the session on both sides (best effort towards the wallet)."""
        topic = session.topic if isinstance(session, Session) else session
        live = self.sessions.get(topic)
        if live is None:
            return
        payload = {"id": next(self._ids), "jsonrpc": "2.0", "method": "wc_sessionDelete",
                   "params": {"code": 6000, "message": message}}
        with contextlib.suppress(WalletConnectError):
            await self._publish(live, payload, tag=1112, ttl=86400)
        await self._forget(live, "disconnected by the bot", notify=False)

    def _live_session(self, session: Session | str) -> Session:
        live = self.get_session(session.topic if isinstance(session, Session) else session)
        if live.expired():
            asyncio.ensure_future(self._forget(live, "expired"))
            raise SessionGone("your wallet session expired; link your wallet again with /wallet link")
        return live

    async def _forget(self, session: Session, reason: str, notify: bool = True) -> None:
        if self.sessions.pop(session.topic, None) is None:
            return
        await self._store.delete(_SESSION_PREFIX + session.topic)
        for out in self._outgoing.values():
            if out.topic == session.topic and not out.future.done():
                out.future.set_exception(SessionGone(
                    "your wallet ended the session; link it again with /wallet link"
                    if reason == "deleted by the wallet" else f"the wallet session ended ({reason})"))
        if self._relay:
            await self._relay.unsubscribe(session.topic)
        if notify and self._on_session_deleted:
            result = self._on_session_deleted(session, reason)
            if asyncio.iscoroutine(result):
                await result

    # ---- incoming ---------------------------------------------------------------------------
    async def _on_message(self, msg: RelayMessage) -> None:
        short = msg.topic[:8]
        prop = self._proposals_by_pairing.get(msg.topic)
        settle = self._proposals_by_session.get(msg.topic)
        session = self.sessions.get(msg.topic)
        key = prop.pairing.sym_key if prop else settle.session_key if settle else session.sym_key if session else None
        if key is None:
            log.warning("ignoring a message on unknown topic %s…", short)
            return
        try:
            payload = json.loads(crypto.decrypt(key, msg.message))
        except (crypto.EnvelopeError, ValueError) as exc:
            log.warning("ignoring an envelope on topic %s… that did not open: %s", short, exc)
            return
        if not isinstance(payload, dict) or "id" not in payload:
            log.warning("ignoring a malformed JSON-RPC payload on topic %s…", short)
            return
        if prop:
            await self._on_pairing_message(prop, payload)
        elif settle and payload.get("method") == "wc_sessionSettle":
            await self._on_settle(settle, payload)
        elif session:
            await self._on_session_message(session, payload)

    async def _on_session_message(self, session: Session, payload: dict[str, Any]) -> None:
        method = payload.get("method")
        if method is None:  # a response to one of ours
            out = self._outgoing.get(payload["id"])
            if out is None or out.topic != session.topic or out.future.done():
                return
            if "error" in payload:
                out.future.set_exception(wallet_error(payload["error"]))
            else:
                out.future.set_result(payload.get("result"))
            return
        params = payload.get("params") or {}
        if method == "wc_sessionDelete":
            await self._respond(session.topic, session.sym_key, payload["id"], True, method)
            await self._forget(session, "deleted by the wallet")
            return
        if method == "wc_sessionUpdate" and isinstance(params.get("namespaces"), dict):
            session.namespaces = params["namespaces"]
            await self._persist(session)
        elif method == "wc_sessionExtend" and isinstance(params.get("expiry"), int):
            session.expiry = params["expiry"]
            await self._persist(session)
        elif method == "wc_sessionEvent":
            event = params.get("event") or {}
            if event.get("name") == "chainChanged":
                session.last_chain = chain_ref(event.get("data")) if event.get("data") is not None else params.get("chainId")
                await self._persist(session)
        elif method not in _RES:
            await self._respond_error(session.topic, session.sym_key, payload["id"],
                                      {"code": -32601, "message": "method not found"}, "wc_sessionRequest")
            return
        await self._respond(session.topic, session.sym_key, payload["id"], True, method)

    # ---- plumbing -----------------------------------------------------------------------------
    async def _persist(self, session: Session) -> None:
        await self._store.save(_SESSION_PREFIX + session.topic, session.to_record())

    async def _publish(self, session: Session, payload: dict[str, Any], *, tag: int, ttl: int,
                       prompt: bool = False) -> None:
        message = crypto.encrypt(session.sym_key, _dumps(payload))
        await self.relay.publish(session.topic, message, ttl=ttl, tag=tag, prompt=prompt, correlation_id=payload["id"])

    async def _respond(self, topic: str, key: bytes, req_id: int, result: Any, method: str) -> None:
        tag, ttl = _RES.get(method, (1109, 300))
        message = crypto.encrypt(key, _dumps({"id": req_id, "jsonrpc": "2.0", "result": result}))
        await self.relay.publish(topic, message, ttl=ttl, tag=tag, correlation_id=req_id)

    async def _respond_error(self, topic: str, key: bytes, req_id: int, error: dict[str, Any], method: str) -> None:
        tag, ttl = _RES.get(method, (1109, 300))
        message = crypto.encrypt(key, _dumps({"id": req_id, "jsonrpc": "2.0", "error": error}))
        await self.relay.publish(topic, message, ttl=ttl, tag=tag, correlation_id=req_id)
