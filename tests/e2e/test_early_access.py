"""Access handed over with the start transaction, not after it is mined and confirmed (issue 14),
with the real parts: anvil with the escrow, the real sshd with the helper, the runtime.

The start is tracked by hash: reorged out it is sent again (the same signed transaction), and a
start that can no longer happen ends in a refund that also removes the access handed over.
"""
from __future__ import annotations

from bot.chain.escrow import Status
from tests.e2e.conftest import START_WINDOW, Market
from tests.e2e.test_rental_flow import WEI, funded_and_active, login, refunded
from tests.e2e.test_start_races import chain_end_of, paid_and_funded


async def creds(m: Market, renter, rental_id: int) -> list:
    return [n for n in await m.notices(renter, rental_id) if n.sensitive]


async def start_tx(m: Market, escrow_id: str):
    return await m.runtime.services.ctx.escrow.operator.journal.latest_for(escrow_id, "start")


async def test_credentials_go_out_with_the_start_and_the_exact_end_follows(market: Market) -> None:
    m = market
    provider, renter, rental_id = await paid_and_funded(m)
    row = await m.rental(rental_id)
    m.anvil.rpc("evm_setAutomine", [False])
    try:
        await m.runtime.fulfilment.run_once()
        # the start is only sent, not mined, and the renter can log in already
        assert (await start_tx(m, row.escrow_id)).status == "pending"
        assert (await m.escrow().rental(row.escrow_id)).status == Status.FUNDED
        (dm,) = await creds(m, renter, rental_id)
        assert "from the start on chain" in dm.body and await m.state(rental_id) == "provisioning"
        row = await m.rental(rental_id)
        code, out = login(m, row.unix_user, renter.ssh_private)
        assert code == 0, out
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)
    assert int(row.ends_at.timestamp()) == await chain_end_of(m, row.escrow_id)
    assert row.host_expiry >= row.ends_at
    assert len(await creds(m, renter, rental_id)) == 1
    started = [n.body for n in await m.notices(renter, rental_id) if "clock started on chain" in n.body]
    assert len(started) == 1 and f"{row.ends_at:%Y-%m-%d %H:%M:%S}" in started[0], started


async def test_a_start_reorged_out_is_sent_again(market: Market) -> None:
    m = market
    provider, renter, rental_id = await paid_and_funded(m)
    row = await m.rental(rental_id)
    await m.runtime.fulfilment.run_once()                # start sent and mined at once (automine)
    sent = await start_tx(m, row.escrow_id)
    assert (await m.escrow().rental(row.escrow_id)).status == Status.ACTIVE
    m.anvil.rpc("anvil_reorg", [1, []])                   # its block is replaced by an empty one
    assert (await m.escrow().rental(row.escrow_id)).status == Status.FUNDED
    await funded_and_active(m, rental_id)
    after = await start_tx(m, row.escrow_id)
    assert after.id == sent.id and after.status == "mined" and after.mined_hash == sent.tx_hash
    assert len(await m.escrow_events("Started", row.escrow_id)) == 1
    assert len(await creds(m, renter, rental_id)) == 1
    row = await m.rental(rental_id)
    assert int(row.ends_at.timestamp()) == await chain_end_of(m, row.escrow_id)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out


async def test_a_start_that_can_no_longer_happen_refunds_and_removes_the_access(market: Market) -> None:
    m = market
    provider, renter, rental_id = await paid_and_funded(m)
    row = await m.rental(rental_id)
    m.anvil.rpc("evm_setAutomine", [False])
    try:
        await m.runtime.fulfilment.run_once()
        sent = await start_tx(m, row.escrow_id)
        assert len(await creds(m, renter, rental_id)) == 1
        m.anvil.rpc("anvil_dropTransaction", [sent.tx_hash])      # the node loses it ...
        m.warp(START_WINDOW + 10)                                  # ... until past the start window
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
    await refunded(m, rental_id)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    assert "start window" in row.refund_reason
    assert (await m.escrow().rental(row.escrow_id)).status == Status.CANCELLED
    assert await m.escrow_events("Started", row.escrow_id) == []
    assert await m.escrow().owed(renter.address) == WEI
    assert row.revoked_at is not None and not m.sshd.user_exists(row.unix_user)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0, out
    assert (await start_tx(m, row.escrow_id)).status in ("reverted", "dropped")


