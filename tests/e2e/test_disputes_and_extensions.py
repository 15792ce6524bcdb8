"""Disputes, resolutions, extensions and early ends through the chain, end to end: anvil with the
deployed escrow, a real sshd with the shipped helper, the bot's runtime driven by its commands,
and the people's wallets sending exactly the transactions the bot's replies list."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from bot.chain.escrow import Status
from bot.db.models import Dispute
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_KEY, TX_LINE,
                                Market, Person)

WEI = 10**16                       # 0.01 ETH: one hour of the offer
BPS = 10_000


async def active_rental(m: Market, hours: int = 1) -> tuple[Person, Person, int]:
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id, hours=hours)
    await m.pay_reply(renter, text)

    async def active() -> bool:
        return await m.state(rental_id) == "active"
    await m.tick_until(active, f"rental {rental_id} active")
    return provider, renter, rental_id


async def support(m: Market) -> Person:
    m.settings.support.append("console:sue")
    live = m.runtime.services.ctx.settings      # the runtime's copy, with the contract's values filled in
    if live is not m.settings:
        live.support.append("console:sue")
    sue = await m.person("sue")
    assert sue.actor.is_support
    return sue


def login(m: Market, user: str, key) -> tuple[int, str]:
    out = m.sshd.ssh(user, key, "id -un")
    return out.returncode, out.stdout.decode() + out.stderr.decode()


async def owed(m: Market, *people: Person) -> list[int]:
    return [await m.escrow().owed(p.address) for p in people] + [await m.escrow().owed(ADDRESS[FEE_KEY])]


async def dispute_row(m: Market, rental_id: int) -> Dispute:
    async with m.runtime.services.ctx.sessions() as session:
        return await session.scalar(select(Dispute).where(Dispute.rental_id == rental_id))


async def chain_status(m: Market, rental_id: int) -> Status:
    return (await m.escrow().rental((await m.rental(rental_id)).escrow_id)).status


async def registered_on_chain(m: Market, rental_id: int) -> None:
    async def seen() -> bool:
        return any(t.startswith("chain_note: the dispute is registered on chain")
                   for t in await m.timeline(rental_id, detail=True))
    await m.tick_until(seen, "the Disputed event applied")


def no_event_errors(timeline: list[str]) -> None:
    """An event that did not fit the rental's state leaves a "<Event> on chain while <state>" note."""
    assert not [t for t in timeline if " on chain while " in t], "\n".join(timeline)


async def revoked(m: Market, rental_id: int, state: str) -> None:
    async def done() -> bool:
        r = await m.rental(rental_id)
        return r.state == state and r.revoked_at is not None
    await m.tick_until(done, f"{state} and revoked")


