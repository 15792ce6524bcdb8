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
from bot.leader import Leadership
from bot.services.chain_events import RentalEventHandler
from bot.services.fulfilment import Fulfilment

log = logging.getLogger(__name__)
RECONCILE_EVERY_S = 3600.0
MAX_BACKOFF_S = 30.0


async def _guarded_value(what: str, call):
    """Run one periodic step; None (logged) if it failed."""
    try:
        return await call()
    except Exception as exc:  # noqa: BLE001 - the loop outlives any single failure
        log.warning("%s failed, retrying: %s", what, type(exc).__name__)
        return None


async def _guarded(what: str, call) -> bool:
    try:
        await call()
        return True
    except Exception as exc:  # noqa: BLE001 - the loop outlives any single failure
        log.warning("%s failed, retrying: %s", what, type(exc).__name__)
        return False


@dataclass
class Runtime:
    app: App
    fulfilment: Fulfilment
    watcher: object | None = None
    heads: object | None = None             # bot.chain.heads.HeadWatch: rounds follow the chain's blocks
    sign_client: object | None = None
    leadership: Leadership = field(default_factory=Leadership)   # PostgreSQL: one leader per database
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

    async def tick(self) -> bool:
        """One round of everything periodic; the loops call this, tests and the demo call it too.
        Each step is guarded: a failure is logged (by type only: RPC errors carry the URL) and the
        other steps still run. Returns whether every step went through."""
        ok = True
        ctx = self.app.services.ctx
        if ctx.escrow is not None and ctx.contract is None:   # not read at start (RPC down): again now
            from bot.services.contract_check import adopt_contract_truth
            ok &= await adopt_contract_truth(ctx) is not None
        if self.watcher is not None:
            ok &= await _guarded("escrow watcher poll", self.watcher.poll_once)
        ok &= await _guarded("housekeeping", self.services.housekeeping)
        report = await _guarded_value("fulfilment", self.fulfilment.run_once)
        return ok and report is not None and not report.failed_steps

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop`; nothing a tick meets (an RPC outage, a database hiccup) ends the loop.
        Rounds that fail back off (doubling, at most MAX_BACKOFF_S) and the next good one resets."""
        interval = self.app.settings.chain.poll_interval_s
        last_reconcile = 0.0
        failures = 0
        was_leading = False
        loop = asyncio.get_running_loop()
        if self.heads is not None:
            await self.heads.start()
        while not stop.is_set():
            leading = await _guarded_value("leadership check", self.leadership.check)
            delay = interval if leading else min(interval, self.leadership_retry_s)
            if leading and not was_leading:
                # only a leader works, so claims made before this process led are a dead leader's
                was_leading = await _guarded_value("taking over claims", self.fulfilment.take_over) is not None
            was_leading = was_leading and leading
            if leading:       # only the leader sends chain transactions and touches hosts
                if await self.tick():
                    failures = 0
                else:
                    failures += 1
                    delay = min(interval * 2 ** min(failures, 8), MAX_BACKOFF_S)
                if loop.time() - last_reconcile > RECONCILE_EVERY_S:
                    await _guarded("host reconcile", self.fulfilment.reconcile_hosts)
                    await _guarded("store maintenance", self.services.maintain_store)
                    last_reconcile = loop.time()
            if leading and failures == 0 and self.heads is not None:
                # the next round right after the next block (or after `interval` at the latest)
                await _guarded("waiting for the next block", lambda: self.heads.next_head(stop, interval))
                continue
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass

    @property
    def leadership_retry_s(self) -> float:
        return getattr(self.leadership, "retry_s", 1.0)

    async def close(self) -> None:
        if self.heads is not None:
            await self.heads.close()
        await self.leadership.close()
        for task in list(self.tasks):
            task.cancel()
        if self.sign_client is not None:
            await self.sign_client.close()
        if self.app.services.ctx.ssh is not None:
            await self.app.services.ctx.ssh.aclose()
        if self.app.services.ctx.escrow is not None:   # the chain's HTTP session (one per runtime)
            await self.app.services.ctx.escrow.w3.provider.disconnect()
        await self.app.close()


async def start_runtime(settings: Settings, *, clock=None, start_block: int | None = None) -> Runtime:
    """`start_block`: where the chain watcher begins on a fresh store (default: chain.start_block)."""
    if start_block is None:
        start_block = settings.chain.start_block
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
            from bot.services.contract_check import adopt_contract_truth

            _attach_chain(runtime, settings, start_block)
            await adopt_contract_truth(ctx)       # quote from the contract's values, report disagreements
        if settings.walletconnect.project_id or settings.walletconnect.relay_url.startswith("ws://"):
            await _attach_walletconnect(runtime, settings)
    except BaseException:
        await runtime.close()
        raise
    runtime.fulfilment = Fulfilment(ctx, ctx.escrow, ctx.ssh)
    return runtime


def _attach_chain(runtime: Runtime, settings: Settings, start_block: int) -> None:
    from bot.chain.escrow import EscrowClient
    from bot.chain.heads import HeadWatch
    from bot.chain.journal import TxJournal
    from bot.chain.quotes import QuoteSigner
    from bot.chain.rpc import make_web3
    from bot.chain.sender import TxSender
    from bot.chain.watcher import EscrowWatcher

    ctx = runtime.app.services.ctx
    c = settings.chain
    w3 = make_web3(c.rpc_url)
    journal = TxJournal(ctx.sessions, c.chain_id, clock=ctx.now)   # every own transaction, before it is sent

    def sender(key) -> TxSender | None:
        return TxSender(w3, key.get_secret_value(), c.chain_id, journal=journal, stuck_after_s=c.tx_stuck_after_s,
                        confirmations=c.confirmations_needed, clock=ctx.now) if key else None

    operator = sender(settings.operator_key)
    same = operator is not None and settings.arbiter_key is not None \
        and settings.arbiter_key.get_secret_value() == settings.operator_key.get_secret_value()
    arbiter = operator if same else sender(settings.arbiter_key)    # one account: one nonce sequence
    # the operator's key also signs deposit quotes (the escrow accepts only deposits it signed)
    quoter = QuoteSigner(settings.operator_key.get_secret_value(), c.chain_id, c.escrow_address) \
        if settings.operator_key else None
    ctx.escrow = EscrowClient(w3, c.escrow_address, c.chain_id, operator=operator, arbiter=arbiter,
                              quoter=quoter, receipt_wait_s=c.receipt_wait_s)
    runtime.heads = HeadWatch(w3, ws_url=c.ws_url)
    runtime.watcher = EscrowWatcher(w3, ctx.sessions, RentalEventHandler(ctx), chain_id=c.chain_id,
                                    address=c.escrow_address, confirmations=c.confirmations_needed,
                                    start_block=start_block, poll_interval_s=c.poll_interval_s,
                                    peek_unconfirmed=True)


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
