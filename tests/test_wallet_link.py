"""Linking a wallet by Sign-In with Ethereum (the manual path), on both databases."""
from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from tests.helpers import person, provider_with_offer, snapshot

KEY_A = "0x" + "11" * 32
KEY_B = "0x" + "22" * 32


def sign(message: str, key: str) -> str:
    return Account.sign_message(encode_defunct(text=message), key).signature.to_0x_hex()


def message_in(reply_text: str) -> str:
    """The message sits between the instruction line and the closing 'Then send ...' line."""
    return reply_text.split("\n\n", 1)[1].rsplit("\n\nThen send", 1)[0]


async def link(app, actor, key: str):
    address = Account.from_key(key).address
    reply = await app.router.handle(actor, f"/wallet link {address}")
    assert reply.ok and reply.private
    return await app.router.handle(actor, f"/wallet verify {sign(message_in(reply.text), key)}")


async def test_link_with_a_real_signature(app):
    alice = await person(app, "alice")
    reply = await link(app, alice, KEY_A)
    assert reply.ok, reply.text
    address = Account.from_key(KEY_A).address
    assert address in reply.text
    assert (await app.router.handle(alice, "/wallet")).text == f"Your linked wallet: {address}"


async def test_signature_by_another_key_is_refused(app):
    alice = await person(app, "alice")
    address = Account.from_key(KEY_A).address
    reply = await app.router.handle(alice, f"/wallet link {address}")
    before = await snapshot(app)
    bad = await app.router.handle(alice, f"/wallet verify {sign(message_in(reply.text), KEY_B)}")
    assert not bad.ok and "does not come from" in bad.text
    assert await snapshot(app) == before


async def test_challenge_expires_and_is_single_use(app, clock):
    alice = await person(app, "alice")
    address = Account.from_key(KEY_A).address
    reply = await app.router.handle(alice, f"/wallet link {address}")
    signature = sign(message_in(reply.text), KEY_A)
    clock.advance(minutes=12)
    late = await app.router.handle(alice, f"/wallet verify {signature}")
    assert not late.ok and "expired" in late.text
    clock.advance(minutes=-12)
    assert (await app.router.handle(alice, f"/wallet verify {signature}")).ok
    again = await app.router.handle(alice, f"/wallet verify {signature}")
    assert not again.ok and "no sign-in message waiting" in again.text


async def test_a_newer_challenge_replaces_the_old_one(app):
    alice = await person(app, "alice")
    address = Account.from_key(KEY_A).address
    first = await app.router.handle(alice, f"/wallet link {address}")
    await app.router.handle(alice, f"/wallet link {address}")
    stale = await app.router.handle(alice, f"/wallet verify {sign(message_in(first.text), KEY_A)}")
    assert not stale.ok


async def test_one_wallet_one_account(app):
    """Whoever proves they hold a linked wallet is that wallet's person: their account joins it
    (tests/delivery/test_identity.py has the cross-platform case and the refusals)."""
    alice, bob = await person(app, "alice"), await person(app, "bob")
    assert (await link(app, alice, KEY_A)).ok
    assert (await link(app, bob, KEY_A)).ok
    assert (await person(app, "bob")).user_id == alice.user_id


async def test_garbage_and_unlink(app):
    alice = await person(app, "alice")
    for text in ("/wallet link 0x123", "/wallet link nothex", "/wallet verify 0xzz", "/wallet verify", "/wallet unlink",
                 f"/wallet verify 0x{'ab' * 65}", "/wallet frob"):
        reply = await app.router.handle(alice, text)
        assert not reply.ok, text
    await link(app, alice, KEY_A)
    reply = await app.router.handle(alice, "/wallet unlink")
    assert reply.ok and "no longer linked" in reply.text


async def test_cannot_unlink_with_an_open_rental(app):
    _, offer_id = await provider_with_offer(app)
    alice = await person(app, "alice")
    await link(app, alice, KEY_A)
    await app.services.rentals.create(alice, offer_id, 1)
    reply = await app.router.handle(alice, "/wallet unlink")
    assert not reply.ok and "open rentals" in reply.text
