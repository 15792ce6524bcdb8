"""WalletConnect conversations that outlive one chat command.

A command answers at once (a QR code and links, or "check your wallet"); the rest — waiting for
the wallet to approve, asking it to sign or send, checking the answer — runs in the background
and reports through the outbox as a direct message. The chain watcher, not the wallet's answer,
decides whether money moved.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from sqlalchemy import delete, select

from bot.chain.escrow import UnsignedTx
from bot.db.models import KeyValue
from bot.domain.errors import UserError
from bot.services.common import enqueue
from bot.services.context import Actor, ServiceContext
from bot.services.wallets import WalletService
from bot.wallet.links import WalletLink, qr_png, wallet_links
from bot.wallet.mismatch import explain_mismatch
from bot.wallet.walletconnect.client import SignClient
from bot.wallet.walletconnect.errors import WalletConnectError

log = logging.getLogger(__name__)
LINK_METHODS = ["personal_sign", "eth_sendTransaction"]
REVERT_WATCH_S = 300.0     # how long to watch a sent deposit for a revert worth explaining
Explain = Callable[[str], Awaitable[str]]


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
    """Owns the bot's one SignClient; every flow ends in a DM, never in an unhandled error."""

    def __init__(self, ctx: ServiceContext, client: SignClient, spawn: Callable[[Awaitable[None]], object]) -> None:
        self.ctx = ctx
        self.client = client
        self.spawn = spawn
        self.wallets = WalletService(ctx)

    async def start_link(self, actor: Actor) -> LinkOffer:
        pending = await self.client.connect([self.ctx.settings.chain.chain_id], LINK_METHODS)
        self.spawn(self._finish_link(actor, pending.approval))
        return LinkOffer(uri=pending.uri, qr_png=qr_png(pending.uri), links=wallet_links(pending.uri))

    async def _finish_link(self, actor: Actor, approval: asyncio.Future) -> None:
        chain_id = self.ctx.settings.chain.chain_id
        try:
            session = await approval
            problem = explain_mismatch(session.accounts, chain_id)
            if problem:
                await self._dm(actor, f"Wallet not linked: {problem}.", "link-mismatch")
                return
            address = next(a.split(":")[2] for a in session.accounts if a.split(":")[1] == str(chain_id))
            challenge = await self.wallets.challenge(actor, address)
            signature = await self.client.request(session, chain_id, "personal_sign",
                                                  [_hex(challenge.message), address])
            linked = await self.wallets.verify(actor, signature, session_topic=session.topic)
            await self._dm(actor, f"Wallet {linked} is linked. Deposits come from it and refunds go back to it.",
                           "linked")
        except (WalletConnectError, UserError) as exc:
            await self._dm(actor, f"Wallet not linked: {_plain(exc)}", "link-failed")
        except Exception:
            log.exception("wallet link failed")
            await self._dm(actor, "Wallet not linked: something went wrong on our side; try /wallet link again.",
                           "link-failed")

    async def send(self, actor: Actor, txs: list[UnsignedTx], what: str, key: str,
                   explain: Explain | None = None) -> bool:
        """Ask the person's wallet to send `txs` in order; False when they have no live session.
        `explain(detail)` turns a failure (the wallet's error, or "reverted" for a transaction mined
        but refused by the contract) into what happened and what to do now."""
        topic = await self.wallets.session_of(actor.user_id)
        if topic is None or topic not in self.client.sessions:
            return False
        self.spawn(self._send(actor, topic, txs, what, key, explain))
        return True

    async def _send(self, actor: Actor, topic: str, txs: list[UnsignedTx], what: str, key: str,
                    explain: Explain | None = None) -> None:
        address = await self.wallets.linked_address(actor)
        session = self.client.sessions.get(topic)
        problem = session and explain_mismatch(session.accounts, self.ctx.settings.chain.chain_id, address)
        if problem:
            await self._dm(actor, f"{what}: {problem}.", f"{key}:mismatch")
            return
        tx_hash = None
        try:
            for tx in txs:
                tx_hash = await self.client.request(topic, tx["chainId"], "eth_sendTransaction",
                                                    [{"from": address, "to": tx["to"], "data": tx["data"],
                                                      "value": hex(tx["value"])}], expiry=900)
        except WalletConnectError as exc:
            text = await explain(f"{_plain(exc)} {getattr(exc, 'detail', '')}") if explain else _plain(exc)
            await self._dm(actor, f"{what}: {text}", f"{key}:failed")
            return
        await self._dm(actor, f"{what}: your wallet sent it; the bot will confirm once the chain does.",
                       f"{key}:sent")
        if explain is not None and self.ctx.escrow is not None and isinstance(tx_hash, str):
            await self._report_revert(actor, tx_hash, what, key, explain)

    async def _report_revert(self, actor: Actor, tx_hash: str, what: str, key: str, explain: Explain) -> None:
        """A wallet may send what the contract then refuses (a quote that expired meanwhile): say so."""
        from bot.chain.rpc import wait_for_receipt

        try:
            receipt = await wait_for_receipt(self.ctx.escrow.w3, tx_hash, timeout_s=REVERT_WATCH_S, poll_s=1.0)
        except Exception:  # noqa: BLE001 - not mined yet or RPC trouble: the watcher still decides
            return
        if receipt["status"] != 1:
            await self._dm(actor, f"{what}: {await explain('reverted')}", f"{key}:reverted")

    async def _dm(self, actor: Actor, text: str, key: str) -> None:
        async with self.ctx.sessions.begin() as session:
            await enqueue(session, f"wallet:{actor.user_id}:{key}:{self.ctx.now().timestamp()}", "dm", text,
                          user_id=actor.user_id)


def _hex(text: str) -> str:
    return "0x" + text.encode().hex()


def _plain(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
