"""Acknowledged inside Discord's 3 seconds: when the core is slower than `ack_after_s` the
interaction is deferred and the reply replaces the "is thinking..." message, ephemeral or not as
it should be; a refusal after a public deferral goes privately, the public message says so."""
from __future__ import annotations

from tests.helpers import provider_with_offer


async def test_slow_answers_are_deferred_then_edited(emu, world, front_factory):
    await front_factory(ack_after_s=0.0001)
    handle = await emu.slash(world["alice"], "help", channel=world["general"])
    reply = await handle.done()
    assert handle.response_type == 5 and not reply.ephemeral and "/rent" in reply.embeds[0]["description"]


async def test_private_command_is_deferred_ephemerally(emu, world, front_factory):
    await front_factory(ack_after_s=0.0001)
    handle = await emu.slash(world["alice"], "wallet link", channel=world["general"],
                             address="0x" + "ab" * 20)
    reply = await handle.done()
    assert handle.response_type == 5 and reply.ephemeral and "Sign this message" in reply.embeds[0]["description"]
    assert emu.messages(world["general"]) == []          # nobody else sees anything


async def test_refusal_after_a_public_deferral_is_private(emu, world, front_factory, market_app):
    await provider_with_offer(market_app, "prov")
    await front_factory(ack_after_s=0.0001)
    handle = await emu.slash(world["alice"], "rent", channel=world["general"], offer=999, hours=1)
    public = await handle.done()
    assert not public.ephemeral and public.content == "I answered you privately."
    (private,) = await emu.wait_until(lambda: handle.followups, 5, "the private follow-up")
    assert private.ephemeral and "999" in private.content
    assert emu.messages(world["general"], viewer=world["sue"]) == [public]


async def test_fast_answers_are_direct(emu, world, front):
    handle = await emu.slash(world["alice"], "help", channel=world["general"])
    await handle.done()
    assert handle.response_type == 4