async def test_dispute_registered_on_chain_then_resolved_60_40_by_the_arbiter_key(market: Market) -> None:
    m = market
    provider, renter, rental_id = await active_rental(m)
    sue = await support(m)
    row = await m.rental(rental_id)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out
    m.warp(600)

    reply = await m.ok(renter, f"/dispute {rental_id} the GPU throttles to half speed")
    assert await m.state(rental_id) == "disputed"
    (tx,) = TX_LINE.findall(reply.text)
    assert tx == (m.escrow_address, "0", m.escrow().dispute_tx(row.escrow_id)["data"])
    assert [n for n in await m.runtime.services.outbox.pending(limit=1000)
            if n.rental_id == rental_id and n.target == "support" and "throttles" in n.body]

    # support decides before the dispute is registered on chain: the escrow would refuse, so nothing changes
    early = await m.say(sue, f"/resolve #{rental_id} 60 throttled")
    assert not early.ok and "not registered on chain" in early.text and "Nothing was changed" in early.text, early.text
    assert await m.state(rental_id) == "disputed" and (await dispute_row(m, rental_id)).status == "open"
    assert await chain_status(m, rental_id) == Status.ACTIVE
    assert f"#{rental_id}" in (await m.ok(sue, "/disputes")).text

    # the renter's wallet sends the dispute transaction; the watcher sees the clock frozen on chain
    await m.pay_reply(renter, reply.text)
    await registered_on_chain(m, rental_id)
    record = await m.escrow().rental(row.escrow_id)
    assert record.status == Status.DISPUTED and record.stopped_at == record.disputed_at > record.started_at
    assert await m.state(rental_id) == "disputed"

    # the clock is frozen, so the renter no longer pays: access is suspended during the dispute
    await revoked(m, rental_id, "disputed")
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0 and "Permission denied" in out, out
    assert row.unix_user not in m.sshd.renters() and not m.sshd.user_exists(row.unix_user)
    (dm,) = [n for n in await m.notices(renter, rental_id) if "access is suspended during the dispute" in n.body]
    assert not dm.sensitive and (await m.rental(rental_id)).credentials_sealed is None

    # parties cannot decide their own dispute
    for party in (renter, provider):
        assert not (await m.say(party, f"/resolve #{rental_id} 100")).ok

    reply = await m.ok(sue, f"/resolve #{rental_id} 60 host throttled for most of the time")
    assert "60% to the renter" in reply.text and "escrow paid the split" in reply.text, reply.text
    assert await m.state(rental_id) == "resolved"
    assert await chain_status(m, rental_id) == Status.RESOLVED
    (resolved,) = await m.escrow_events("Resolved", row.escrow_id)
    renter_part = WEI * 6000 // BPS
    gross = WEI - renter_part
    fee = gross * FEE_BPS // BPS
    assert (resolved["renterBps"], resolved["renterPart"], resolved["providerPart"], resolved["fee"]) == \
        (6000, renter_part, gross - fee, fee)
    assert await owed(m, renter, provider) == [renter_part, gross - fee, fee]
    assert renter_part + (gross - fee) + fee == WEI

    # access stays removed (revoked once, at the dispute); the Resolved event is only a note
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    assert row.unix_user not in m.sshd.renters() and not m.sshd.user_exists(row.unix_user)
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0 and "Permission denied" in out, out
    timeline = await m.timeline(rental_id, detail=True)
    no_event_errors(timeline)
    kinds = [t.split(":")[0] for t in timeline]
    assert kinds.count("resolve") == 1 and kinds.count("revoked") == 1
    assert kinds.index("dispute") < kinds.index("revoked") < kinds.index("resolve"), kinds
    assert any(t.startswith("chain_note: resolution paid on chain") for t in timeline), timeline
    d = await dispute_row(m, rental_id)
    assert (d.status, d.renter_bps, d.resolved_by) == ("resolved", 6000, sue.actor.user_id)
    assert (await m.ok(sue, "/disputes")).text == "No open disputes."
    assert not (await m.say(sue, f"/resolve #{rental_id} 10")).ok
    for who in (renter, provider):
        assert any("decided and paid" in n.body for n in await m.notices(who, rental_id))
    # the renter collects their 60 %
    reply = await m.ok(renter, "/withdraw")
    await m.pay_reply(renter, reply.text)
    assert await m.escrow().owed(renter.address) == 0


