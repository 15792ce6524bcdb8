"""The back office under ordinary faults (issue 8 items 4, 9 and 12), with the real parts: anvil
behind a misbehaving JSON-RPC proxy, the real sshd with the helper, the runtime's own loop.

- RPC errors (connection refused, HTTP 429, "nonce too low", a timeout) while a settlement and a
  refund are due never end Runtime.run; both go through once the RPC is back, and no log line
  of the bot carries the RPC URL.
- A deposit mined in time but seen late (RPC down past the deadline) funds the rental.
- A rental another worker ended meanwhile is no crash; two workers revoking the same rental record
  it once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.chain.escrow import Status
from bot.db.models import Rental
from bot.db.session import make_engine
from tests.chain.rpcproxy import ANY, RpcProxy
from tests.e2e.conftest import Market
from tests.e2e.test_rental_flow import funded_and_active, login


@pytest.fixture
async def proxied(market: Market):
    """The market's runtime talking to anvil through an RpcProxy (the test's own calls go direct)."""
    with RpcProxy(market.anvil.rpc_url) as proxy:
        market.settings.chain.rpc_url = proxy.url
        market.settings.chain.poll_interval_s = 0.2
        market.settings.chain.receipt_wait_s = 2.0
        await market.restart()
        yield market, proxy
        proxy.up()


async def active_rental(m: Market, renter, offer_id: int) -> int:
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await funded_and_active(m, rental_id)
    return rental_id


async def test_rpc_errors_never_stop_the_worker(proxied, caplog) -> None:
    m, proxy = proxied
    caplog.set_level(logging.INFO, logger="bot")
    provider, renter, offer_id = await m.market_with_offer(capacity=2)
    settle_me = await active_rental(m, renter, offer_id)
    m.warp(3600 + 5)

    async def ended() -> bool:
        r = await m.rental(settle_me)
        return r.state == "ended" and r.revoked_at is not None
    await m.tick_until(ended, "ended")
    # a second rental whose deposit does not match the quote: flagged for a refund
    refund_me, _ = await m.rent(renter, offer_id)
    row = await m.rental(refund_me)
    await m.unquoted_deposit(renter, row, row.amount - 1)
    for _ in range(5):
        m.mine()
        await m.runtime.watcher.poll_once()
        if (await m.rental(refund_me)).refund_reason:
            break
    assert (await m.rental(refund_me)).refund_reason
    m.warp(600 + 5)                                   # the settlement is due too

    stop = asyncio.Event()
    worker = asyncio.ensure_future(m.runtime.run(stop))

    async def still_running(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert not worker.done(), f"the worker stopped: {worker.exception()!r}"
            m.mine()
            await asyncio.sleep(0.2)

    try:
        proxy.down()                                              # connection refused
        await still_running(2.0)
        proxy.up()
        proxy.http_status[ANY] = (429, 25)                        # rate limited
        await still_running(2.0)
        proxy.http_status.clear()
        proxy.rpc_error["eth_sendRawTransaction"] = ("nonce too low", 4)
        await still_running(2.0)
        proxy.rpc_error.clear()
        proxy.blackhole_s = 1.0
        proxy.blackhole["eth_call"] = 2                           # a call that never answers
        await still_running(3.0)
        # the RPC is well again: both get done, once
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await m.state(settle_me) == "settled" and await m.state(refund_me) == "refunded":
                break
            await still_running(0.4)
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 60)
    assert await m.state(settle_me) == "settled" and await m.state(refund_me) == "refunded"
    escrow = m.escrow()
    assert (await escrow.rental((await m.rental(settle_me)).escrow_id)).status == Status.SETTLED
    assert (await escrow.rental(row.escrow_id)).status == Status.CANCELLED
    assert len(await m.escrow_events("Settled", (await m.rental(settle_me)).escrow_id)) == 1
    assert len(await m.escrow_events("Cancelled", row.escrow_id)) == 1
    assert proxy.calls["eth_sendRawTransaction"] >= 2
    leaked = [r.getMessage() for r in caplog.records
              if r.name.startswith("bot") and (proxy.url in r.getMessage() or f":{proxy.port}" in r.getMessage())]
    assert leaked == []


async def test_a_deposit_in_time_but_seen_late_is_funded_not_refunded(proxied) -> None:
    m, proxy = proxied
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    proxy.down()                                       # the bot's RPC is down ...
    await m.pay_reply(renter, text)                    # ... while the renter pays, in time
    m.warp(m.settings.deposit_timeout_s + 60)          # and stays down past the deposit deadline
    for _ in range(3):
        await m.runtime.tick()
    assert await m.state(rental_id) == "awaiting_deposit"
    proxy.up()
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)
    kinds = await m.timeline(rental_id)
    assert row.refund_reason is None and "expire" not in kinds and "deposit_flagged" not in kinds, kinds
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out


async def test_a_late_deposit_is_refused_on_chain(proxied) -> None:
    """The other side of the rule: a deposit mined after the deadline is late, whatever the bot saw.
    With escrow v2 the quote never outlives the deposit deadline, so the escrow itself refuses it."""
    m, proxy = proxied
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    m.warp(m.settings.deposit_timeout_s + 60)

    async def expired() -> bool:
        return await m.state(rental_id) == "expired"
    await m.tick_until(expired, "expired")
    with pytest.raises(Exception) as refused:
        await m.pay_reply(renter, text)
    assert m.escrow().error_in(str(refused.value)) == "QuoteExpired", refused.value
    row = await m.rental(rental_id)
    assert (await m.escrow().rental(row.escrow_id)).status == Status.NONE


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)   # the race needs PostgreSQL's row locks
async def test_end_due_meets_a_rental_another_worker_ended(market: Market, database_url: str) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id = await active_rental(m, renter, offer_id)
    m.warp(3600 + 5)
    row = await m.rental(rental_id)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as other:         # another worker ends it, not committed yet
            await other.begin()
            await other.execute(update(Rental).where(Rental.id == rental_id)
                                .values(state="ended", ended_at=row.ends_at))
            ending = asyncio.ensure_future(m.runtime.fulfilment.end_due())
            await asyncio.sleep(1.5)                  # ours reads "active" and waits on the row lock
            await other.commit()
            assert await asyncio.wait_for(ending, 30) == 0
    finally:
        await engine.dispose()
    assert "end" not in await m.timeline(rental_id)
    for _ in range(2):
        m.mine()
        await m.runtime.tick()
    assert (await m.rental(rental_id)).revoked_at is not None


async def test_two_workers_revoke_a_rental_once(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id = await active_rental(m, renter, offer_id)
    m.warp(3600 + 5)
    assert await m.runtime.fulfilment.end_due() == 1
    first = m.runtime
    other = await m.start()
    try:
        await asyncio.gather(first.fulfilment.revoke_closed(), other.fulfilment.revoke_closed())
    finally:
        await other.close()
        m.runtime = first
    row = await m.rental(rental_id)
    assert row.revoked_at is not None and not m.sshd.user_exists(row.unix_user)
    kinds = await m.timeline(rental_id)
    assert kinds.count("revoked") == 1, kinds
    assert m.clock() - row.revoked_at < timedelta(seconds=5)
