"""The escrow watcher on a real anvil and a real SQLite store: confirmations, exactly-once,
atomicity with the handler's effects, reorgs, restarts, duplicate logs and RPC timeouts."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator

import pytest
from sqlalchemy import String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from eth_account import Account

from bot.chain.events import EscrowEvent
from bot.chain.models import ChainBlock, ChainCursor, ChainEvent
from bot.chain.rpc import make_web3
from bot.chain.watcher import EscrowWatcher
from bot.db.base import Base
from bot.db.session import make_engine
from tests.chain.conftest import OPERATOR, PROVIDER, RENTER, ZERO, Chain
from tests.chain.rpcproxy import RpcProxy
from tests.support.anvil import ANVIL_KEYS


class EffectsBase(DeclarativeBase):
    pass


class Effect(EffectsBase):
    """Stands in for the services layer's rows: written by the handler in the watcher's session."""

    __tablename__ = "test_effects"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    rental_id: Mapped[str | None] = mapped_column(String(66))


class RecordingHandler:
    def __init__(self) -> None:
        self.applied: list[EscrowEvent] = []
        self.reverted: list[EscrowEvent] = []
        self.fail_on: str | None = None

    async def apply(self, session: AsyncSession, event: EscrowEvent) -> None:
        session.add(Effect(key=f"{event.tx_hash}:{event.log_index}", name=event.name, rental_id=event.rental_id))
        await session.flush()
        if event.name == self.fail_on:
            raise RuntimeError("handler failed")
        self.applied.append(event)

    async def revert(self, session: AsyncSession, event: EscrowEvent) -> None:
        await session.execute(delete(Effect).where(Effect.key == f"{event.tx_hash}:{event.log_index}"))
        self.reverted.append(event)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh store on SQLite and on PostgreSQL (the shared `database_url` fixture)."""
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(EffectsBase.metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
async def _close_web3() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().provider.disconnect()


def watcher(chain: Chain, sessions: Any, handler: Any, rpc_url: str | None = None, **kw: Any) -> EscrowWatcher:
    w3 = make_web3(rpc_url or chain.node.rpc_url, timeout_s=kw.pop("timeout_s", 10.0))
    _OPEN.append(w3)
    kw.setdefault("start_block", chain.w3.eth.block_number + 1)
    return EscrowWatcher(w3, sessions, handler, chain_id=31337, address=chain.escrow.address, **kw)


async def drain(w: EscrowWatcher) -> tuple[int, int]:
    applied = reverted = 0
    while True:
        r = await w.poll_once()
        applied, reverted = applied + r.applied, reverted + r.reverted
        if not r.behind:
            return applied, reverted


def deposit(chain: Chain, amount: int = 10**15) -> str:
    rid = os.urandom(32)
    chain.send(RENTER, chain.deposit(RENTER, rid, PROVIDER, ZERO, amount, 3600), amount)
    return "0x" + rid.hex()


def mine(chain: Chain, n: int) -> None:
    chain.node.rpc("anvil_mine", [hex(n)])


async def rows(sessions: Any, model: Any, *where: Any) -> list[Any]:
    async with sessions() as s:
        return list((await s.scalars(select(model).where(*where))).all())


async def count(sessions: Any, model: Any, *where: Any) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_applies_confirmed_events_once_with_effects(fresh_chain: Chain, sessions: Any) -> None:
    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=2)
    rid = deposit(fresh_chain)
    fresh_chain.send(OPERATOR, fresh_chain.escrow.functions.start(bytes.fromhex(rid[2:])))
    assert await drain(w) == (0, 0)           # the start block has 0 confirmations, the deposit 1
    mine(fresh_chain, 1)
    assert await drain(w) == (1, 0) and [e.name for e in h.applied] == ["Deposited"]
    mine(fresh_chain, 1)
    assert await drain(w) == (1, 0)
    assert [e.name for e in h.applied] == ["Deposited", "Started"]
    dep = h.applied[0]
    assert dep.rental_id == rid and dep.args["renter"] == RENTER and dep.args["amount"] == 10**15
    assert dep.block_hash.startswith("0x") and len(dep.tx_hash) == 66
    assert await drain(w) == (0, 0)
    events = await rows(sessions, ChainEvent)
    assert [(e.name, e.rental_id, e.status) for e in events] == [("Deposited", rid, "applied"), ("Started", rid, "applied")]
    assert events[0].args["amount"] == str(10**15)
    assert await count(sessions, Effect) == 2
    cur = (await rows(sessions, ChainCursor))[0]
    assert cur.block_number == fresh_chain.w3.eth.block_number - 2


