"""The emulator refuses what Telegram refuses, in Telegram's words, and notes every call a correct
bot would never make (the `tg` fixture fails a test that leaves such a note untaken)."""
from __future__ import annotations

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from devnet.telegram import LoopbackTelegram, RateLimits, ScenarioError

pytestmark = pytest.mark.tg_limits(RateLimits.off())   # many calls in a row; limits have their own test


@pytest.fixture
async def bot(tg: LoopbackTelegram):
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


def keyboard(**button: object) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Go", **button)]])  # type: ignore[arg-type]


async def refused(tg: LoopbackTelegram, call, words: str, exc=BadRequest, violation: bool = True) -> None:
    with pytest.raises(exc) as info:
        await call
    assert words.lower() in info.value.message.lower(), info.value.message
    noted = tg.take_violations()
    assert bool(noted) == violation, noted


async def test_text_and_caption_limits(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    await bot.send_message(alice.id, "x" * 4096)
    await refused(tg, bot.send_message(alice.id, "x" * 4097), "message is too long")
    await refused(tg, bot.send_message(alice.id, "<b></b>  ", parse_mode="HTML"), "message text is empty")
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
    await refused(tg, bot.send_photo(alice.id, png, caption="c" * 1025), "caption is too long")
    await refused(tg, bot.send_photo(alice.id, b"not an image"), "image_process_failed")
    await refused(tg, bot.send_document(alice.id, b"", filename="empty"), "non-empty")


@pytest.mark.parametrize("text, words", [
    ("<b>bold", "can't find end tag"),
    ("<b><i>x</b></i>", "unmatched end tag"),
    ("<div>x</div>", "unsupported start tag"),
    ("1 < 2", "unexpected character"),
    ("AT&T", "unsupported html entity or unescaped \"&\""),
    ("&nbsp;", "unsupported html entity"),
    ("</b>", "unexpected end tag"),
    ("<span>x</span>", "tag \"span\" must have class \"tg-spoiler\""),
])
async def test_html_parse_mode_refusals(tg: LoopbackTelegram, bot: Bot, text: str, words: str) -> None:
    alice = tg.add_user("Alice", started=True)
    await refused(tg, bot.send_message(alice.id, text, parse_mode="HTML"), "can't parse entities: " + words)


async def test_html_parse_mode_accepts_telegrams_tags(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    msg = await bot.send_message(alice.id, '<b>a</b> <code>b</code> <a href="https://x.org/?a=1&amp;b=2">c</a> '
                                           '<pre><code class="language-sh">ssh -p 22</code></pre> '
                                           '<tg-spoiler>d</tg-spoiler> &lt;&gt;&quot;&#39;', parse_mode="HTML")
    assert msg.text == "a b c ssh -p 22 d <>\"'"
    kinds = [(e.type, e.offset, e.length) for e in msg.entities]
    assert kinds == [("bold", 0, 1), ("code", 2, 1), ("text_link", 4, 1), ("pre", 6, 9), ("spoiler", 16, 1)]
    assert msg.entities[2].url == "https://x.org/?a=1&b=2" and msg.entities[3].language == "sh"


async def test_inline_keyboard_shape(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    await bot.send_message(alice.id, "ok", reply_markup=keyboard(callback_data="x" * 64))
    await refused(tg, bot.send_message(alice.id, "no", reply_markup=keyboard(callback_data="x" * 65)),
                  "button_data_invalid")
    await refused(tg, bot.send_message(alice.id, "no", reply_markup=keyboard(callback_data="é" * 33)),
                  "button_data_invalid")
    await refused(tg, bot.send_message(alice.id, "no", reply_markup=keyboard(url="ftp://x")), "button_url_invalid")
    raw = '{"inline_keyboard": [[{"text": "Go"}]]}'
    await refused(tg, bot.do_api_request("sendMessage", api_kwargs={"chat_id": alice.id, "text": "no",
                                                                     "reply_markup": raw}), "text buttons are unallowed")
    row = InlineKeyboardMarkup([[InlineKeyboardButton(str(i), callback_data=str(i)) for i in range(9)]])
    await refused(tg, bot.send_message(alice.id, "no", reply_markup=row), "too many buttons")


async def test_deep_links_with_a_bad_start_payload_are_noted(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    good = f"https://t.me/{tg.bot_username}?start=rent_12-a"
    await bot.send_message(alice.id, "ok", reply_markup=keyboard(url=good))
    assert tg.take_violations() == []
    for payload in ("rent.12", "x" * 65, "r%C3%A9"):
        await bot.send_message(alice.id, "bad", reply_markup=keyboard(url=f"https://t.me/{tg.bot_username}?start={payload}"))
        assert any("start payload" in v for v in tg.take_violations())
    await alice.open_link(good)
    with pytest.raises(ScenarioError):
        await alice.open_link("https://t.me/other_bot?start=x")


async def test_a_person_who_never_started_the_bot_cannot_be_written_to(tg: LoopbackTelegram, bot: Bot) -> None:
    bob = tg.add_user("Bob")
    await refused(tg, bot.send_message(bob.id, "hi"), "bot can't initiate conversation with a user",
                  exc=Forbidden, violation=False)
    await bob.start()
    await bot.send_message(bob.id, "hi")
    bob.user.blocked = True
    await refused(tg, bot.send_message(bob.id, "hi"), "blocked by the user", exc=Forbidden, violation=False)


async def test_edits_deletes_and_callback_answers(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    msg = await bot.send_message(alice.id, "same", reply_markup=keyboard(callback_data="a"))
    await refused(tg, bot.edit_message_text("same", alice.id, msg.message_id, reply_markup=keyboard(callback_data="a")),
                  "message is not modified", violation=False)
    await bot.edit_message_reply_markup(alice.id, msg.message_id, reply_markup=keyboard(callback_data="b"))
    await refused(tg, bot.edit_message_text("x", alice.id, 999), "message to edit not found", violation=False)
    mine = await alice.send("my own words")
    await refused(tg, bot.edit_message_text("x", alice.id, mine["message_id"]), "can't be edited", violation=False)
    view = tg.messages(alice.dm)[0]
    query = await alice.press(view, data="b")
    assert await bot.answer_callback_query(query.id, text="ok")
    await refused(tg, bot.answer_callback_query(query.id), "query is too old", violation=False)
    assert await bot.delete_message(alice.id, msg.message_id)
    assert view.deleted
    await refused(tg, bot.delete_message(alice.id, msg.message_id), "message to delete not found", violation=False)


async def test_groups_channels_and_forum_topics(tg: LoopbackTelegram, bot: Bot) -> None:
    carol = tg.add_user("Carol")
    plain = tg.add_supergroup("Plain", admins=[carol])
    forum = tg.add_supergroup("Support", admins=[carol], forum=True)
    outside = tg.add_group("Elsewhere", bot_member=False)
    unprivileged = tg.add_supergroup("Forum without rights", forum=True, bot_rights=None)
    await refused(tg, bot.create_forum_topic(plain.id, "Dispute #1"), "the chat is not a forum", violation=False)
    await refused(tg, bot.create_forum_topic(unprivileged.id, "Dispute #1"), "not enough rights", violation=False)
    await refused(tg, bot.send_message(outside.id, "hi"), "bot is not a member of the group chat",
                  exc=Forbidden, violation=False)
    topic = await bot.create_forum_topic(forum.id, "Dispute #1")
    await bot.send_message(forum.id, "timeline", message_thread_id=topic.message_thread_id)
    await refused(tg, bot.send_message(forum.id, "x", message_thread_id=12345), "message thread not found",
                  violation=False)
    assert await bot.close_forum_topic(forum.id, topic.message_thread_id)
    await refused(tg, bot.close_forum_topic(forum.id, topic.message_thread_id), "topic_not_modified",
                  violation=False)
    with pytest.raises(ScenarioError):
        await tg.add_user("Dave").send("hi", chat=forum, thread=topic.message_thread_id)
    admins = await bot.get_chat_administrators(forum.id)
    assert {a.user.id for a in admins} == {carol.id, tg.emu.bot.id}
    assert (await bot.get_chat_member(forum.id, carol.id)).status == "administrator"
    assert (await bot.get_chat(forum.id)).is_forum
    channel = tg.add_channel("Listings", username="gpu_listings")
    post = await bot.send_message("@gpu_listings", "RTX 4090, 2 USDC/h")
    assert post.sender_chat.id == channel.id
    muted = tg.add_channel("Muted", bot_rights=frozenset({"can_manage_chat"}))
    await refused(tg, bot.send_message(muted.id, "x"), "need administrator rights", violation=False)


async def test_spec_violations_are_refused_and_noted(tg: LoopbackTelegram, bot: Bot) -> None:
    alice = tg.add_user("Alice", started=True)
    await refused(tg, bot.do_api_request("sendMessage", api_kwargs={"chat_id": alice.id}), "message text is empty")
    await refused(tg, bot.do_api_request("sendMessage", api_kwargs={"chat_id": alice.id, "text": "x",
                                                                     "reply_markup": {"inline_keyboard": "no"}}),
                  "reply_markup")
    await bot.do_api_request("sendMessage", api_kwargs={"chat_id": alice.id, "text": "x", "colour": "red"})
    assert any("colour: not a field of sendMessage" in v for v in tg.take_violations())
    await refused(tg, bot.set_my_commands([("Bad-Name", "x")]), "bot_command_invalid")
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{tg.base_url}{tg.token}/sendMessagee", data={"chat_id": 1, "text": "x"})
        assert resp.status_code == 404 and resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        assert tg.take_violations() == ["sendMessagee: no such Bot API method"]
        resp = await http.post(f"{tg.base_url}{tg.token}/SENDMESSAGE", data={"chat_id": alice.id, "text": "case"})
        assert resp.json()["ok"] is True                       # method names are case-insensitive
    with pytest.raises(InvalidToken):
        async with Bot("123456789:wrongwrongwrong", base_url=tg.base_url) as other:
            await other.get_me()


async def test_flood_limits_overall_and_per_group() -> None:
    async with LoopbackTelegram(limits=RateLimits(chat_burst=100)) as tg:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            group = tg.add_supergroup("Renters")
            for i in range(20):
                await bot.send_message(group.id, f"notice {i}")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(group.id, "one too many")
            assert 1 <= info.value._retry_after.total_seconds() <= 60
            people = [tg.add_user(f"u{i}", started=True) for i in range(11)]
            sent = 0
            with pytest.raises(RetryAfter):
                for person in people:               # 20 + 11 > 30 within one second overall
                    await bot.send_message(person.id, "hi")
                    sent += 1
            assert sent == 10
        assert tg.violations == []
