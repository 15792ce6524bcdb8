"""The whole rental flow with real parts: anvil + the deployed escrow, a real sshd host with the
shipped helper, the real OpenSSH client, and the bot's runtime driven through its commands."""
from __future__ import annotations

import asyncio
import re
import subprocess


from bot.chain.escrow import Status
from tests.e2e.conftest import ADDRESS, FEE_BPS, FEE_KEY, START_WINDOW, Market

MAX_ROUNDS = 20

WEI = 10**16                       # 0.01 ETH: one hour of the offer


async def funded_and_active(m: Market, rental_id: int) -> None:
    async def active() -> bool:
        return await m.state(rental_id) == "active"
    await m.tick_until(active, f"rental {rental_id} active")


def login(m: Market, user: str, key) -> tuple[int, str]:
    smi = m.sshd.base / "bin" / "nvidia-smi"     # the host's (fake) driver tool, as the renter runs it
    out = m.sshd.ssh(user, key, f"id -un; {smi} --query-gpu=name,memory.total --format=csv,noheader")
    return out.returncode, out.stdout.decode() + out.stderr.decode()


async def test_happy_path(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id, hours=1)
    row = await m.rental(rental_id)
    assert row.state == "awaiting_deposit" and row.amount == WEI
    assert row.renter_address == renter.address and row.provider_address == provider.address
    await m.pay_reply(renter, text)

    async def funded_or_later() -> bool:
        return await m.state(rental_id) != "awaiting_deposit"
    await m.tick_until(funded_or_later, "deposit seen")
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)
    record = await m.escrow().rental(row.escrow_id)
    assert record.status == Status.ACTIVE and record.amount == WEI and record.renter == renter.address
    kinds = await m.timeline(rental_id)
    assert kinds.index("deposit_confirmed") < kinds.index("provision") < kinds.index("provisioned") \
        < kinds.index("start"), kinds

    # the credentials DM: sensitive, for the renter only, naming the account on the fixture host
    dms = [n for n in await m.notices(renter, rental_id) if n.sensitive]
    assert len(dms) == 1 and row.unix_user in dms[0].body and f"port {m.sshd.port}" in dms[0].body
    assert not [n for n in await m.notices(provider, rental_id) if n.sensitive]
    assert row.unix_user in m.sshd.renters()

    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out
    assert out.splitlines()[0] == row.unix_user and "RTX 4090" in out

    # the rental time runs out: ended, access revoked, login refused
    m.warp(3600 + 5)

    async def revoked() -> bool:
        r = await m.rental(rental_id)
        return r.state == "ended" and r.revoked_at is not None
    await m.tick_until(revoked, "ended and revoked")
    assert row.unix_user not in m.sshd.renters() and not m.sshd.user_exists(row.unix_user)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0 and "Permission denied" in out, out
    assert (await m.rental(rental_id)).credentials_sealed is None

    # after the dispute window the bot settles on chain; the provider is owed amount minus fee
    m.warp(600 + 5)

    async def settled() -> bool:
        return await m.state(rental_id) == "settled"
    await m.tick_until(settled, "settled")
    record = await m.escrow().rental(row.escrow_id)
    assert record.status == Status.SETTLED
    fee = WEI * FEE_BPS // 10_000
    assert await m.escrow().owed(provider.address) == WEI - fee
    assert await m.escrow().owed(ADDRESS[FEE_KEY]) == fee
    assert await m.escrow().owed(renter.address) == 0
    (settled_event,) = await m.escrow_events("Settled", row.escrow_id)
    assert settled_event["providerPart"] == WEI - fee and settled_event["renterPart"] == 0

    reply = await m.ok(provider, "/earnings")
    assert "0.0099 ETH" in reply.text and provider.address in reply.text
    reply = await m.ok(provider, "/withdraw")
    (tx,) = re.findall(r"to (0x[0-9a-fA-F]{40}) value ([0-9]+) data (0x[0-9a-fA-F]*)", reply.text)
    assert tx[0] == m.escrow_address and tx[1] == "0"
    assert tx[2] == m.escrow().withdraw_tx(None)["data"]
    # the described transaction really pays the provider out
    before = await m.w3.eth.get_balance(provider.address)
    await m.pay_reply(provider, reply.text)
    assert await m.escrow().owed(provider.address) == 0
    assert await m.w3.eth.get_balance(provider.address) > before
    assert (await m.say(renter, "/earnings")).text.endswith("nothing right now.")