async def test_handler_failure_rolls_back_the_whole_range(fresh_chain: Chain, sessions: Any) -> None:
    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=0)
    a = deposit(fresh_chain)
    fresh_chain.send(OPERATOR, fresh_chain.escrow.functions.start(bytes.fromhex(a[2:])))
    h.fail_on = "Started"
    with pytest.raises(RuntimeError, match="handler failed"):
        await w.poll_once()
    # nothing of the range stuck: no event rows, no effects (the Deposited effect was written!), no checkpoint
    assert await count(sessions, ChainEvent) == 0 and await count(sessions, Effect) == 0
    assert await count(sessions, ChainCursor) == 0
    h.fail_on = None
    assert await drain(w) == (2, 0)
    assert await count(sessions, Effect) == 2


async def test_reorg_above_confirmation_depth_is_never_applied(fresh_chain: Chain, sessions: Any) -> None:
    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=3)
    keep = deposit(fresh_chain)
    mine(fresh_chain, 3)
    assert await drain(w) == (1, 0)
    doomed = deposit(fresh_chain)
    mine(fresh_chain, 1)
    assert await drain(w) == (0, 0)           # 1 confirmation < 3: not yet
    fresh_chain.node.rpc("anvil_reorg", [2, []])  # the deposit's block and the next are replaced
    mine(fresh_chain, 5)
    assert await drain(w) == (0, 0)
    assert [e.rental_id for e in h.applied] == [keep] and h.reverted == []
    assert doomed not in {e.rental_id for e in await rows(sessions, ChainEvent)}
    assert fresh_chain.escrow.functions.getRental(bytes.fromhex(doomed[2:])).call()[3] == 0


async def test_deep_reorg_reverts_what_was_applied(fresh_chain: Chain, sessions: Any) -> None:
    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=1)
    kept = deposit(fresh_chain)
    mine(fresh_chain, 2)
    gone = deposit(fresh_chain)
    mine(fresh_chain, 1)
    assert await drain(w) == (2, 0)
    fresh_chain.node.rpc("anvil_reorg", [2, []])   # deeper than the watcher's 1 confirmation
    mine(fresh_chain, 1)
    replacement = deposit(fresh_chain)
    mine(fresh_chain, 1)
    applied, reverted = await drain(w)
    assert reverted == 1 and [e.rental_id for e in h.reverted] == [gone]
    statuses = {e.rental_id: e.status for e in await rows(sessions, ChainEvent)}
    assert statuses == {kept: "applied", gone: "reverted", replacement: "applied"}
    assert {e.rental_id for e in await rows(sessions, Effect)} == {kept, replacement}
    cur = (await rows(sessions, ChainCursor))[0]
    assert cur.block_hash == fresh_chain.w3.eth.get_block(cur.block_number)["hash"].to_0x_hex()


