"""The bot's own transactions are journaled before they are sent and followed to their end, on a
real anvil and a real database: a lost send is sent again from the stored raw transaction, a
stuck one is replaced with the same nonce at a higher fee (and whichever is mined settles it), a
nonce taken by another sender is resynchronised instead of failing."""
from __future__ import annotations

from collections.abc import AsyncIterator
import pytest
from sqlalchemy import select

from bot.chain.journal import TxJournal
from bot.chain.models import TX_MINED, TX_PENDING, ChainTx
from bot.chain.rpc import make_web3, wait_for_receipt
from bot.chain.sender import TxSender
from bot.db.migrate import upgrade
from bot.db.session import make_engine, make_sessionmaker
from tests.chain.rpcproxy import RpcProxy
from tests.conftest import Clock
from tests.support.anvil import ANVIL_KEYS, start_anvil

KEY = ANVIL_KEYS[1]
TO = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator:
    engine = make_engine(database_url)
    await upgrade(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def node():
    with start_anvil() as anvil:
        yield anvil


async def rows(sessions) -> list[ChainTx]:
    async with sessions() as s:
        return list((await s.scalars(select(ChainTx).order_by(ChainTx.id))).all())


async def test_the_transaction_is_stored_before_it_is_sent_and_sent_again_when_the_send_was_lost(store, node):
    clock = Clock()
    with RpcProxy(node.rpc_url) as proxy:
        w3 = make_web3(proxy.url, timeout_s=2)
        journal = TxJournal(store, 31337, clock=clock)
        sender = TxSender(w3, KEY, 31337, journal=journal, clock=clock)
        proxy.blackhole["eth_sendRawTransaction"] = 1          # the send is lost on the way
        proxy.blackhole_s = 3
        with pytest.raises(Exception):
            await sender.send(TO, "0x", 1, purpose="start", ref="0x" + "11" * 32)
        (row,) = await rows(store)
        assert row.status == TX_PENDING and row.purpose == "start" and row.ref == "0x" + "11" * 32
        assert row.raw.startswith("0x") and row.hashes == [row.tx_hash]
        assert await w3.eth.get_transaction_count(sender.address, "pending") == 0     # it never arrived
        assert (await journal.open_for("0x" + "11" * 32, "start")).id == row.id

        # a second transaction does not take the lost one's nonce
        second = await sender.send(TO, "0x", 2, purpose="settle", ref="0x" + "22" * 32)
        assert (await rows(store))[1].nonce == row.nonce + 1
        # the gap holds the second one back until follow-up sends the stored raw transaction again
        assert await w3.eth.get_transaction_count(sender.address, "latest") == 0
        done = list(await sender.follow_up())
        assert (await wait_for_receipt(w3, row.tx_hash, timeout_s=10))["status"] == 1
        assert (await wait_for_receipt(w3, second, timeout_s=10))["status"] == 1
        done += await sender.follow_up()
        assert sorted(d.row.purpose for d in done) == ["settle", "start"]
        assert [r.status for r in await rows(store)] == [TX_MINED, TX_MINED]
        assert (await rows(store))[0].mined_hash == row.tx_hash
        await w3.provider.disconnect()


async def test_a_stuck_transaction_is_replaced_with_the_same_nonce_at_a_higher_fee(store, node):
    clock = Clock()
    w3 = make_web3(node.rpc_url)
    journal = TxJournal(store, 31337, clock=clock)
    sender = TxSender(w3, KEY, 31337, journal=journal, clock=clock, stuck_after_s=60)
    node.rpc("evm_setAutomine", [False])
    first = (await sender.send(TO, "0x", 1, purpose="start", ref="0x" + "33" * 32)).to_0x_hex()
    (row,) = await rows(store)
    # fees spike: the next blocks' base fee is far above what the transaction offers
    node.rpc("anvil_setNextBlockBaseFeePerGas", [hex(row.max_fee * 20)])
    node.rpc("evm_mine")
    assert (await w3.eth.get_block("latest"))["transactions"] == []
    assert await sender.follow_up() == []                       # not stuck long enough yet: left alone
    assert len((await rows(store))[0].hashes) == 1
    clock.advance(seconds=61)
    assert await sender.follow_up() == []                       # replaced, not finished
    (row,) = await rows(store)
    assert len(row.hashes) == 2 and row.hashes[0] == first and row.tx_hash != first
    assert row.max_fee > (await w3.eth.get_block("latest"))["baseFeePerGas"]
    node.rpc("evm_mine")
    (done,) = await sender.follow_up()
    assert done.status == TX_MINED
    (row,) = await rows(store)
    assert row.status == TX_MINED and row.mined_hash == row.hashes[1] and row.nonce == 0
    assert await w3.eth.get_transaction_count(sender.address, "latest") == 1      # one nonce used, once
    node.rpc("evm_setAutomine", [True])
    await w3.provider.disconnect()


async def test_a_nonce_taken_by_another_sender_is_resynchronised(store, node):
    w3 = make_web3(node.rpc_url)
    journal = TxJournal(store, 31337)
    ours = TxSender(w3, KEY, 31337, journal=journal)
    await wait_for_receipt(w3, await ours.send(TO, "0x", 1), timeout_s=10)
    other = TxSender(w3, KEY, 31337)                           # a second process with the same key
    await wait_for_receipt(w3, await other.send(TO, "0x", 1), timeout_s=10)
    # ours still believes nonce 1 is next: the node says "nonce too low"; the send resyncs and goes out
    receipt = await wait_for_receipt(w3, await ours.send(TO, "0x", 3, purpose="settle"), timeout_s=10)
    assert receipt["status"] == 1
    statuses = [(r.nonce, r.status) for r in await rows(store)]
    assert statuses == [(0, TX_PENDING), (1, "rejected"), (2, TX_PENDING)]
    await ours.follow_up()
    assert [r.status for r in await rows(store)] == [TX_MINED, "rejected", TX_MINED]
    await w3.provider.disconnect()


def test_bump_is_more_than_ten_percent():
    from bot.chain.sender import _bump

    assert _bump(100) > 110 and _bump(0) == 1


async def test_open_refs_is_open_for_of_many_in_one_query(store):
    """The latest transaction of the purpose decides, as in open_for: open, finished, finished after
    an earlier one, reopened after a finished one, other purpose, never sent."""
    journal = TxJournal(store, 31337)
    refs = ["0x" + f"{i:02d}" * 32 for i in range(6)]

    async def record(ref: str, nonce: int, purpose: str = "start") -> int:
        return await journal.record(sender=TO, nonce=nonce, purpose=purpose, ref=ref, to=TO, data="0x", value=0,
                                    gas=21000, max_fee=1, priority_fee=1, tx_hash=f"0x{nonce:064x}", raw="0x")

    await record(refs[0], 0)
    await journal.finish(await record(refs[1], 1), TX_MINED)
    await record(refs[2], 2)
    await journal.finish(await record(refs[2], 3), TX_MINED)
    await journal.finish(await record(refs[3], 4), TX_MINED)
    await record(refs[3], 5)
    await record(refs[4], 6, purpose="settle")
    assert await journal.open_refs(refs, "start") == {refs[0], refs[3]}
    assert {r for r in refs if await journal.open_for(r, "start") is not None} == {refs[0], refs[3]}
    assert await journal.open_refs([], "start") == set()