async def refunded(m: Market, rental_id: int) -> None:
    async def done() -> bool:
        return await m.state(rental_id) == "refunded"
    await m.tick_until(done, f"rental {rental_id} refunded")


async def test_gpu_mismatch_is_refunded_and_flags_the_offer(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    m.sshd.set_gpus("NVIDIA GeForce RTX 3060, 12288 MiB\n")     # the host no longer has what it listed
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await refunded(m, rental_id)

    row = await m.rental(rental_id)
    assert row.refund_reason and "GPU check failed" in row.refund_reason, row.refund_reason
    record = await m.escrow().rental(row.escrow_id)
    assert record.status == Status.CANCELLED
    assert await m.escrow().owed(renter.address) == WEI
    assert await m.escrow().owed(provider.address) == 0
    assert len(await m.escrow_events("Cancelled", row.escrow_id)) == 1
    assert await m.escrow_events("Started", row.escrow_id) == []
    # the account made while checking is gone again; nobody can log in
    assert m.sshd.renters() == [] and not m.sshd.user_exists(row.unix_user)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0, out
    assert row.credentials_sealed is None
    # the offer is paused for review and cannot be rented
    assert "flagged" in (await m.ok(renter, f"/offer {offer_id}")).text
    assert not (await m.say(renter, f"/rent {offer_id} 1")).ok
    # both sides are told
    to_provider = [n.body for n in await m.notices(provider, rental_id)]
    assert any("could not be delivered" in b and "flagged" in b for b in to_provider), to_provider
    to_renter = [n.body for n in await m.notices(renter, rental_id)]
    assert any("cancelled" in b and "0.01 ETH" in b and "/withdraw" in b for b in to_renter), to_renter
    assert not [n for n in await m.notices(renter, rental_id) if n.sensitive]


async def test_credentials_only_to_the_renter_privately(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    stranger = await m.person("eve")
    rental_id, text = await m.rent(renter, offer_id)
    early = await m.say(renter, f"/credentials {rental_id}")
    assert not early.ok and "no SSH login" in early.text
    await m.pay_reply(renter, text)
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)

    reply = await m.say(renter, f"/credentials {rental_id}")
    assert reply.ok and reply.private
    assert row.unix_user in reply.text and f"port {m.sshd.port}" in reply.text
    # what it says works with the renter's own key
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out
    for other in (provider, stranger):
        denied = await m.say(other, f"/credentials {rental_id}")
        assert not denied.ok and row.unix_user not in denied.text, denied.text
    assert not (await m.say(stranger, f"/rental {rental_id}")).ok

    m.warp(3600 + 5)

    async def revoked() -> bool:
        return (await m.rental(rental_id)).revoked_at is not None
    await m.tick_until(revoked, "revoked")
    after = await m.say(renter, f"/credentials {rental_id}")
    assert not after.ok and row.unix_user not in after.text


async def replay_all(m: Market, rental_id: int, *, tick: bool = True) -> int:
    """Deliver every event already applied for the rental to the handler once more (as a reorg
    re-inclusion or a restored backup would), then make the watcher re-read the whole range from
    its start block. Returns how many events were replayed."""
    from sqlalchemy import select, update

    from bot.chain.models import ChainCursor, ChainEvent
    from bot.services.chain_events import RentalEventHandler

    row = await m.rental(rental_id)
    ctx = m.runtime.services.ctx
    async with ctx.sessions() as session:
        stored = (await session.scalars(select(ChainEvent).where(ChainEvent.rental_id == row.escrow_id)
                                        .order_by(ChainEvent.block_number, ChainEvent.log_index))).all()
    handler = RentalEventHandler(ctx)
    for ev in stored:
        async with ctx.sessions.begin() as session:
            await handler.apply(session, m.runtime.watcher._event_of(ev))
    async with ctx.sessions.begin() as session:
        await session.execute(update(ChainCursor).values(block_number=m.start_block - 1, block_hash=None))
    for _ in range(3):
        m.mine()
        await (m.runtime.tick() if tick else m.runtime.watcher.poll_once())
    return len(stored)


async def test_ticks_restarts_and_replays_never_act_twice(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)

    # the watcher alone sees the deposit: funded, nothing done yet
    await m.watch_until_funded(rental_id)

    # the Deposited event delivered again while funded must not turn into a refund
    assert await replay_all(m, rental_id, tick=False) == 1
    row = await m.rental(rental_id)
    assert row.state == "funded" and row.refund_reason is None, (row.state, row.refund_reason)

    # restart between funded and start, once cleanly and once right after a worker claimed it
    await m.restart()
    assert await m.runtime.fulfilment._claim_for_provisioning(rental_id) is not None
    await m.restart()
    for _ in range(3):                      # a fresh claim is someone else's: left alone
        m.mine()
        await m.runtime.tick()
    assert await m.state(rental_id) == "provisioning" and m.sshd.renters() == []
    # once the claim is stale, two workers (a second runtime on the same database) race for it
    m.warp(360)
    first = m.runtime
    other = await m.start()
    try:
        for _ in range(MAX_ROUNDS):
            m.mine()
            await asyncio.gather(first.tick(), other.tick())
            if await m.state(rental_id) == "active":
                break
    finally:
        await other.close()
        m.runtime = first
    assert await m.state(rental_id) == "active"
    row = await m.rental(rental_id)
    user = row.unix_user

    for _ in range(5):
        m.mine()
        await m.runtime.tick()
    await m.restart()
    assert await replay_all(m, rental_id) == 2          # Deposited and Started

    row = await m.rental(rental_id)
    assert row.state == "active" and row.refund_reason is None and row.unix_user == user
    assert m.sshd.renters() == [user]
    assert len(await m.escrow_events("Deposited", row.escrow_id)) == 1
    assert len(await m.escrow_events("Started", row.escrow_id)) == 1
    assert await m.escrow_events("Cancelled", row.escrow_id) == []
    assert (await m.escrow().rental(row.escrow_id)).status == Status.ACTIVE
    kinds = await m.timeline(rental_id)
    assert kinds.count("provisioned") == 1 and kinds.count("start") == 1, \
        "\n".join(await m.timeline(rental_id, detail=True))
    assert "delivery_failed" not in kinds and "deposit_flagged" not in kinds, kinds
    assert len([n for n in await m.notices(renter, rental_id) if n.sensitive]) == 1
    code, out = login(m, user, renter.ssh_private)
    assert code == 0, out

    # the end, settlement, and their replays: revoked once, settled once, paid once
    m.warp(3600 + 5)
    m.warp(600 + 5)

    async def settled() -> bool:
        r = await m.rental(rental_id)
        return r.state == "settled" and r.revoked_at is not None
    await m.tick_until(settled, "settled and revoked")
    await m.restart()
    assert await replay_all(m, rental_id) == 3          # Deposited, Started, Settled
    row = await m.rental(rental_id)
    assert row.state == "settled" and m.sshd.renters() == []
    assert len(await m.escrow_events("Settled", row.escrow_id)) == 1
    fee = WEI * FEE_BPS // 10_000
    assert await m.escrow().owed(provider.address) == WEI - fee
    assert await m.escrow().owed(renter.address) == 0
    kinds = await m.timeline(rental_id)
    assert kinds.count("revoked") == 1 and kinds.count("settle") == 1 and kinds.count("end") == 1, kinds


async def test_renter_without_a_key_gets_one_made_for_them(market: Market, tmp_path) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer(renter_ssh_key=False)
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)
    (dm,) = [n for n in await m.notices(renter, rental_id) if n.sensitive]
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    assert begin in dm.body and end in dm.body
    key = tmp_path / f"gpuflow-{row.unix_user}.key"      # saved as the DM says, mode 600
    key.write_text(dm.body[dm.body.index(begin):dm.body.index(end) + len(end)] + "\n")
    key.chmod(0o600)
    code, out = login(m, row.unix_user, key)
    assert code == 0 and out.splitlines()[0] == row.unix_user, out
    # the rental keeps the public half only (to rewrite the key line on /extend), never the private key
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True)
    assert row.ssh_public_key == " ".join(public.stdout.split()[:2]) and "PRIVATE" not in row.ssh_public_key
    assert row.ssh_public_key in (m.sshd.key_dir / row.unix_user).read_text()
    m.warp(3600 + 5)

    async def revoked() -> bool:
        return (await m.rental(rental_id)).revoked_at is not None
    await m.tick_until(revoked, "revoked")
    code, out = login(m, row.unix_user, key)
    assert code != 0, out
    # the bot forgot the key with the credentials
    assert (await m.rental(rental_id)).credentials_sealed is None