async def test_reorged_log_included_again_is_applied_again_once(fresh_chain: Chain, sessions: Any) -> None:
    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=0)
    rid = os.urandom(32)
    call = fresh_chain.deposit(RENTER, rid, PROVIDER, ZERO, 10**15, 3600)
    tx = call.build_transaction({"from": RENTER, "value": 10**15, "nonce": fresh_chain.w3.eth.get_transaction_count(RENTER),
                                 "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "gas": 300_000})
    raw = Account.from_key(ANVIL_KEYS[4]).sign_transaction(tx).raw_transaction
    tx_hash = fresh_chain.w3.eth.send_raw_transaction(raw)
    old_block = fresh_chain.w3.eth.get_transaction_receipt(tx_hash)["blockHash"]
    assert await drain(w) == (1, 0)
    fresh_chain.node.rpc("anvil_reorg", [1, [["0x" + raw.hex(), 0]]])   # same signed tx, new block
    assert fresh_chain.w3.eth.get_transaction_receipt(tx_hash)["blockHash"] != old_block
    assert fresh_chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    applied, reverted = await drain(w)
    assert (applied, reverted) == (1, 1)
    events = await rows(sessions, ChainEvent)
    assert len(events) == 1 and events[0].status == "applied"
    assert events[0].block_hash == fresh_chain.w3.eth.get_transaction_receipt(tx_hash)["blockHash"].to_0x_hex()
    assert await count(sessions, Effect) == 1


async def test_restart_mid_stream_misses_and_repeats_nothing(fresh_chain: Chain, sessions: Any) -> None:
    ids = []
    start = fresh_chain.w3.eth.block_number + 1
    h1 = RecordingHandler()
    w1 = watcher(fresh_chain, sessions, h1, confirmations=0, max_range=2, start_block=start)
    for i in range(6):
        ids.append(deposit(fresh_chain))
        if i == 2:
            await w1.poll_once()
            await w1.poll_once()               # stopped with part of the stream done
    assert 0 < len(h1.applied) < 6
    h2 = RecordingHandler()
    w2 = watcher(fresh_chain, sessions, h2, confirmations=0, max_range=2, start_block=start)
    await drain(w2)
    assert [e.rental_id for e in h1.applied + h2.applied] == ids
    assert [e.rental_id for e in await rows(sessions, ChainEvent)] == ids


async def test_same_log_delivered_twice_is_applied_once(fresh_chain: Chain, sessions: Any) -> None:
    with RpcProxy(fresh_chain.node.rpc_url) as proxy:
        proxy.duplicate_logs = True
        h = RecordingHandler()
        w = watcher(fresh_chain, sessions, h, rpc_url=proxy.url, confirmations=0)
        ids = [deposit(fresh_chain) for _ in range(3)]
        assert await drain(w) == (3, 0)
        # and a checkpoint moved back (a range delivered again) changes nothing either
        async with sessions.begin() as s:
            cur = (await s.scalars(select(ChainCursor))).one()
            cur.block_number, cur.block_hash = w.start_block - 1, None
        assert await drain(w) == (0, 0)
        assert [e.rental_id for e in h.applied] == ids
        assert await count(sessions, ChainEvent) == 3 and await count(sessions, Effect) == 3


async def test_watcher_survives_an_rpc_timeout(fresh_chain: Chain, sessions: Any) -> None:
    """A black-holed eth_getLogs times out inside aiohttp; later calls still work (no web3 lock
    left held, web3.py #3867) and the deposit is applied on a later poll."""
    with RpcProxy(fresh_chain.node.rpc_url) as proxy:
        proxy.blackhole["eth_getLogs"] = 1
        proxy.blackhole_s = 3.0
        h = RecordingHandler()
        w = watcher(fresh_chain, sessions, h, rpc_url=proxy.url, confirmations=0, timeout_s=0.5,
                    poll_interval_s=0.05)
        rid = deposit(fresh_chain)
        stop = asyncio.Event()
        task = asyncio.create_task(w.run(stop))
        t0 = time.monotonic()
        while not h.applied and time.monotonic() - t0 < 10:
            await asyncio.sleep(0.05)
        stop.set()
        await task
        assert proxy.calls["eth_getLogs"] >= 2          # the swallowed one and the one that worked
        assert [e.rental_id for e in h.applied] == [rid]
        assert time.monotonic() - t0 < 3.0             # not stuck behind the 3 s black hole
        # and the same web3 instance keeps answering
        assert await w.w3.eth.block_number == fresh_chain.w3.eth.block_number


async def test_rpc_calls_per_poll_do_not_grow_with_rentals(fresh_chain: Chain, sessions: Any) -> None:
    with RpcProxy(fresh_chain.node.rpc_url) as proxy:
        w = watcher(fresh_chain, sessions, RecordingHandler(), rpc_url=proxy.url, confirmations=0)
        per_poll = []
        for n in (1, 25):
            for _ in range(n):
                deposit(fresh_chain)
            proxy.reset()
            r = await w.poll_once()
            assert r.applied == n
            per_poll.append(dict(proxy.calls))
        assert per_poll[0] == per_poll[1]
        assert per_poll[0]["eth_getLogs"] == 1


async def test_kept_block_hashes_are_pruned(fresh_chain: Chain, sessions: Any) -> None:
    w = watcher(fresh_chain, sessions, RecordingHandler(), confirmations=0, max_range=3, keep_blocks=4)
    for _ in range(5):
        deposit(fresh_chain)
    await drain(w)
    numbers = sorted(b.number for b in await rows(sessions, ChainBlock))
    head = fresh_chain.w3.eth.block_number
    assert numbers[-1] == head and numbers[0] > head - 4


async def test_reorg_deeper_than_kept_hashes_stops_loudly(fresh_chain: Chain, sessions: Any) -> None:
    from bot.chain.watcher import DeepReorg

    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=0, max_range=1, keep_blocks=2)
    for _ in range(6):
        deposit(fresh_chain)
    await drain(w)
    fresh_chain.node.rpc("anvil_reorg", [5, []])
    with pytest.raises(DeepReorg):
        await w.poll_once()
    assert h.reverted == [] and await count(sessions, ChainEvent, ChainEvent.status == "applied") == 6


async def test_end_to_end_with_the_escrow_client(fresh_chain: Chain, sessions: Any) -> None:
    """Renter signs what EscrowClient built, the operator starts and settles, the watcher sees it all."""
    from bot.chain.escrow import EscrowClient
    from bot.chain.quotes import QuoteSigner
    from bot.chain.sender import TxSender
    from tests.chain.conftest import DISPUTE_WINDOW, sign_and_send

    h = RecordingHandler()
    w = watcher(fresh_chain, sessions, h, confirmations=0)
    client = EscrowClient(w.w3, fresh_chain.escrow.address, 31337,
                          operator=TxSender(w.w3, ANVIL_KEYS[1], 31337),
                          quoter=QuoteSigner(ANVIL_KEYS[1], 31337, fresh_chain.escrow.address))
    rid = "0x" + os.urandom(32).hex()
    usdc = fresh_chain.usdc.address
    quote = client.sign_quote(rid, RENTER, PROVIDER, usdc, 3_600_000, 3600, 250, fresh_chain.now() + 3600)
    for utx in client.deposit_txs(quote):
        await sign_and_send(w.w3, ANVIL_KEYS[4], utx)
    await client.start(rid)
    fresh_chain.warp(3600 + DISPUTE_WINDOW)
    await client.settle(rid)
    await sign_and_send(w.w3, ANVIL_KEYS[5], client.withdraw_tx(usdc))
    await drain(w)
    assert [(e.name, e.rental_id) for e in h.applied] == [
        ("Deposited", rid), ("Started", rid), ("Settled", rid), ("Withdrawn", None)]
    dep, settled, withdrawn = h.applied[0].args, h.applied[2].args, h.applied[3].args
    assert (dep["token"], dep["amount"], dep["duration"], dep["feeBps"]) == (usdc, 3_600_000, 3600, 250)
    assert settled["renterPart"] + settled["providerPart"] + settled["fee"] == 3_600_000
    assert (withdrawn["account"], withdrawn["amount"]) == (PROVIDER, settled["providerPart"])
    # what the services layer gets back on a revert is the same typed event
    stored = (await rows(sessions, ChainEvent, ChainEvent.name == "Settled"))[0]
    assert w._event_of(stored).args == settled