async def test_resolve_without_the_arbiter_key_records_and_shows_the_arbiter_tx(market: Market) -> None:
    m = market
    m.settings.arbiter_key = None
    await m.restart()
    assert m.runtime.services.ctx.escrow.arbiter is None
    provider, renter, rental_id = await active_rental(m)
    sue = await support(m)
    row = await m.rental(rental_id)
    m.warp(900)

    reply = await m.ok(provider, f"/dispute {rental_id} the renter is mining, not training")
    decided = await m.ok(sue, f"/resolve #{rental_id} 30")
    assert "no arbiter key" in decided.text and "nothing is paid yet" in decided.text, decided.text
    assert "not registered on chain" in decided.text          # warned: the arbiter's call would fail now
    (tx,) = TX_LINE.findall(decided.text)
    assert tx == (m.escrow_address, "0", m.escrow().resolve_tx(row.escrow_id, 3000)["data"])
    assert await m.state(rental_id) == "resolved"
    assert await owed(m, renter, provider) == [0, 0, 0]

    # the provider registers the dispute, then the arbiter sends exactly the shown transaction
    await m.pay_reply(provider, reply.text)
    await registered_on_chain(m, rental_id)
    await m.send_as(ARBITER_KEY, tx[0], tx[2], int(tx[1]))

    async def paid() -> bool:
        timeline = await m.timeline(rental_id, detail=True)
        return any(t.startswith("chain_note: resolution paid on chain") for t in timeline)
    await m.tick_until(paid, "Resolved applied")
    renter_part = WEI * 3000 // BPS
    fee = (WEI - renter_part) * FEE_BPS // BPS
    assert await owed(m, renter, provider) == [renter_part, WEI - renter_part - fee, fee]
    await revoked(m, rental_id, "resolved")
    no_event_errors(await m.timeline(rental_id, detail=True))
    d = await dispute_row(m, rental_id)
    assert (d.status, d.renter_bps, d.opened_by) == ("resolved", 3000, provider.actor.user_id)


async def test_extend_keeps_access_then_end_early_settles_pro_rata(market: Market) -> None:
    m = market
    provider, renter, rental_id = await active_rental(m)
    row = await m.rental(rental_id)
    m.warp(1200)

    reply = await m.ok(renter, f"/extend {rental_id} 2")
    (tx,) = TX_LINE.findall(reply.text)
    assert tx[0] == m.escrow_address and int(tx[1]) == 2 * WEI
    await m.pay_reply(renter, reply.text)

    async def extended() -> bool:
        return (await m.rental(rental_id)).hours == 3
    await m.tick_until(extended, "Extended applied")
    row = await m.rental(rental_id)
    record = await m.escrow().rental(row.escrow_id)
    assert (row.amount, record.amount, record.duration) == (3 * WEI, 3 * WEI, 3 * 3600)
    assert row.ends_at == datetime.fromtimestamp(record.started_at + 3 * 3600, tz=timezone.utc)
    assert row.state == "active" and row.fee == 3 * WEI * FEE_BPS // BPS
    assert any("extended by 2 h" in n.body for n in await m.notices(renter, rental_id))

    # past the original end: still running, access kept
    m.warp(3600 - 1200 + 60)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    assert row.state == "active" and row.revoked_at is None and row.unix_user in m.sshd.renters()
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out

    # the renter ends it early: ended, revoked, and after the dispute window settled pro rata
    reply = await m.ok(renter, f"/end {rental_id}")
    (tx,) = TX_LINE.findall(reply.text)
    assert tx == (m.escrow_address, "0", m.escrow().end_early_tx(row.escrow_id)["data"])
    await m.pay_reply(renter, reply.text)
    await revoked(m, rental_id, "ended")
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code != 0 and "Permission denied" in out, out
    (ended,) = await m.escrow_events("EndedEarly", row.escrow_id)
    assert (await m.rental(rental_id)).ended_at == datetime.fromtimestamp(ended["endedAt"], tz=timezone.utc)

    m.warp(DISPUTE_WINDOW + 5)

    async def settled() -> bool:
        return await m.state(rental_id) == "settled"
    await m.tick_until(settled, "settled")
    (started,) = await m.escrow_events("Started", row.escrow_id)
    elapsed = ended["endedAt"] - started["startedAt"]
    assert 3600 < elapsed < 2 * 3600
    gross = 3 * WEI * elapsed // (3 * 3600)
    fee = gross * FEE_BPS // BPS
    (settled_event,) = await m.escrow_events("Settled", row.escrow_id)
    assert (settled_event["renterPart"], settled_event["providerPart"], settled_event["fee"]) == \
        (3 * WEI - gross, gross - fee, fee)
    assert await owed(m, renter, provider) == [3 * WEI - gross, gross - fee, fee]
    no_event_errors(await m.timeline(rental_id, detail=True))


