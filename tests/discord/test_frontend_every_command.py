"""Every command of the core's table through Discord once: each gets an answer (a reply or a plain
refusal, never an internal error), within the deadline, and Discord accepts everything the bot
sent (the emulator fixture fails the test on any violation). Also: the bot sharded."""
from __future__ import annotations

import pytest

from bot.commands import top_level
from tests.discord.test_frontend_basics import discord_person
from tests.helpers import provider_with_offer

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEuUxbI1l7U1Wq5VbQjKcmKZ3XCO9J7GFP0i4f5E4yWB you@laptop"


def arguments(world, offer_id: int, rental_id: int) -> dict[str, dict]:
    return {
        "offers": {"gpu": "rtx4090", "sort": "price"}, "offer show": {"offer": offer_id},
        "offer edit": {"offer": offer_id, "price": "0.6"}, "offer pause": {"offer": offer_id},
        "offer resume": {"offer": offer_id}, "offer remove": {"offer": 999},
        "rent": {"offer": offer_id, "hours": 2}, "rentals": {}, "rental": {"rental": rental_id},
        "cancel": {"rental": 999}, "pay": {"rental": rental_id}, "extend": {"rental": rental_id, "hours": 1},
        "end": {"rental": rental_id}, "credentials": {"rental": rental_id}, "wallet show": {},
        "wallet link": {"address": "0x" + "ab" * 20}, "wallet verify": {"signature": "0x" + "00" * 65},
        "wallet unlink": {}, "sshkey": {"key": SSH_KEY}, "earnings": {}, "withdraw": {},
        "host add": {"name": "rig2", "address": "rig2.example.net", "port": 22, "user": "gpuflow"},
        "host verify": {"name": "nope"}, "host list": {},
        "dispute": {"rental": rental_id, "reason": "the GPU is missing"}, "disputes": {},
        "resolve": {"rental": rental_id, "renter_percent": 50}, "setup": {}, "status": {},
        "help": {"command": "rent"},
    }


async def test_every_command_answers(emu, world, front, market_app):
    _, offer_id = await provider_with_offer(market_app, "prov")
    alice = world["alice"]
    rental = await market_app.services.rentals.create(await discord_person(market_app, alice), offer_id, 1)
    given = arguments(world, offer_id, rental.id)
    paths = [c.path for t in top_level() for c in ([t.command] if t.command else t.subcommands)]
    assert set(paths) - {"offer create"} <= set(given), set(paths) - set(given)
    owner = emu.state.users[world["guild"].owner_id]
    for path in paths:
        if path == "offer create":
            continue                                 # a modal: test_frontend_basics
        who = owner if path in ("setup", "status") else alice      # admin commands: Manage Server
        handle = await emu.slash(who, path, channel=world["general"], **given[path])
        await handle.answered(timeout=10)
        if handle.response_type == 9:
            continue
        reply = await handle.done(timeout=20)
        text = reply.content + str(reply.embeds)
        assert "went wrong on our side" not in text, (path, text)


@pytest.mark.parametrize("shards", [2])
async def test_sharded_front_end(emu, world, front_factory, shards):
    await front_factory(shard_count=shards)
    assert {s.shard for s in emu.gateway.sessions.values()} == {(i, shards) for i in range(shards)}
    reply = await (await emu.slash(world["alice"], "help", channel=world["general"])).done()
    assert "/rent" in reply.embeds[0]["description"]
