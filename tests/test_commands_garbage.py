"""Every command, given garbage, answers with a clear refusal and leaves the database as it was."""
from __future__ import annotations

import pytest

from bot.commands import COMMANDS
from tests.helpers import person, provider_with_offer, snapshot

HUGE = "9" * 40
LONG = "x" * 10_000
UNICODE = "ｒｔｘ４０９０💥\u202e\x00"

GARBAGE_ARGS = ["", "abc", "-1", "0", HUGE, "#-5", "1.5", "99999999", UNICODE, LONG, "1 2 3 4 5 6 7",
                "' OR 1=1 --", "$(reboot)", "%s%s%n", "\n\n/rent 1 1"]

SUBCOMMAND_GARBAGE = [
    "/offer create", "/offer create gpu=rtx4090", "/offer create gpu=rtx4090 count=-1 vram=24 price=1 hours=1-2 region=eu",
    "/offer create gpu=rtx4090 count=1 vram=24 price=-1 hours=1-2 region=eu",
    "/offer create gpu=rtx4090 count=1 vram=24 price=1e9 hours=1-2 region=eu",
    "/offer create gpu=rtx4090 count=1 vram=24 price=1 hours=5-2 region=eu",
    "/offer create gpu=rtx4090 count=1 vram=24 price=1 hours=1-2 region=eu token=DOGE",
    f"/offer create gpu={UNICODE} count=1 vram=24 price=1 hours=1-2 region=eu",
    "/offer create gpu=rtx4090 gpu=a100 count=1 vram=24 price=1 hours=1-2 region=eu",
    "/offer edit 1 price=0.0000001", "/offer edit 1", "/offer edit 999 price=1", "/offer edit abc price=1",
    "/offer edit 1 capacity=0", "/offer pause 999", "/offer remove", "/offer resume 1",
    "/rent 1 0", "/rent 1 -3", f"/rent 1 {HUGE}", "/rent 999 1", "/rent 1", "/rent x y",
    "/rent 3 1",            # the caller's own offer
    "/rental 1",            # someone else's rental
    "/cancel 1", "/dispute 1 not mine", "/dispute 1", f"/dispute 1 {LONG}",
    "/resolve 50", "/resolve #1 150", "/resolve #1 x", "/host add", "/host add a b c d",
    "/host add rig 1.2.3.4 99999 gpuflow", "/host add r!g 1.2.3.4 22 gpuflow", "/host add rig h 22 Root;rm",
    "/host frobnicate", "/sshkey", "/sshkey ssh-rsa AAAA", f"/sshkey ssh-ed25519 {LONG}",
    "/wallet steal", "/disputes", "/help nosuchcommand", "/nosuchcommand", "hello", "/", LONG,
    f"/offers {LONG}", "/offers gpu>=rtx", "/offers price<=abc", "/offers sort=evil",
]


@pytest.fixture
async def market(app):
    """Offers by 'prov' (#1), 'bob' (#2) and 'eve' (#3), and bob's rental of #1 (#1)."""
    await provider_with_offer(app, "prov")
    bob, _ = await provider_with_offer(app, "bob")
    await app.services.rentals.create(bob, 1, 1)
    await provider_with_offer(app, "eve")
    return app


async def _refused_and_unchanged(app, actor, text):
    before = await snapshot(app)
    reply = await app.router.handle(actor, text)
    assert not reply.ok, f"{text[:60]!r} was accepted: {reply.text[:200]}"
    assert reply.text.startswith("Sorry: ") and "Traceback" not in reply.text
    assert len(reply.text) < 600, "a refusal should be short, not an echo of the input"
    assert await snapshot(app) == before, f"{text[:60]!r} changed the database"


async def test_every_command_refuses_garbage_arguments(market):
    eve = await person(market, "eve")
    tried = 0
    for name in COMMANDS:
        if name in ("help", "rentals", "offers", "disputes", "earnings", "withdraw", "wallet show", "host list",
                    "wallet unlink", "wallet link"):
            continue   # these take no argument, or any text as a query: covered below
        for garbage in GARBAGE_ARGS:
            await _refused_and_unchanged(market, eve, f"/{name} {garbage}")
            tried += 1
    assert tried >= 100


@pytest.mark.parametrize("text", SUBCOMMAND_GARBAGE)
async def test_specific_garbage_is_refused(market, text):
    eve = await person(market, "eve")
    await _refused_and_unchanged(market, eve, text)


async def test_commands_whose_machinery_is_missing_say_so(market):
    bob = await person(market, "bob")
    for text in ("/earnings", "/withdraw", "/extend 1 2", "/end 1", "/host verify rig"):
        reply = await market.router.handle(bob, text)
        assert not reply.ok and ("not configured" in reply.text or "not set up" in reply.text), text
    zed = await person(market, "zed")         # bob is a provider: his payout wallet is linked
    assert "No wallet linked" in (await market.router.handle(zed, "/wallet")).text
    assert "/wallet link <your address>" in (await market.router.handle(bob, "/wallet link")).text