def host_key_expiry(m: Market, user: str) -> tuple[datetime, str]:
    """The expiry-time on the renter's key line on the host, and the key itself."""
    options, key_type, key_body = (m.sshd.key_dir / user).read_text().split()
    (stamp,) = re.findall(r'expiry-time="([0-9]{12})Z"', options)
    return datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=timezone.utc), f"{key_type} {key_body}"


def account_expiry_day(user: str) -> int:
    """The account's expiry (days since 1970) from /etc/shadow."""
    for line in Path("/etc/shadow").read_text().splitlines():
        if line.split(":")[0] == user:
            return int(line.split(":")[7])
    raise KeyError(user)


async def test_extend_pushes_out_the_account_expiry_backstop(market: Market) -> None:
    m = market
    _, renter, rental_id = await active_rental(m)
    row = await m.rental(rental_id)
    expires, key = host_key_expiry(m, row.unix_user)
    assert row.ends_at <= expires < row.ends_at + timedelta(minutes=15), (expires, row.ends_at)
    assert row.host_expiry is not None and row.ends_at <= row.host_expiry <= expires
    assert key == row.ssh_public_key                  # the renter's key as installed, stored on the rental

    await m.pay_reply(renter, (await m.ok(renter, f"/extend {rental_id} 2")).text)

    async def pushed() -> bool:
        r = await m.rental(rental_id)
        return r.hours == 3 and r.host_expiry is not None and r.host_expiry >= r.ends_at
    await m.tick_until(pushed, "Extended applied and the host's expiry pushed out")
    for _ in range(3):                           # once per extension: later ticks change nothing
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    assert row.state == "active" and row.ends_at == datetime.fromtimestamp(
        (await m.escrow().rental(row.escrow_id)).started_at + 3 * 3600, tz=timezone.utc)
    expires, key_after = host_key_expiry(m, row.unix_user)
    # the key stops working just after the new end (grace, rounded up to the minute), not at the old one
    assert row.ends_at + timedelta(minutes=10) <= expires < row.ends_at + timedelta(minutes=11), (expires, row.ends_at)
    assert row.host_expiry == row.ends_at + timedelta(minutes=10)
    assert key_after == key                                        # the same key, rewritten
    # the account's own backstop is the day after the key's expiry
    assert account_expiry_day(row.unix_user) == (expires + timedelta(days=1)).date().toordinal() \
        - date(1970, 1, 1).toordinal()
    assert [t for t in await m.timeline(rental_id) if t == "access_extended"] == ["access_extended"]
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0 and out.splitlines()[0] == row.unix_user, out
    no_event_errors(await m.timeline(rental_id, detail=True))


async def test_extension_mined_just_before_the_end_is_not_ended_before_its_event(market: Market) -> None:
    """The worker reaches the old end before the watcher applied the Extended event (mined just
    before the end): the chain still runs the rental, so it is not ended, revoked or wiped here."""
    m = market
    _, renter, rental_id = await active_rental(m)
    row = await m.rental(rental_id)
    assert m.sshd.ssh(row.unix_user, renter.ssh_private, "touch ~/results").returncode == 0
    m.warp(int((row.ends_at - m.clock.now).total_seconds()) - 60)
    await m.pay_reply(renter, (await m.ok(renter, f"/extend {rental_id} 1")).text)
    m.warp(120)                                   # past the old end on both clocks
    assert m.clock.now > row.ends_at

    for _ in range(2):                            # the worker alone: the watcher has not polled yet
        await m.runtime.fulfilment.run_once()
    row = await m.rental(rental_id)
    assert (row.state, row.hours, row.revoked_at) == ("active", 1, None)
    assert row.unix_user in m.sshd.renters()
    assert not [n for n in await m.notices(renter, rental_id) if "has ended" in n.body]

    async def extended() -> bool:
        r = await m.rental(rental_id)
        return r.hours == 2 and r.host_expiry is not None and r.host_expiry >= r.ends_at
    await m.tick_until(extended, "Extended applied, access pushed out")
    row = await m.rental(rental_id)
    record = await m.escrow().rental(row.escrow_id)
    assert row.state == "active" and row.ends_at == datetime.fromtimestamp(record.started_at + 2 * 3600,
                                                                           tz=timezone.utc)
    out = m.sshd.ssh(row.unix_user, renter.ssh_private, "test -f ~/results && id -un")
    assert out.returncode == 0 and out.stdout.decode().strip() == row.unix_user, out
    no_event_errors(await m.timeline(rental_id, detail=True))

    # the new end passes: now it ends (at the chain's end) and access goes
    m.warp(3600 + 5)
    await revoked(m, rental_id, "ended")
    assert (await m.rental(rental_id)).ended_at == row.ends_at
    assert row.unix_user not in m.sshd.renters()


