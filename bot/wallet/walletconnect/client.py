"""The dApp side of the WalletConnect v2 Sign API: propose, settle, request, delete.

Why hand-written: no maintained Python dApp-side client exists. Wire format and life cycle follow
@walletconnect/sign-client 2.25 (see tests/wallet for the interop tests against @reown/walletkit, run by devnet/wallet.mjs).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from . import crypto
from .auth import ClientIdentity
from .errors import (ClientClosing, ProposalExpired, RequestExpired, SessionGone, UnsupportedRequest, WalletConnectError,
                     wallet_error)
from .pending import Context, Outgoing, PendingSession, Proposal, Resumed
from .pending import restore as restore_pending
from .relay import DEFAULT_RELAY_URL, RelayClient, RelayMessage
from .session import Session
from .store import SessionStore
from .uri import PairingUri
from .wire import RES, SDK_UNSAFE_NUMBER, chain_ref, dumps, payload_ids, respond

log = logging.getLogger(__name__)

PROPOSAL_TTL = 300
SESSION_REQUEST_MAX_EXPIRY = 7 * 24 * 3600
DEFAULT_METHODS = ("personal_sign", "eth_sendTransaction", "eth_signTypedData_v4")
DEFAULT_EVENTS = ("chainChanged", "accountsChanged")
_IDENTITY_KEY = "client"
_SESSION_PREFIX = "session:"

SessionDeletedCallback = Callable[[Session, str], Awaitable[None] | None]


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
        self._proposals_by_pairing: dict[str, Proposal] = {}
        self._proposals_by_session: dict[str, Proposal] = {}
        self._outgoing: dict[int, Outgoing] = {}
        self._ids = payload_ids()
        self._relay: RelayClient | None = None
        self.identity: ClientIdentity | None = None
        self.resumed: list[Resumed] = []

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
        restored = restore_pending(records, self.sessions)
        for key in restored.stale_keys:
            await self._store.delete(key)
        for prop in restored.proposals:   # before connecting: the relay's mailbox replays the wallet's answer
            self._watch_proposal(prop)
            self._relay.track(prop.pairing.topic)
        for out in restored.requests:
            self._track_request(out)
        self.resumed = restored.resumed
        for topic in [*self.sessions, *self._proposals_by_session]:
            self._relay.track(topic)  # batch-subscribed on every (re)connection, the first included
        await self._relay.start(timeout=connect_timeout, require_connection=require_relay)

    def take_resumed(self) -> list[Resumed]:
        """Proposals and requests stored by an earlier run, each once: the caller resumes its flows
        (or tells the person, for the `lapsed` ones)."""
        resumed, self.resumed = self.resumed, []
        return resumed

    async def close(self) -> None:
        """Stop; stored proposals and requests stay stored, to be resumed by the next start()."""
        closing = ClientClosing("the bot is restarting; if it does not come back, ask again in a minute")
        for prop in list(self._proposals_by_pairing.values()):
            self._drop_proposal(prop, closing, forget=False)
        for out in list(self._outgoing.values()):
            if not out.future.done():
                out.future.set_exception(closing)
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
                      events: Sequence[str] = DEFAULT_EVENTS, *, context: Context | None = None) -> PendingSession:
        """Propose a session; show `uri` to the user (QR / deep link), then await `approval`.

        With a `context` the proposal is stored (sealed) until it is settled or lapses, and a
        restarted client resumes it (see `resumed`)."""
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
        prop = Proposal(id=proposal_id, pairing=pairing, keys=keys, approval=approval, params=params, context=context)
        self._watch_proposal(prop)
        if context is not None:
            await self._store.save(prop.key, prop.to_record())
        payload = {"id": proposal_id, "jsonrpc": "2.0", "method": "wc_sessionPropose", "params": params}
        message = crypto.encrypt(sym_key, dumps(payload))
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

    def _watch_proposal(self, prop: Proposal) -> None:
        """Route its messages to it, and drop it when it lapses."""
        self._proposals_by_pairing[prop.pairing.topic] = prop
        if prop.session_topic:
            self._proposals_by_session[prop.session_topic] = prop
        prop.timer = asyncio.get_running_loop().call_later(
            max(prop.pairing.expiry_timestamp - time.time(), 0), self._drop_proposal, prop,
            ProposalExpired("the wallet link expired before it was used; ask for a new one"))

    def _drop_proposal(self, prop: Proposal, error: WalletConnectError | None, *, forget: bool = True) -> None:
        if prop.timer:
            prop.timer.cancel()
        if forget and prop.context is not None:
            asyncio.ensure_future(self._store.delete(prop.key))
        self._proposals_by_pairing.pop(prop.pairing.topic, None)
        if prop.session_topic:
            self._proposals_by_session.pop(prop.session_topic, None)
        if error is not None and not prop.approval.done():
            prop.approval.set_exception(error)
            prop.approval.exception()  # mark retrieved: a caller may have given up on it
        if self._relay is not None and forget:
            topics = [prop.pairing.topic] + ([prop.session_topic] if prop.session_topic and error else [])
            for topic in topics:
                asyncio.ensure_future(self._relay.unsubscribe(topic))

    async def _on_pairing_message(self, prop: Proposal, payload: dict[str, Any]) -> None:
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
        if prop.context is not None:   # the settlement may come after a restart: keep the session key
            await self._store.save(prop.key, prop.to_record())
        await self.relay.subscribe(prop.session_topic)

    async def _on_settle(self, prop: Proposal, payload: dict[str, Any]) -> None:
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
                      expiry: int = 300, *, context: Context | None = None) -> Any:
        """Send a JSON-RPC request to the wallet and wait for the user's answer (up to `expiry` s).

        With a `context` the request is stored (sealed) until answered or expired, and a restarted
        client still takes the wallet's answer (see `resumed`)."""
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
        if SDK_UNSAFE_NUMBER.search(dumps(payload)):
            raise ValueError("wallets built on the WalletConnect JS SDK drop requests containing integers of "
                             "17+ digits; pass big numbers as hex or decimal strings")
        out = Outgoing(session.topic, method, asyncio.get_running_loop().create_future(), id=req_id,
                       expiry_ts=expiry_ts, context=context)
        if context is not None:
            await self._store.save(out.key, out.to_record())
        self._track_request(out, expiry)
        try:
            await self._publish(session, payload, tag=1108, ttl=max(expiry, 300), prompt=True)
        except WalletConnectError as exc:   # it never reached the wallet
            if not out.future.done():
                out.future.set_exception(exc)
        # shielded: a caller cancelled (the bot stopping) leaves the request stored for the next start
        return await asyncio.shield(out.future)

    def _track_request(self, out: Outgoing, wait_s: float | None = None) -> None:
        """Match the wallet's answer to it, expire it on time, and forget it once it is decided."""
        self._outgoing[out.id] = out
        wait_s = max(out.seconds_left(), 0) if wait_s is None else wait_s
        timer = asyncio.get_running_loop().call_later(wait_s, self._expire, out)

        def done(fut: asyncio.Future[Any]) -> None:
            timer.cancel()
            if self._outgoing.get(out.id) is out:
                del self._outgoing[out.id]
            closing = not fut.cancelled() and isinstance(fut.exception(), ClientClosing)
            if out.context is not None and not closing:
                asyncio.ensure_future(self._store.delete(out.key))

        out.future.add_done_callback(done)

    @staticmethod
    def _expire(out: Outgoing) -> None:
        if not out.future.done():
            out.future.set_exception(RequestExpired("the request expired before you answered it in your wallet"))

    async def ping(self, session: Session | str, timeout: float = 30.0) -> None:
        session = self._live_session(session)
        out = Outgoing(session.topic, "wc_sessionPing", asyncio.get_running_loop().create_future(), id=next(self._ids))
        self._track_request(out, timeout)
        await self._publish(session, {"id": out.id, "jsonrpc": "2.0", "method": "wc_sessionPing", "params": {}},
                            tag=1114, ttl=30)
        try:
            await out.future
        except RequestExpired:
            raise RequestExpired("your wallet did not answer the ping") from None

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
        if method not in RES:
            await self._respond_error(session.topic, session.sym_key, payload["id"],
                                      {"code": -32601, "message": "method not found"}, "wc_sessionRequest")
            return
        if session.apply_wallet_change(method, params):
            await self._persist(session)
        await self._respond(session.topic, session.sym_key, payload["id"], True, method)

    # ---- plumbing -----------------------------------------------------------------------------
    async def _persist(self, session: Session) -> None:
        await self._store.save(_SESSION_PREFIX + session.topic, session.to_record())

    async def _publish(self, session: Session, payload: dict[str, Any], *, tag: int, ttl: int,
                       prompt: bool = False) -> None:
        message = crypto.encrypt(session.sym_key, dumps(payload))
        await self.relay.publish(session.topic, message, ttl=ttl, tag=tag, prompt=prompt, correlation_id=payload["id"])

    async def _respond(self, topic: str, key: bytes, req_id: int, result: Any, method: str) -> None:
        await respond(self.relay, topic, key, req_id, method, result=result)

    async def _respond_error(self, topic: str, key: bytes, req_id: int, error: dict[str, Any], method: str) -> None:
        await respond(self.relay, topic, key, req_id, method, error=error)
