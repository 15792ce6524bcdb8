"""The long-running bot: the app plus its outside parts (chain, SSH, WalletConnect) and loops.

Front-ends (console, Discord, Telegram) take a Runtime, call its router, and deliver its outbox.
Each outside part is attached only when configured, so a bot without a deployed contract or a
WalletConnect project still runs and says plainly what it cannot do.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.app import App, open_app
from bot.config import Settings
from bot.services.chain_events import RentalEventHandler
from bot.services.fulfilment import Fulfilment

log = logging.getLogger(__name__)
RECONCILE_EVERY_S = 3600.0


@dataclass
class Runtime:
    app: App
    fulfilment: Fulfilment
    watcher: object | None = None
    sign_client: object | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)

    @property
    def services(self):
        return self.app.services

    @property
    def router(self):
        return self.app.router

    def spawn(self, coro) -> asyncio.Task:
        """Background work started by a command (wallet conversations); kept until done."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def tick(self) -> None:
        """One round of everything periodic; the loops call this, tests and the demo call it too."""
        if self.watcher is not None:
            try:
                await self.watcher.poll_once()
            except Exception as exc:  # noqa: BLE001 - logged; the next tick retries
                log.warning("escrow watcher poll failed: %s", type(exc).__name__)
        await self.services.housekeeping()
        await self.fulfilment.run_once()

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.app.settings.chain.poll_interval_s
        last_reconcile = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await self.tick()
            if loop.time() - last_reconcile > RECONCILE_EVERY_S:
                await self.fulfilment.reconcile_hosts()
                await self.services.maintain_store()
                last_reconcile = loop.time()
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.sign_client is not None:
            await self.sign_client.close()
        if self.app.services.ctx.ssh is not None:
            await self.app.services.ctx.ssh.aclose()
        if self.app.services.ctx.escrow is not None:   # the chain's HTTP session (one per runtime)
            await self.app.services.ctx.escrow.w3.provider.disconnect()
        await self.app.close()


async def start_runtime(settings: Settings, *, clock=None, start_block: int = 0) -> Runtime:
    app = await open_app(settings, clock=clock)
    ctx = app.services.ctx
    runtime = Runtime(app=app, fulfilment=Fulfilment(ctx, None, None))
    try:
        if ctx.box is not None:
            from bot.ssh import SshLimits, SshPool

            s = settings.ssh
            ctx.ssh = SshPool(SshLimits(per_host=s.per_host_concurrency, connect_timeout=s.connect_timeout_s,
                                        command_timeout=s.command_timeout_s, attempts=s.retries))
        if settings.chain.escrow_address:
            _attach_chain(runtime, settings, start_block)
        if settings.walletconnect.project_id or settings.walletconnect.relay_url.startswith("ws://"):
            await _attach_walletconnect(runtime, settings)
    except BaseException:
        await runtime.close()
        raise
    runtime.fulfilment = Fulfilment(ctx, ctx.escrow, ctx.ssh)
    return runtime


def _attach_chain(runtime: Runtime, settings: Settings, start_block: int) -> None:
    from bot.chain.escrow import EscrowClient
    from bot.chain.quotes import QuoteSigner
    from bot.chain.rpc import make_web3
    from bot.chain.sender import TxSender
    from bot.chain.watcher import EscrowWatcher

    ctx = runtime.app.services.ctx
    c = settings.chain
    w3 = make_web3(c.rpc_url)
    operator = TxSender(w3, settings.operator_key.get_secret_value(), c.chain_id) if settings.operator_key else None
    arbiter = TxSender(w3, settings.arbiter_key.get_secret_value(), c.chain_id) if settings.arbiter_key else None
    # the operator's key also signs deposit quotes (the escrow accepts only deposits it signed)
    quoter = QuoteSigner(settings.operator_key.get_secret_value(), c.chain_id, c.escrow_address) \
        if settings.operator_key else None
    ctx.escrow = EscrowClient(w3, c.escrow_address, c.chain_id, operator=operator, arbiter=arbiter, quoter=quoter)
    runtime.watcher = EscrowWatcher(w3, ctx.sessions, RentalEventHandler(ctx), chain_id=c.chain_id,
                                    address=c.escrow_address, confirmations=c.confirmations,
                                    start_block=start_block, poll_interval_s=c.poll_interval_s)


async def _attach_walletconnect(runtime: Runtime, settings: Settings) -> None:
    from bot.services.walletflow import DbBackend, WalletBridge
    from bot.wallet.walletconnect.client import SignClient
    from bot.wallet.walletconnect.store import SealedStore

    ctx = runtime.app.services.ctx
    if ctx.box is None:
        log.warning("WalletConnect needs GPUFLOW_MASTER_KEY to keep its sessions sealed; not starting it")
        return
    wc = settings.walletconnect
    client = SignClient(SealedStore(ctx.box, DbBackend(ctx)), project_id=wc.project_id, relay_url=wc.relay_url,
                        metadata={"name": wc.app_name, "description": "GPU rentals with escrow",
                                  "url": wc.app_url, "icons": []})
    await client.start()
    runtime.sign_client = client
    ctx.bridge = WalletBridge(ctx, client, runtime.spawn)
