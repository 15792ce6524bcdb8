"""The typed command surface: one table drives typed calls and text, replies are structured, and
buttons round-trip through the platforms' payload limits."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.chat import Action, Invocation, Style
from bot.commands import TABLE, PType, top_level
from bot.commands.binding import command_text
from bot.commands.codec import DISCORD_CUSTOM_ID, TELEGRAM_CALLBACK
from bot.domain.states import RentalState, Step, next_state
from bot.domain.errors import InvalidTransition
from bot.services.views import OfferPage
from tests.helpers import closed_port, console, person, provider_with_offer, verify_over_ssh


def test_the_table_is_well_formed():
    for path, cmd in TABLE.items():
        names = [p.name for p in cmd.params]
        assert len(names) == len(set(names)), path
        assert cmd.summary and cmd.usage.startswith(f"/{path}")
        for p in cmd.params:
            assert p.description, f"{path} {p.name}"
            if p.type is PType.INT:
                assert p.min is not None and p.max is not None, f"{path} {p.name}"
            if p.type is PType.CHOICE:
                assert p.choices, f"{path} {p.name}"
        rest = [p for p in cmd.params if p.rest and p.text]
        assert len(rest) <= 1 and (not rest or cmd.params[-1].rest or all(
            q.keyword or not q.text for q in cmd.params[cmd.params.index(rest[0]) + 1:])), path
        # what Discord and Telegram accept: names ^[a-z0-9_-]{1,32}$, descriptions 1-100 characters
        assert re.fullmatch(r"[a-z][a-z_]{0,31}", cmd.name) and len(cmd.summary) <= 100, path
        assert all(re.fullmatch(r"[a-z][a-z_]{0,31}", p.name) and len(p.description) <= 100 for p in cmd.params), path
    listed = top_level()
    assert all(len(t.summary) <= 100 for t in listed)
    assert {t.name for t in listed} >= {"offers", "offer", "rent", "host", "wallet", "resolve", "setup", "help"}
    offer = next(t for t in listed if t.name == "offer")
    assert [c.sub for c in offer.subcommands] == ["show", "create", "edit", "pause", "resume", "remove"]


TYPED_AND_TEXT = [
    ("offers", {"query": "gpu=rtx4090 sort=-price"}),
    ("offer show", {"offer": 2}),
    ("rent", {"offer": 2, "hours": 3}),
    ("rentals", {}),
    ("rental", {"rental": 1}),
    ("help", {"command": "rent"}),
    ("wallet show", {}),
    ("rent", {"offer": 2, "hours": 0}),          # refused the same way
    ("rent", {"offer": 999, "hours": 1}),
    ("offer pause", {"offer": 1}),
    ("dispute", {"rental": 1, "reason": "not mine"}),
]


@pytest.mark.parametrize("path,args", TYPED_AND_TEXT)
async def test_typed_and_text_calls_answer_alike(app, path, args):
    """Each call twice on identical markets: typed, then as the text command_text makes of it."""
    from tests.helpers import snapshot

    await provider_with_offer(app, "prov")
    await provider_with_offer(app, "bob")
    alice = await person(app, "alice")
    await app.services.rentals.create(alice, 1, 1)
    before = await snapshot(app)
    typed = await app.router.invoke(console("alice"), path, args)
    if typed.ok and path in ("rent", "offer pause"):
        return     # a change: the text twin would meet another market; compared on refusals only
    text = await app.router.handle_text(console("alice"), command_text(path, args))
    assert (typed.kind, typed.ok, typed.text) == (text.kind, text.ok, text.text)
    if not typed.ok:
        assert await snapshot(app) == before


async def test_text_is_parsed_into_the_typed_arguments(app):
    """A successful change through text equals the typed call (two markets, compared by reply)."""
    prov, _ = await provider_with_offer(app, "prov")
    text = await app.router.handle_text(console("prov"), "/offer create gpu=a100 count=2 vram=80 price=1.5 "
                                                         "token=USDC hours=2-48 region=us capacity=2")
    typed = await app.router.invoke(console("prov"), "offer create", {
        "gpu": "a100", "count": 2, "vram": 80, "price": "1.5", "token": "USDC", "min_hours": 2, "max_hours": 48,
        "region": "us", "capacity": 2})
    assert text.ok and typed.ok, text.text + typed.text
    assert (text.kind, replace(text.views[0], id=0)) == (typed.kind, replace(typed.views[0], id=0))
    assert typed.kind == "offer.created" and typed.views[0].capacity == 2


async def test_offers_typed_options_compile_into_the_query_language(app):
    prov, _ = await provider_with_offer(app, "p1", gpu="rtx4090", count=2, price="0.8")
    await provider_with_offer(app, "p2", gpu="RTX 4090", count=4, price="0.3")
    await provider_with_offer(app, "p3", gpu="a100", vram=80, price="1.5")
    reply = await app.router.invoke(console("zoe"), "offers", {"gpu": "RTX 4090", "count": 2, "max_price": "1",
                                                               "sort": "-price"})
    page = reply.view(OfferPage)
    assert reply.ok and reply.kind == "offers.page"
    assert [o.price_per_hour for o in page.offers] == [800_000, 300_000]
    assert page.query == "gpu=rtx4090 price<=1 count>=2 sort=-price"
    same = await app.router.handle_text(console("zoe"), "/offers gpu=rtx4090 price<=1 count>=2 sort=-price")
    assert same.text == reply.text
    paged = await app.router.invoke(console("zoe"), "offers", {"query": "limit=1", "min_vram": 24, "page": 2})
    assert paged.view(OfferPage).page == 2
    labels = [a.label for a in paged.message.actions]
    assert labels == ["Previous page", "Next page"]
    nxt = paged.message.actions[1]
    assert (await app.router.run_action(console("zoe"), nxt)).view(OfferPage).page == 3


async def test_replies_carry_kinds_views_actions_and_user_spans(app):
    prov, offer_id = await provider_with_offer(app, "prov")
    shown = await app.router.invoke(console("alice"), "offer show", {"offer": offer_id})
    assert shown.kind == "offer.show" and shown.views[0].id == offer_id
    assert [a.command for a in shown.message.actions] == ["rent"]
    mallory = Invocation(platform="console", platform_user_id="mallory", display_name="@everyone <@&1>")
    rented = await app.router.invoke(mallory, "rent", {"offer": offer_id, "hours": 2})
    assert rented.kind == "rental.created" and rented.ok
    assert {a.command for a in rented.message.actions} == {"cancel"}
    detail = await app.router.invoke(mallory, "rental", {"rental": 1})
    assert [a.label for a in detail.message.actions] == ["Pay rental 1", "Cancel"]
    spans = [s for line in detail.message.lines for s in line]
    assert any(s.style is Style.USER and s.text == "@everyone <@&1>" for s in spans)
    assert not any(s.style is not Style.USER and "@everyone" in s.text for s in spans)
    as_provider = await app.router.invoke(console("prov"), "rental", {"rental": 1})
    assert as_provider.message.actions == []      # the provider cannot pay or cancel it
    refusal = await app.router.invoke(console("alice"), "rent", {"offer": "x", "hours": 2})
    assert refusal.kind == "error" and not refusal.ok
    assert refusal.message.lines[0][1].style is Style.USER


async def test_help_is_built_from_the_table(app):
    text = (await app.router.handle_text(console("a"), "/help")).text
    for path, cmd in TABLE.items():
        if cmd.sub is None:
            assert cmd.usage in text, path
    detail = (await app.router.handle_text(console("a"), "/help offer")).text
    assert "/offer create" in detail and "GPU model" in detail


async def test_buttons_fit_the_platforms_and_decode_to_the_same_call(app):
    await provider_with_offer(app, "prov")
    codec = app.router.codec
    short = Action("Rent offer 1", "rent", {"offer": 1})
    payload = await codec.encode(short, TELEGRAM_CALLBACK)
    assert payload == "a1:rent:offer=1"
    assert await codec.decode(payload) == ("rent", {"offer": "1"})
    long_query = "gpu=rtx4090 vram>=24 price<=0.8 region=eu count>=1 sort=-reliability sort=price page=2"
    nxt = Action("Next page", "offers", {"query": long_query})
    for limit in (TELEGRAM_CALLBACK, DISCORD_CUSTOM_ID):
        data = await codec.encode(nxt, limit)
        assert len(data.encode()) <= limit
        assert await codec.decode(data) == ("offers", {"query": long_query})
    reply = await app.router.invoke_action(console("zoe"), await codec.encode(nxt, TELEGRAM_CALLBACK))
    assert reply.ok and reply.view(OfferPage).page == 2
    rent = await app.router.invoke_action(console("zoe"), payload)
    assert not rent.ok and "missing hours" in rent.text      # the front-end asks for the hours


@pytest.mark.parametrize("forged", ["", "a1:", "a1:rent", "zz:rent:offer=1", "a1~aaaaaaaaaaaaaaaa", "a1~../../x",
                                    "a1:frobnicate:x=1", "a1:rent:offer", "a1:resolve:rental=1;renter_percent=100",
                                    "a1:rent:offer=1;hours=1;admin=1", "x" * 500])
async def test_forged_payloads_gain_nothing(app, forged):
    from tests.helpers import snapshot

    await provider_with_offer(app, "prov")
    await person(app, "mallory")          # known already: a first call creates the user
    before = await snapshot(app)
    reply = await app.router.invoke_action(console("mallory"), forged)
    assert not reply.ok and reply.text.startswith("Sorry: ") and len(reply.text) < 400
    assert await snapshot(app) == before


async def test_host_errors_and_reports_are_stored_and_shown_plainly(app, tmp_path):
    """No platform escaping in the core or the store: the console shows the SSH error as it is."""
    port = closed_port()
    prov = await person(app, "prov")
    await app.services.hosts.add(prov, "rig", "127.0.0.1", port, "gpuflow")
    reply = await verify_over_ssh(app, "prov")
    assert not reply.ok
    assert f"127.0.0.1:{port}: cannot connect (ConnectionRefusedError)" in reply.text, reply.text
    assert "\\" not in reply.text


async def test_gpu_reports_are_kept_raw_and_shown_as_user_text(app):
    from sqlalchemy import update

    from bot.db.models import Host

    prov = await person(app, "prov")
    await app.services.hosts.add(prov, "rig", "rig.example.net", 22, "gpuflow")
    async with app.services.ctx.sessions.begin() as session:
        await session.execute(update(Host).values(gpu_report="NVIDIA GeForce RTX 4090 (24 GB) <@&1>"))
    listed = await app.router.handle_text(console("prov"), "/host list")
    assert "GPUs: NVIDIA GeForce RTX 4090 (24 GB) <@&1>" in listed.text
    span = next(s for line in listed.message.lines for s in line if "RTX" in s.text)
    assert span.style is Style.USER


def test_refused_steps_use_words_not_step_names():
    for state in RentalState:
        for step in Step:
            try:
                next_state(state, step)
            except InvalidTransition as exc:
                assert "_" not in exc.message and "possible now" not in exc.message, exc.message


async def test_suggestions_come_from_the_market(app):
    prov, _ = await provider_with_offer(app, "prov", gpu="rtx4090")
    await provider_with_offer(app, "bob", gpu="A100")
    await provider_with_offer(app, "eve", gpu="RTX 4090")
    models = await app.router.suggest(console("zoe"), "offers", "gpu", "rt")
    assert [s.value for s in models] == ["rtx4090"] and "2 offers" in models[0].label
    mine = await app.router.suggest(console("bob"), "offer edit", "offer", "")
    assert [s.value for s in mine] == [2]
    hosts = await app.router.suggest(console("prov"), "host verify", "name", "r")
    assert [s.value for s in hosts] == ["rig"]
    assert await app.router.suggest(console("zoe"), "resolve", "rental", "") == []   # not support
    assert await app.router.suggest(console("zoe"), "nosuch", "x", "") == []
    tokens = await app.router.suggest(console("zoe"), "offer create", "token", "u")
    assert [s.value for s in tokens] == ["USDC"]


async def test_an_internal_failure_is_answered_plainly_and_logged(app, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("db exploded at /secret/path")

    monkeypatch.setattr(app.services.rentals, "mine", broken)
    reply = await app.router.invoke(console("zoe"), "rentals")
    assert not reply.ok and reply.kind == "internal-error"
    assert "secret" not in reply.text and "Traceback" not in reply.text
    assert any("command /rentals failed" in r.getMessage() for r in caplog.records)


async def test_long_replies_split_between_lines_for_each_platform(app):
    for i in range(12):
        await provider_with_offer(app, f"prov{i}")
    reply = await app.router.handle_text(console("zoe"), "/offers limit=50")
    lines = reply.text.split("\n")
    for limit in (2000, 4096, 300):
        chunks = reply.chunks(limit)
        assert all(len(c) <= limit for c in chunks)
        assert [ln for c in chunks for ln in c.split("\n")] == lines
    assert len(reply.chunks(300)) > 1


def test_a_bot_made_private_key_travels_as_a_sensitive_file():
    from bot.commands.cmd_money import credentials_message

    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB\n-----END OPENSSH PRIVATE KEY-----"
    text = ("Rental #7 is ready. Your SSH login (keep it private):\n  host h, port 22, user r_1\n"
            f"Your private key (gpuflow-r_1.key); save it with permissions 600:\n{key}")
    msg = credentials_message(7, text)
    (att,) = msg.attachments
    assert att.sensitive and att.filename == "gpuflow-r_1.key" and att.data.decode().startswith(key)
    assert "PRIVATE KEY" not in msg.text() and "attached as gpuflow-r_1.key" in msg.text()
    assert "port 22, user r_1" in msg.text()


async def test_preflight_checks_without_running(app):
    """A front-end asks before a confirmation step: refusals come back, nothing changes."""
    from tests.helpers import snapshot

    await provider_with_offer(app, "prov")
    await person(app, "alice")
    await person(app, "sue")           # first sight creates the user: not part of what is compared
    before = await snapshot(app)
    refusal, _ = await app.router.preflight(console("alice"), "resolve", {"rental": 1, "renter_percent": 50})
    assert refusal is not None and not refusal.ok and "support" in refusal.text
    refusal, args = await app.router.preflight(console("sue"), "resolve", {"rental": 1, "renter_percent": 150})
    assert refusal is not None and "100" in refusal.text           # sue is support (config); bound checked
    refusal, args = await app.router.preflight(console("alice"), "rent", {"offer": 1, "hours": 2})
    assert refusal is None and args == {"offer": 1, "hours": 2}
    unknown, _ = await app.router.preflight(console("alice"), "nope")
    assert unknown is not None and not unknown.ok
    assert await snapshot(app) == before
