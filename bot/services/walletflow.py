"""WalletConnect conversations that outlive one chat command.

A command answers at once (a QR code and links, or "check your wallet"); the rest — waiting for
the wallet to approve, asking it to sign or send, checking the answer — runs in the background
and reports through the outbox as a direct message, also across a restart of the bot. The chain
watcher, not the wallet's answer, decides whether money moved.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Awaitable, Callable

from sqlalchemy import delete, select

from bot.chain.escrow import UnsignedTx
from bot.db.models import KeyValue
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.errors import NotAvailableYet, UserError
from bot.services.context import Actor, ServiceContext
from bot.services.quoting import DepositQuotes
from bot.services.wallets import WalletService
from bot.wallet.links import WalletLink, qr_png, wallet_links
from bot.wallet.mismatch import explain_mismatch
from bot.wallet.walletconnect.client import SignClient
from bot.wallet.walletconnect.errors import ClientClosing, WalletConnectError
from bot.wallet.walletconnect.pending import Resumed
from bot.wallet.walletconnect.session import Session

log = logging.getLogger(__name__)
LINK_METHODS = ["personal_sign", "eth_sendTransaction"]
SEND_EXPIRY_S = 900          # how long a payment request waits in the wallet
REVERT_WATCH_S = 300.0       # how long a sent deposit is watched for a revert worth explaining


class DbBackend:
    """WalletConnect's key-value records in the store (sealed by SealedStore before they get here)."""

    def __init__(self, ctx: ServiceContext, namespace: str = "walletconnect") -> None:
        self.ctx = ctx
        self.namespace = namespace

    async def items(self) -> dict[str, str]:
        async with self.ctx.sessions() as session:
            rows = (await session.scalars(select(KeyValue).where(KeyValue.namespace == self.namespace))).all()
            return {r.key: r.value for r in rows}

    async def put(self, key: str, value: str) -> None:
        async with self.ctx.sessions.begin() as session:
            row = await session.get(KeyValue, (self.namespace, key))
            if row is None:
                session.add(KeyValue(namespace=self.namespace, key=key, value=value))
            else:
                row.value = value

    async def remove(self, key: str) -> None:
        async with self.ctx.sessions.begin() as session:
            await session.execute(delete(KeyValue).where(KeyValue.namespace == self.namespace, KeyValue.key == key))


@dataclass(frozen=True)
class LinkOffer:
    uri: str
    qr_png: bytes
    links: list[WalletLink]