async def test_good_commands_still_work_after_garbage(market):
    alice = await person(market, "alice")
    await market.router.handle(alice, f"/rent 1 {HUGE}")
    reply = await market.router.handle(alice, "/offers gpu=rtx4090 sort=-price")
    assert reply.ok and "#2" in reply.text


# ---- the typed surface: same refusals as text, nothing changed ------------------------------

from bot.chat import Invocation                                  # noqa: E402
from bot.commands import PType                                   # noqa: E402
from bot.commands.binding import command_text                    # noqa: E402

TYPED_GARBAGE: dict[PType, list[object]] = {
    PType.INT: ["abc", 1.5, True, [1], -1, 0, 2**40, "9" * 40, "#-5", "1.5", UNICODE, LONG],
    PType.TEXT: [LONG, 123, 1.5, ["a"], "\x00\u202e"],
    PType.CHOICE: ["evil", 3, LONG],
    PType.DECIMAL: ["-1", "1e9", "abc", 0.5, LONG],
    PType.QUERY: [LONG, 5, "gpu>=rtx", "sort=evil"],
    PType.CHANNEL: [LONG, "<#evil channel>", 1.5],
    PType.ROLE: [LONG, "@everyone here", []],
}


def _valid(p) -> object:
    """A plausible value, so each call is refused for the one bad argument only."""
    return {PType.INT: p.min if p.min and p.min > 0 else 1, PType.CHOICE: p.choices[0] if p.choices else "",
            PType.DECIMAL: "1", PType.QUERY: "gpu=rtx4090", PType.CHANNEL: "123", PType.ROLE: "456"}.get(p.type, "rig")


def _eve() -> Invocation:
    return Invocation(platform="console", platform_user_id="eve", display_name="eve", is_dm=True)


async def test_typed_garbage_is_refused_like_text_and_changes_nothing(market):
    await person(market, "eve")
    before = await snapshot(market)
    tried = compared = 0
    for path, cmd in COMMANDS.items():
        baseline = {p.name: _valid(p) for p in cmd.typed_params if p.required}
        for p in cmd.typed_params:
            for garbage in TYPED_GARBAGE[p.type]:
                args = {**baseline, p.name: garbage}
                typed = await market.router.invoke(_eve(), path, args)
                assert not typed.ok, f"{path} {p.name}={garbage!r:.40} was accepted: {typed.text[:200]}"
                assert typed.text.startswith("Sorry: ") and len(typed.text) < 600, typed.text[:300]
                tried += 1
                # what a person could type for the same value (a wrong type has no text twin)
                word = garbage if isinstance(garbage, str) else (
                    str(garbage) if isinstance(garbage, int) and p.type is PType.INT else None)
                if (p.text and word is not None and word.split() == [word] and not isinstance(garbage, bool)
                        and len(word) < 3000):     # a longer line is refused as a whole message first
                    text = await market.router.handle_text(_eve(), command_text(path, {**baseline, p.name: word}))
                    assert text.text == typed.text, (path, p.name, garbage)
                    compared += 1
    assert await snapshot(market) == before, "typed garbage changed the database"
    assert tried >= 300 and compared >= 100, (tried, compared)


@pytest.mark.parametrize("path,args", [
    ("offer frobnicate", {}), ("host frobnicate", {"name": "x"}), ("wallet steal", {}), ("nosuchcommand", {}),
    ("", {}), ("offer", {}), ("rent", {"offer": 1, "hours": 1, "admin": True}), ("rent", {"offer": 1}),
    ("offer create", {"hours": "1-2"}),                 # a text-only shorthand is not a typed option
    ("offers", {"query": LONG}), ("offers", {"gpu": "x" * 41}), ("offers", {"sort": "evil"}),
    ("offers", {"min_vram": 0}), ("offers", {"max_price": "-1"}), ("offers", {"page": 10_001}),
    ("dispute", {"rental": 1, "reason": LONG}), ("resolve", {"renter_percent": 50}),
    ("setup", {"listings": "123"}), ("disputes", {}),
])
async def test_typed_refusals(market, path, args):
    eve = await person(market, "eve")
    before = await snapshot(market)
    reply = await market.router.invoke(_eve(), path, args)
    assert not reply.ok and reply.kind == "error" and reply.text.startswith("Sorry: "), reply.text[:200]
    assert len(reply.text) < 600
    assert await snapshot(market) == before
    assert eve.user_id


@pytest.mark.parametrize("text,needle", [
    ("/offer frobnicate 1", "unknown subcommand 'frobnicate': use /offer show|create|edit|pause|resume|remove"),
    ("/host", "use /host add|verify|list"),
    ("/rent 1", "missing hours: usage: /rent <offer> <hours>, e.g. /rent 12 4"),
    ("/rent 1 2 3", "too many words"),
    ("/rent 1 99999999", "hours must be between 1 and 2160"),
    ("/rent -1 2", "offer id must be between 1 and 2147483647"),
    ("/offers sort=evil", "cannot sort by 'evil'"),
    ("/resolve 50", "only support staff can use /resolve"),
    ("/setup listings=1", "only admins can use /setup"),
])
async def test_refusals_say_what_to_type(market, text, needle):
    reply = await market.router.handle_text(_eve(), text)
    assert not reply.ok and needle in reply.text, reply.text