async def test_unanswered_dispute_is_settled_by_the_worker_after_the_timeout(market: Market) -> None:
    m = market
    provider, renter, rental_id = await active_rental(m)
    row = await m.rental(rental_id)
    m.warp(1800)
    reply = await m.ok(renter, f"/dispute {rental_id} the machine rebooted twice")
    await m.pay_reply(renter, reply.text)
    await registered_on_chain(m, rental_id)
    record = await m.escrow().rental(row.escrow_id)

    # the rental's own end and dispute window pass: nothing moves while the dispute is open
    m.warp(DISPUTE_TIMEOUT - 3600)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    assert await m.state(rental_id) == "disputed" and await chain_status(m, rental_id) == Status.DISPUTED

    m.warp(3600 + 5)
    await revoked(m, rental_id, "settled")
    (settled_event,) = await m.escrow_events("Settled", row.escrow_id)
    elapsed = record.disputed_at - record.started_at        # the clock froze at the dispute
    gross = WEI * elapsed // 3600
    fee = gross * FEE_BPS // BPS
    assert (settled_event["renterPart"], settled_event["providerPart"], settled_event["fee"]) == \
        (WEI - gross, gross - fee, fee)
    assert await owed(m, renter, provider) == [WEI - gross, gross - fee, fee]
    assert row.unix_user not in m.sshd.renters()
    d = await dispute_row(m, rental_id)
    assert d.status == "timed_out"
    sue = await support(m)
    assert (await m.ok(sue, "/disputes")).text == "No open disputes."
    late = await m.say(sue, f"/resolve #{rental_id} 50")
    assert not late.ok and "no open dispute" in late.text
    no_event_errors(await m.timeline(rental_id, detail=True))
    assert timedelta(seconds=elapsed) < timedelta(hours=1)


async def test_dispute_never_registered_on_chain_is_settled_from_the_rental_end(market: Market) -> None:
    """/dispute without the on-chain transaction: the escrow still runs the rental, nobody can resolve
    it there, and once end + dispute window passed the chain lets anyone settle: the worker does."""
    m = market
    provider, renter, rental_id = await active_rental(m)
    row = await m.rental(rental_id)
    await m.ok(renter, f"/dispute {rental_id} slow disk")          # the tx it lists is never sent
    for _ in range(2):                  # the renter still pays on chain, so access stays until the end
        m.mine()
        await m.runtime.tick()
    assert (await m.rental(rental_id)).revoked_at is None and row.unix_user in m.sshd.renters()
    m.warp(3600 + DISPUTE_WINDOW - 60)
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    assert await m.state(rental_id) == "disputed" and await chain_status(m, rental_id) == Status.ACTIVE
    assert (await m.rental(rental_id)).revoked_at is not None and row.unix_user not in m.sshd.renters()
    m.warp(120)
    await revoked(m, rental_id, "settled")
    fee = WEI * FEE_BPS // BPS
    assert await owed(m, renter, provider) == [0, WEI - fee, fee]
    assert (await dispute_row(m, rental_id)).status == "timed_out"
    assert row.unix_user not in m.sshd.renters()
    no_event_errors(await m.timeline(rental_id, detail=True))