async def test_start_window_missed_is_refunded_and_access_removed(market: Market) -> None:
    """The bot was down longer than the escrow's start window: the contract's record (FUNDED past the
    window) says refund, so no account is made at all and the renter is refunded; the provider is
    not blamed."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.watch_until_funded(rental_id)
    m.warp(START_WINDOW + 10)
    await refunded(m, rental_id)
    row = await m.rental(rental_id)
    assert "start window" in row.refund_reason, row.refund_reason
    assert "provisioned" not in await m.timeline(rental_id)
    assert await m.escrow_events("Started", row.escrow_id) == []
    assert len(await m.escrow_events("Cancelled", row.escrow_id)) == 1
    assert await m.escrow().owed(renter.address) == WEI
    assert m.sshd.renters() == [] and not m.sshd.user_exists(row.unix_user)
    assert not [n for n in await m.notices(renter, rental_id) if n.sensitive]
    assert "active" in (await m.ok(renter, f"/offer {offer_id}")).text.splitlines()[0]


async def test_deposit_after_the_rental_expired_is_refused_on_chain(market: Market) -> None:
    """A quote never outlives the deposit deadline, so a deposit sent after it is refused by the
    escrow itself: nothing lands, nothing needs refunding."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    m.warp(m.settings.deposit_timeout_s + 10)

    async def expired() -> bool:
        return await m.state(rental_id) == "expired"
    await m.tick_until(expired, "expired")
    try:
        await m.pay_reply(renter, text)                 # the renter pays anyway, late
        raise AssertionError("a deposit after the deadline was accepted")
    except AssertionError:
        raise
    except Exception as exc:
        assert m.escrow().error_in(str(exc)) == "QuoteExpired", exc
    row = await m.rental(rental_id)
    assert (await m.escrow().rental(row.escrow_id)).status == Status.NONE
    assert await m.escrow().owed(renter.address) == 0
    assert not (await m.say(renter, f"/pay {rental_id}")).ok


async def test_reconcile_removes_strays_and_keeps_the_running_rental(market: Market) -> None:
    """An account left by a crash (no rental explains it) goes; the running renter keeps access."""
    from datetime import timedelta

    from bot.ssh.helper import expiry_arg
    from bot.ssh.keys import generate_keypair

    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await funded_and_active(m, rental_id)
    user = (await m.rental(rental_id)).unix_user
    stray = "r_stray0e2e"
    made = m.sshd.run_helper("create", stray, expiry_arg(m.clock() + timedelta(hours=1)),
                             stdin=(generate_keypair().public + "\n").encode())
    assert made.returncode == 0, made.stderr
    assert sorted(m.sshd.renters()) == sorted([user, stray])
    assert await m.runtime.fulfilment.reconcile_hosts() == 1
    assert m.sshd.renters() == [user] and not m.sshd.user_exists(stray)
    code, out = login(m, user, renter.ssh_private)
    assert code == 0, out
    assert await m.runtime.fulfilment.reconcile_hosts() == 0
