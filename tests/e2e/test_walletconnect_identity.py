"""One identity per wallet through the WalletConnect path (issue 10 #7): the renter linked a wallet
as a console account and rented; the same person, on Telegram, links by scanning the bot's code
with the official WalletKit wallet holding the same key: the Telegram account joins the renter's
user after the wallet signed, and /rentals there shows the same rental. Real relay (loopback),
real WalletKit, real store and runtime."""
from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import RENTER_KEY, Market, Person
from tests.e2e.test_walletconnect_restart import (URI, dm_containing, provider_offer, start_wallet,
                                                  with_walletconnect)
from tests.wallet.conftest import needs_node, relay  # noqa: F401 - the loopback relay fixture
from tests.wallet.relay import LoopbackRelay

pytestmark = needs_node


async def test_signing_in_on_a_second_platform_with_walletconnect_joins_the_same_user(
        market: Market, relay: LoopbackRelay, tmp_path: Path) -> None:  # noqa: F811
    await with_walletconnect(market, relay)
    offer_id = await provider_offer(market)
    renter = await market.person("ren", RENTER_KEY)
    await market.link_wallet(renter)                       # the manual path, as a console account
    rental_id, _ = await market.rent(renter, offer_id)
    users = market.runtime.services.users
    on_telegram = Person(await users.identify("telegram", "4242", "Ren on Telegram"), RENTER_KEY)
    assert on_telegram.actor.user_id != renter.actor.user_id
    assert "no rentals" in (await market.ok(on_telegram, "/rentals")).text.lower()
    uri = URI.search((await market.ok(on_telegram, "/wallet link")).text).group(1)
    wallet = await start_wallet(market, relay, uri, tmp_path)
    try:
        assert renter.address in await dm_containing(market, on_telegram, "is linked")
    finally:
        await wallet.stop()
    again = Person(await users.identify("telegram", "4242", "Ren on Telegram"), RENTER_KEY)
    assert again.actor.user_id == renter.actor.user_id
    assert f"#{rental_id}" in (await market.ok(again, "/rentals")).text
