"""A provider host that does not answer for a while (issue 8 item 8), with the real parts: the
real sshd with the helper reached through a TCP link that drops, anvil with the escrow, the runtime.

A 40-second blip refunds nobody and pauses no offer: the rental is provisioned once the host is
back. A host that stays down until close to the start deadline is given up: the renter is refunded
and told a plain reason (no address, no port, no raw error); only then is the offer paused.
"""
from __future__ import annotations

import re

import pytest

from bot.chain.escrow import Status
from bot.db.models import Provider
from tests.e2e.conftest import PROVIDER_KEY, RENTER_KEY, START_WINDOW, Market, Person
from tests.e2e.test_rental_flow import WEI, funded_and_active, login, refunded
from tests.support.tcpproxy import TcpProxy


@pytest.fixture
def link(sshd):
    with TcpProxy(sshd.port) as proxy:
        yield proxy


async def offer_behind(m: Market, link: TcpProxy) -> tuple[Person, Person, int]:
    """A verified host reached at the link's port, and an offer on it."""
    provider = await m.person("prov", PROVIDER_KEY)
    renter = await m.person("ren", RENTER_KEY)
    await m.link_wallet(provider)
    await m.link_wallet(renter)
    await m.set_ssh_key(renter)
    reply = await m.ok(provider, f"/host add rig 127.0.0.1 {link.port} {m.sshd.provider_user}")
    (installed,) = re.findall(r"echo 'restrict (ssh-ed25519 [A-Za-z0-9+/=]+)' >> ~", reply.text)
    m.sshd.authorize(installed)
    await m.ok(provider, "/host verify rig")
    reply = await m.ok(provider, "/offer create gpu=rtx4090 count=1 vram=24 price=0.01 token=ETH hours=1-24 "
                                 "region=eu host=rig")
    return provider, renter, int(re.search(r"Offer #([0-9]+) is listed", reply.text).group(1))


async def failed_count(m: Market) -> int:
    async with m.runtime.services.ctx.sessions() as session:
        return (await session.get(Provider, 1)).failed_count


async def test_a_40_second_ssh_blip_is_retried_not_refunded(market: Market, link: TcpProxy) -> None:
    m = market
    provider, renter, offer_id = await offer_behind(m, link)
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.watch_until_funded(rental_id)
    link.down()
    for _ in range(4):                                  # 40 s of the host not answering
        m.mine()
        await m.runtime.tick()
        row = await m.rental(rental_id)
        assert row.state == "provisioning" and row.refund_reason is None, row.refund_reason
        m.warp(10)
    link.up()
    m.warp(60)                                          # the backoff's next try
    await funded_and_active(m, rental_id)
    row = await m.rental(rental_id)
    assert row.refund_reason is None
    assert "active" in (await m.ok(renter, f"/offer {offer_id}")).text.splitlines()[0]
    assert await failed_count(m) == 0
    assert not [n for n in await m.notices(provider) if "could not be delivered" in n.body]
    kinds = await m.timeline(rental_id)
    assert kinds.count("host_unreachable") == 1 and "delivery_failed" not in kinds, kinds
    assert len([n for n in await m.notices(renter, rental_id) if n.sensitive]) == 1
    code, out = login(m, row.unix_user, renter.ssh_private)
    assert code == 0, out


async def test_a_host_down_until_the_deadline_refunds_with_a_plain_reason(market: Market, link: TcpProxy) -> None:
    m = market
    provider, renter, offer_id = await offer_behind(m, link)
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.watch_until_funded(rental_id)
    link.down()
    m.mine()
    await m.runtime.tick()
    assert (await m.rental(rental_id)).refund_reason is None
    m.warp(START_WINDOW - 200)                          # close to the start deadline, still down
    for _ in range(10):                                 # the retries go on, with backoff, until given up
        if (await m.rental(rental_id)).refund_reason:
            break
        await m.runtime.tick()
        assert await m.state(rental_id) == "provisioning"
        m.warp(30)
    await refunded(m, rental_id)
    row = await m.rental(rental_id)
    assert (await m.escrow().rental(row.escrow_id)).status == Status.CANCELLED
    assert await m.escrow().owed(renter.address) == WEI
    said = [row.refund_reason] + [n.body for n in await m.notices(renter, rental_id)]
    assert any("could not be reached" in s for s in said), said
    for s in said:
        assert "127.0.0.1" not in s and str(link.port) not in s and "Error" not in s, s
    assert "flagged" in (await m.ok(renter, f"/offer {offer_id}")).text
    assert await failed_count(m) == 1
