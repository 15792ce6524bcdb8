"""One provisioning round reads the chain once per rental (issue 13: a burst of deposits spent
most of its round on repeated reads and on one database transaction per claim). Real parts: anvil
with the escrow, the real sshd with the helper, the runtime; the escrow client's own read is
counted on its way to the node."""
from __future__ import annotations

from collections import Counter

from tests.e2e.conftest import Market
from tests.e2e.test_rental_flow import funded_and_active


async def test_a_round_reads_each_rental_once_per_block(market: Market) -> None:
    """Three deposits funded, then one round with no new block: each rental's record is read once
    as of that block (the plan's read is the start's while it is still the head), not again before
    its start; the credentials still go out and the starts still land."""
    m = market
    provider, renter, offer_id = await m.market_with_offer(capacity=3)
    rentals = [await m.rent(renter, offer_id) for _ in range(3)]
    for _, text in rentals:
        await m.pay_reply(renter, text)
    for rid, _ in rentals:
        await m.watch_until_funded(rid)
    escrow = m.runtime.services.ctx.escrow
    reads: Counter = Counter()
    original = escrow.rental

    async def counted(rental_id, block="latest"):
        reads[(rental_id, block)] += 1
        return await original(rental_id, block)

    escrow.rental = counted
    m.anvil.rpc("evm_setAutomine", [False])       # no block within the round: its head stays the head
    try:
        await m.runtime.tick()
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
        escrow.rental = original
    handed = {rid: len([n for n in await m.notices(renter, rid) if n.sensitive]) for rid, _ in rentals}
    assert handed == {rid: 1 for rid, _ in rentals}, handed
    assert len({rental_id for rental_id, _ in reads}) == 3, reads
    assert all(n == 1 for n in reads.values()), reads
    for rid, _ in rentals:
        await funded_and_active(m, rid)