def ssh_commands() -> float:
    from bot.observability.metrics import SSH_SECONDS

    return sum(s.value for m in SSH_SECONDS.collect() for s in m.samples if s.name.endswith("_count"))


async def test_rentals_funded_together_on_one_host_are_set_up_in_one_helper_call(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer(capacity=3)
    ids = []
    for _ in range(3):
        rental_id, text = await m.rent(renter, offer_id)
        await m.pay_reply(renter, text)
        ids.append(rental_id)
    for _ in range(5):
        m.mine()
        await m.runtime.watcher.poll_once()
    assert [await m.state(i) for i in ids] == ["funded"] * 3
    before = ssh_commands()
    await m.runtime.fulfilment.run_once()
    assert ssh_commands() - before == 2          # one batch create for the three, one GPU read
    for rental_id in ids:
        assert len(await creds(m, renter, rental_id)) == 1
        row = await m.rental(rental_id)
        code, out = login(m, row.unix_user, renter.ssh_private)
        assert code == 0, out
    assert sorted(m.sshd.renters()) == sorted([(await m.rental(i)).unix_user for i in ids])


async def deep_confirmations(m: Market) -> None:
    m.settings.chain.confirmations = 3
    await m.restart()


async def start_txs(m: Market, escrow_id: str) -> int:
    return await m.runtime.services.ctx.escrow.operator.journal.count(escrow_id, "start")


async def test_the_account_is_prepared_while_the_deposit_is_confirmed(market: Market) -> None:
    """A deposit seen in a block not confirmed yet: the account is made meanwhile, but nothing is
    handed over and no start is sent before the deposit is confirmed."""
    m = market
    await deep_confirmations(m)
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.runtime.tick()
    row = await m.rental(rental_id)
    assert row.state == "awaiting_deposit" and row.deposit_seen_at is not None
    assert row.credentials_sealed is not None and m.sshd.user_exists(row.unix_user)
    assert await creds(m, renter, rental_id) == [] and await start_txs(m, row.escrow_id) == 0
    await funded_and_active(m, rental_id)
    assert len(await creds(m, renter, rental_id)) == 1 and await start_txs(m, row.escrow_id) == 1
    kinds = await m.timeline(rental_id)
    assert kinds.count("provisioned") == 1 and kinds.count("deposit_seen") == 1, kinds
    assert kinds.index("provisioned") < kinds.index("deposit_confirmed") < kinds.index("credentials_sent"), kinds
    row = await m.rental(rental_id)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out


async def test_a_seen_deposit_reorged_away_leaves_no_account(market: Market) -> None:
    m = market
    await deep_confirmations(m)
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.runtime.tick()
    row = await m.rental(rental_id)
    assert m.sshd.user_exists(row.unix_user)
    m.anvil.rpc("anvil_reorg", [1, []])                    # the deposit's block is replaced: it is gone
    assert (await m.escrow().rental(row.escrow_id)).status == Status.NONE
    m.warp(m.settings.deposit_timeout_s + 60)

    async def expired_and_removed() -> bool:
        r = await m.rental(rental_id)
        return r.state == "expired" and r.revoked_at is not None
    await m.tick_until(expired_and_removed, "expired, prepared account removed")
    assert not m.sshd.user_exists(row.unix_user)
    assert await creds(m, renter, rental_id) == [] and await start_txs(m, row.escrow_id) == 0
    assert (await m.rental(rental_id)).credentials_sealed is None
