"""Starts the bot did not expect, and starts slow to mine (issue 8 items 2 and 3, issue 9's bot
side), with the real parts: anvil with the escrow, the real sshd with the helper, the runtime.

The rule under test: the contract's record decides. ACTIVE means started, whoever's transaction
did it; the bot records it with the chain's end and sends the credentials; it never sends a
second start while one is open, and never revokes a running rental because a start reverted.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.chain.escrow import Status
from tests.e2e.conftest import ADDRESS, OPERATOR_KEY, Market
from tests.e2e.test_rental_flow import funded_and_active, login


async def paid_and_funded(m: Market):
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.watch_until_funded(rental_id)
    return provider, renter, rental_id


async def start_elsewhere(m: Market, escrow_id: str) -> None:
    """An earlier instance of the bot (same operator key, its own nonce counter) starts the rental."""
    data = m.escrow().contract.encode_abi("start", args=[bytes.fromhex(escrow_id[2:])])
    await m.send_as(OPERATOR_KEY, m.escrow_address, data, 0)


async def chain_end_of(m: Market, escrow_id: str) -> int:
    return await m.escrow().contract.functions.endOf(bytes.fromhex(escrow_id[2:])).call()


async def starts_sent_by_this_bot(m: Market, escrow_id: str) -> int:
    journal = m.runtime.services.ctx.escrow.operator.journal
    return await journal.count(escrow_id, "start")


def no_event_errors(timeline: list[str]) -> None:
    assert not [t for t in timeline if " on chain while " in t], "\n".join(timeline)


@pytest.mark.parametrize("first", ["watcher", "worker"])
async def test_a_start_the_bot_did_not_expect_is_recorded_and_delivered(market: Market, first: str) -> None:
    """Started on chain while the store says funded: the rental becomes active with the chain's end,
    the credentials go out once and work, and it ends, is revoked and settles like any other."""
    m = market
    provider, renter, rental_id = await paid_and_funded(m)
    row = await m.rental(rental_id)
    await start_elsewhere(m, row.escrow_id)
    end_of = await chain_end_of(m, row.escrow_id)
    assert end_of > 0
    if first == "worker":
        # the worker meets the running rental before the watcher has applied its Started event: the
        # credentials go out at once, and once the start is confirmed it is recorded
        await m.runtime.fulfilment.run_once()
        assert len([n for n in await m.notices(renter, rental_id) if n.sensitive]) == 1
        m.mine()
        await m.runtime.fulfilment.run_once()
        assert await m.state(rental_id) == "active"
    await funded_and_active(m, rental_id)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    assert row.state == "active" and row.refund_reason is None
    assert int(row.ends_at.timestamp()) == end_of            # the chain's end, not a guess
    assert row.host_expiry >= row.ends_at
    (dm,) = [n for n in await m.notices(renter, rental_id) if n.sensitive]
    assert row.unix_user in dm.body and f"{row.ends_at:%Y-%m-%d %H:%M:%S}" in dm.body
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out
    timeline = await m.timeline(rental_id, detail=True)
    kinds = await m.timeline(rental_id)
    assert kinds.count("provisioned") == 1 and kinds.count("start") == 1, timeline
    assert "delivery_failed" not in kinds, timeline
    no_event_errors(timeline)
    assert await starts_sent_by_this_bot(m, row.escrow_id) == 0

    m.warp(3600 + 5)

    async def revoked() -> bool:
        r = await m.rental(rental_id)
        return r.state == "ended" and r.revoked_at is not None
    await m.tick_until(revoked, "ended and revoked")
    assert not m.sshd.user_exists(row.unix_user)
    m.warp(600 + 5)

    async def settled() -> bool:
        return await m.state(rental_id) == "settled"
    await m.tick_until(settled, "settled")
    assert (await m.escrow().rental(row.escrow_id)).status == Status.SETTLED


async def operator_pending(m: Market) -> int:
    return await m.w3.eth.get_transaction_count(ADDRESS[OPERATOR_KEY], "pending")


async def test_a_start_slow_to_mine_is_waited_on_never_sent_twice_and_never_revoked(market: Market) -> None:
    """Blocks slower than the bot's receipt wait: the first start is not mined in time, the rental's
    claim runs out and is taken up again. The bot waits on the start it sent instead of sending a
    second one (which would revert once the first is mined, and used to revoke the paid account
    and refund); when the first is mined the rental is active, with working credentials."""
    m = market
    m.settings.chain.receipt_wait_s = 1.0
    await m.restart()
    provider, renter, rental_id = await paid_and_funded(m)
    row = await m.rental(rental_id)
    before = await operator_pending(m)
    m.anvil.rpc("evm_setAutomine", [False])
    try:
        await m.runtime.fulfilment.run_once()          # account made, GPUs checked, start sent: not mined
        assert await m.state(rental_id) == "provisioning"
        assert await operator_pending(m) == before + 1
        for _ in range(2):
            m.clock.advance(minutes=6)                  # past any claim's lease: taken up again
            work = asyncio.ensure_future(m.runtime.fulfilment.run_once())
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not work.done() and await operator_pending(m) == before + 1:
                await asyncio.sleep(0.1)
            # a block arrives (with a second start, had one been sent, right behind the first)
            m.mine()
            await work
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
    await funded_and_active(m, rental_id)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    timeline = await m.timeline(rental_id, detail=True)
    assert row.state == "active" and row.refund_reason is None and row.revoked_at is None, timeline
    assert await operator_pending(m) == before + 1, "a second start was sent"
    assert len(await m.escrow_events("Started", row.escrow_id)) == 1
    assert await starts_sent_by_this_bot(m, row.escrow_id) == 1
    assert m.sshd.user_exists(row.unix_user)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out
    assert len([n for n in await m.notices(renter, rental_id) if n.sensitive]) == 1
    kinds = await m.timeline(rental_id)
    assert "delivery_failed" not in kinds and kinds.count("provisioned") == 1, timeline
    assert int(row.ends_at.timestamp()) == await chain_end_of(m, row.escrow_id)
    no_event_errors(timeline)


async def test_rentals_waiting_on_their_start_never_starve_a_new_deposit(market: Market, monkeypatch) -> None:
    """A round takes up at most BATCH rentals. Rentals whose start is sent but not yet confirmed are
    looked at again every round (a block may confirm it); they must not take the whole round while a
    paid rental waits for its account. No block comes here (the starts stay in the mempool), as on
    a slow chain between blocks: the third deposit still gets its credentials."""
    from bot.services.fulfilment import provisioning

    m = market
    monkeypatch.setattr(provisioning, "BATCH", 2)
    provider, renter, offer_id = await m.market_with_offer(capacity=3)
    rentals = [await m.rent(renter, offer_id) for _ in range(3)]
    for _, text in rentals:
        await m.pay_reply(renter, text)
    m.mine()                                      # the deposits confirmed (confirmations=1)
    m.anvil.rpc("evm_setAutomine", [False])
    try:
        for _ in range(3):
            await m.runtime.tick()
        handed = {rid: len([n for n in await m.notices(renter, rid) if n.sensitive]) for rid, _ in rentals}
        assert handed == {rid: 1 for rid, _ in rentals}, handed
        assert [await m.state(rid) for rid, _ in rentals] == ["provisioning"] * 3   # starts still open
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
    for rid, _ in rentals:
        await funded_and_active(m, rid)