class WalletBridge:
    """Owns the bot's one SignClient; every flow ends in a DM, never in an unhandled error.

    Each step that waits for the wallet is stored with the SignClient (sealed) with a context
    naming its flow, so a restart of the bot resumes it when the wallet answers, or tells the
    person plainly that it lapsed and what to do (see `_resume`)."""

    def __init__(self, ctx: ServiceContext, client: SignClient, spawn: Callable[[Awaitable[None]], object]) -> None:
        self.ctx = ctx
        self.client = client
        self.spawn = spawn
        self.wallets = WalletService(ctx)
        for item in client.take_resumed():   # what an earlier run left waiting for the wallet
            spawn(self._resume(item))

    # ---- linking: propose a session, then ask for a SIWE signature over it ---------------------
    async def start_link(self, actor: Actor) -> LinkOffer:
        try:
            pending = await self.client.connect([self.ctx.settings.chain.chain_id], LINK_METHODS,
                                                context={"flow": "link", "actor": _who(actor)})
        except WalletConnectError as exc:
            raise NotAvailableYet(f"WalletConnect is not available right now ({_plain(exc)}); "
                                  f"you can link by signature instead: /wallet link <your address>") from None
        self.spawn(self._guard_link(actor, lambda: self._finish_link(actor, pending.approval)))
        return LinkOffer(uri=pending.uri, qr_png=qr_png(pending.uri), links=wallet_links(pending.uri))

    async def _finish_link(self, actor: Actor, approval: Awaitable[Session]) -> None:
        chain_id = self.ctx.settings.chain.chain_id
        session = await approval
        problem = explain_mismatch(session.accounts, chain_id)
        if problem:
            await self._dm(actor, f"Wallet not linked: {problem}.", "link-mismatch")
            return
        address = next(a.split(":")[2] for a in session.accounts if a.split(":")[1] == str(chain_id))
        challenge = await self.wallets.challenge(actor, address)
        signature = self.client.request(session, chain_id, "personal_sign", [_hex(challenge.message), address],
                                        context={"flow": "link-sign", "actor": _who(actor)})
        await self._finish_sign_in(actor, session.topic, signature)

    async def _finish_sign_in(self, actor: Actor, topic: str, signature: Awaitable[str]) -> None:
        linked = await self.wallets.verify(actor, await signature, session_topic=topic)
        await self._dm(actor, f"Wallet {linked} is linked. Deposits come from it and refunds go back to it.",
                       "linked")

    async def _guard_link(self, actor: Actor, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except ClientClosing:      # the bot is stopping: the next start resumes this flow
            return
        except (WalletConnectError, UserError) as exc:
            await self._dm(actor, f"Wallet not linked: {_plain(exc)}", "link-failed")
        except Exception:
            log.exception("wallet link failed")
            await self._dm(actor, "Wallet not linked: something went wrong on our side; try /wallet link again.",
                           "link-failed")

    # ---- payments: ask the wallet to send transactions, in order -------------------------------
    async def send(self, actor: Actor, txs: list[UnsignedTx], what: str, key: str,
                   deposit_of: int | None = None) -> bool:
        """Ask the person's wallet to send `txs` in order; False when they have no live session.
        `deposit_of`: the rental whose deposit this is, so that a failure (the wallet's refusal, or a
        transaction mined but reverted) is explained with what to do now (an expired quote: /pay)."""
        topic = await self.wallets.session_of(actor.user_id)
        if topic is None or topic not in self.client.sessions:
            return False
        self.spawn(self._send(actor, topic, txs, what, key, deposit_of))
        return True

    async def _send(self, actor: Actor, topic: str, txs: list[UnsignedTx], what: str, key: str,
                    deposit_of: int | None = None) -> None:
        address = await self.wallets.linked_address(actor)
        session = self.client.sessions.get(topic)
        problem = session and explain_mismatch(session.accounts, self.ctx.settings.chain.chain_id, address)
        if problem:
            await self._dm(actor, f"{what}: {problem}.", f"{key}:mismatch")
            return
        await self._guard_send(actor, what, key, lambda: self._send_from(actor, topic, address, txs, what, key,
                                                                         deposit_of=deposit_of), deposit_of)

    async def _send_from(self, actor: Actor, topic: str, address: str | None, txs: list[UnsignedTx], what: str,
                         key: str, answered: Awaitable[object] | None = None, deposit_of: int | None = None) -> None:
        """Send `txs` one after the other (after `answered`, the wallet's answer to the one before)."""
        tx_hash = await answered if answered is not None else None
        for i, tx in enumerate(txs):
            context = {"flow": "send", "actor": _who(actor), "what": what, "key": key, "address": address,
                       "rest": txs[i + 1:], "deposit_of": deposit_of}
            tx_hash = await self.client.request(
                topic, tx["chainId"], "eth_sendTransaction",
                [{"from": address, "to": tx["to"], "data": tx["data"], "value": hex(tx["value"])}],
                expiry=SEND_EXPIRY_S, context=context)
        await self._dm(actor, f"{what}: your wallet sent it; the bot will confirm once the chain does.", f"{key}:sent")
        if deposit_of is not None and isinstance(tx_hash, str):
            await self._report_revert(actor, tx_hash, what, key, deposit_of)

    async def _report_revert(self, actor: Actor, tx_hash: str, what: str, key: str, rental_id: int) -> None:
        """A wallet may send what the contract then refuses (a quote that expired meanwhile): say so."""
        from bot.chain.rpc import wait_for_receipt

        if self.ctx.escrow is None:
            return
        try:
            receipt = await wait_for_receipt(self.ctx.escrow.w3, tx_hash, timeout_s=REVERT_WATCH_S, poll_s=1.0)
        except Exception:  # noqa: BLE001 - not mined yet or RPC trouble: the watcher still decides
            return
        if receipt["status"] != 1:
            explained = await DepositQuotes(self.ctx).explain_failure(rental_id, "reverted")
            await self._dm(actor, f"{what}: {explained}", f"{key}:reverted")

    async def _guard_send(self, actor: Actor, what: str, key: str, work: Callable[[], Awaitable[None]],
                          deposit_of: int | None = None) -> None:
        try:
            await work()
        except ClientClosing:
            return
        except WalletConnectError as exc:
            text = _plain(exc)
            if deposit_of is not None:      # the wallet's own words may name the escrow's error
                text = await DepositQuotes(self.ctx).explain_failure(deposit_of, f"{text} {exc.detail}")
            await self._dm(actor, f"{what}: {text}", f"{key}:failed")
        except Exception:
            log.exception("wallet request failed")
            await self._dm(actor, f"{what}: something went wrong on our side; nothing was sent by the bot. "
                                  f"Try again.", f"{key}:failed")

    # ---- after a restart ------------------------------------------------------------------------
    async def _resume(self, item: Resumed) -> None:
        """Go on with a flow an earlier run left waiting for the wallet, or say it lapsed."""
        context = item.context
        flow, actor = context.get("flow"), _actor(context.get("actor") or {})
        if actor is None:
            log.warning("dropping a stored wallet request without a person (%s)", flow)
            return
        if flow in ("link", "link-sign") and item.lapsed:
            await self._lapsed_link(actor, item.outcome)
        elif flow == "link":
            await self._guard_link(actor, lambda: self._finish_link(actor, item.outcome))
        elif flow == "link-sign":
            await self._guard_link(actor, lambda: self._finish_sign_in(actor, item.topic, item.outcome))
        elif flow == "send" and item.lapsed:
            await self._lapsed_send(actor, context, item.outcome)
        elif flow == "send":
            deposit_of = context.get("deposit_of")
            await self._guard_send(actor, context["what"], context["key"], lambda: self._send_from(
                actor, item.topic, context.get("address"), context.get("rest") or [], context["what"],
                context["key"], answered=item.outcome, deposit_of=deposit_of), deposit_of)
        else:
            log.warning("dropping a stored wallet request of an unknown flow %r", flow)

    async def _lapsed_link(self, actor: Actor, outcome: Awaitable[object]) -> None:
        try:
            await outcome
        except WalletConnectError as exc:
            await self._dm(actor, f"Wallet not linked: {_plain(exc)}. Send /wallet link to try again.",
                           "link-lapsed")

    async def _lapsed_send(self, actor: Actor, context: dict, outcome: Awaitable[object]) -> None:
        try:
            await outcome
        except WalletConnectError as exc:
            await self._dm(actor, f"{context['what']}: {_plain(exc)}. If your wallet did send it, the bot will see "
                                  f"it on chain; otherwise ask again.", f"{context['key']}:lapsed")

    async def _dm(self, actor: Actor, text: str, key: str) -> None:
        async with self.ctx.sessions.begin() as session:
            await notify(session, Kind.WALLET, f"wallet:{actor.user_id}:{key}:{secrets.token_hex(8)}",
                         data={"text": text}, user_id=actor.user_id)


def _who(actor: Actor) -> dict[str, object]:
    """The person, as a stored context holds them (no roles: wallet flows need none)."""
    return {"user_id": actor.user_id, "name": actor.name, "platform": actor.platform}


def _actor(who: dict) -> Actor | None:
    if not isinstance(who.get("user_id"), int):
        return None
    return Actor(user_id=who["user_id"], name=str(who.get("name", "")), platform=str(who.get("platform", "")))


def _hex(text: str) -> str:
    return "0x" + text.encode().hex()


def _plain(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
