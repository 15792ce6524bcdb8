"""One identity per wallet: signing in on a second platform with the wallet linked on the first
attaches the new account to the same user (after the signature only); another wallet's signature
attaches nothing."""
from __future__ import annotations

import pytest
from eth_account import Account

from bot.domain.errors import Conflict, InvalidInput
from tests.delivery.test_two_platforms import provider_offer
from tests.helpers import snapshot
from tests.test_wallet_link import KEY_A, KEY_B, sign

ADDRESS_A = Account.from_key(KEY_A).address


async def sign_in(m, actor, key: str, address: str | None = None) -> str:
    """The manual path: ask for the sign-in message, sign it with `key`, verify."""
    challenge = await m.services.wallets.challenge(actor, address or Account.from_key(key).address)
    return await m.services.wallets.verify(actor, sign(challenge.message, key))


async def test_the_same_wallet_on_a_second_platform_shows_the_same_rentals(market):
    m = market
    _, offer_id = await provider_offer(m, "beta")
    ann_a = await m.on("alpha", "ann", "Ann")
    assert await sign_in(m, ann_a, KEY_A) == ADDRESS_A
    rental = await m.services.rentals.create(ann_a, offer_id, 2)
    ann_b = await m.on("beta", "ann-b", "Ann B")
    assert ann_b.user_id != ann_a.user_id and await m.services.rentals.mine(ann_b) == []
    assert await sign_in(m, ann_b, KEY_A) == ADDRESS_A
    again = await m.on("beta", "ann-b", "Ann B")
    assert again.user_id == ann_a.user_id
    assert [r.id for r in await m.services.rentals.mine(again)] == [rental.id]
    assert [r.id for r in await m.services.rentals.mine(await m.on("alpha", "ann", "Ann"))] == [rental.id]
    assert await m.services.wallets.linked_address(again) == ADDRESS_A
    # a notice for the account goes where the person was last seen (beta), a rental's to its platform
    from bot.delivery.kinds import Kind
    from bot.delivery.notify import notify

    async with m.services.ctx.sessions.begin() as session:
        await notify(session, Kind.WALLET, "wallet:hello", data={"text": "hello"}, user_id=ann_b.user_id)
        await notify(session, Kind.FUNDED, f"rental:{rental.id}:funded", data={"rental": rental.id},
                     user_id=ann_a.user_id, rental_id=rental.id)
    await m.drain()
    assert [p.text for p in m.beta.live("dm:ann-b")] == ["hello"]          # a stale user id still reaches her
    assert [p.kind for p in m.alpha.live("dm:ann")] == ["funded"]


async def test_a_signature_from_another_wallet_attaches_nothing(market):
    m = market
    ann_a = await m.on("alpha", "ann", "Ann")
    await sign_in(m, ann_a, KEY_A)
    mallory = await m.on("beta", "mal", "Mallory")
    challenge = await m.services.wallets.challenge(mallory, ADDRESS_A)      # claims wallet A...
    before = await snapshot(m.app)
    with pytest.raises(InvalidInput, match="does not come from"):
        await m.services.wallets.verify(mallory, sign(challenge.message, KEY_B))   # ...signs with B
    assert await snapshot(m.app) == before
    assert (await m.on("beta", "mal", "Mallory")).user_id == mallory.user_id
    # her own wallet links to her own account, not to Ann's
    await sign_in(m, mallory, KEY_B)
    assert (await m.on("beta", "mal", "Mallory")).user_id == mallory.user_id
    assert await m.services.rentals.mine(mallory) == []


async def test_an_account_with_its_own_history_is_not_merged_by_guesswork(market):
    m = market
    ann_a = await m.on("alpha", "ann", "Ann")
    await sign_in(m, ann_a, KEY_A)
    _, offer_id = await provider_offer(m, "alpha")
    busy = await m.on("beta", "busy", "Busy")
    await m.services.rentals.create(busy, offer_id, 1)
    challenge = await m.services.wallets.challenge(busy, ADDRESS_A)
    before = await snapshot(m.app)
    with pytest.raises(Conflict, match="cannot be joined automatically"):
        await m.services.wallets.verify(busy, sign(challenge.message, KEY_A))
    assert await snapshot(m.app) == before


async def test_display_names_are_refreshed_and_shown_as_user_text(market):
    m = market
    await m.on("alpha", "ann", "Ann")
    renamed = await m.on("alpha", "ann", "@everyone Ann")
    assert renamed.name == "@everyone Ann"
    from bot.chat.message import Style
    from bot.delivery.render import render

    msg = render("delivery-failed", {"user": renamed.name, "platform": "alpha", "reason": "<@123> x", "rental": 1})
    spans = [s for line in msg.lines for s in line if "@" in s.text]
    assert spans and all(s.style is Style.USER for s in spans)      # front-ends neutralise mentions in USER spans
