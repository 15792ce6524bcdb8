"""Core messages as Telegram HTML: every chunk parses as Telegram parses it (the emulator's parser),
fits 4,096 characters, and nothing is lost or cut mid-line."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat import Message, Span, Style, bold, code, link, pre, user
from devnet.telegram.html_mode import parse_html
from handlers.telegram import render

WJ = "\u2060"


def shown(chunks: list[str]) -> list[str]:
    return [parse_html(c).text for c in chunks]


def test_spans_are_escaped_and_user_text_is_neutral() -> None:
    msg = Message(title="Offer <#12>").add(bold("RTX & co"), " ", code("a<b"), " ", user("@everyone /rent 1 <b>"),
                                          " ", link("docs", 'https://x.org/?a=1&b="2"'))
    [chunk] = render.chunks(msg)
    parsed = parse_html(chunk)
    assert parsed.text == f"Offer <#12>\nRTX & co a<b @{WJ}everyone /{WJ}rent 1 <b> docs"
    assert [e["type"] for e in parsed.entities] == ["bold", "bold", "code", "text_link"]
    assert parsed.entities[-1]["url"] == 'https://x.org/?a=1&b="2"'


def test_long_messages_split_between_lines() -> None:
    msg = Message()
    for i in range(1000):
        msg.add(f"line {i:04d} ", user("<x>"))
    chunks = render.chunks(msg)
    assert len(chunks) > 1
    texts = shown(chunks)
    assert all(len(t) <= render.TEXT_LIMIT for t in texts)
    assert "\n".join(texts).split("\n") == [f"line {i:04d} <x>" for i in range(1000)]


def test_a_block_longer_than_a_message_is_split_at_its_own_newlines() -> None:
    block = "\n".join(f"{i:05d} " + "x" * 60 for i in range(200))
    msg = Message().add("Log:").add(pre(block))
    chunks = render.chunks(msg)
    assert len(chunks) >= 3 and all(c.count("<pre>") == c.count("</pre>") for c in chunks)
    texts = shown(chunks)
    assert all(len(t) <= render.TEXT_LIMIT for t in texts)
    assert "\n".join(texts) == "Log:\n" + block


def test_a_single_unbroken_line_is_cut_only_as_a_last_resort() -> None:
    msg = Message().add(code("k" * 9000))
    texts = shown(render.chunks(msg))
    assert [len(t) for t in texts] == [4096, 4096, 808] and "".join(texts) == "k" * 9000


_text = st.text(alphabet=st.sampled_from(list("ab <>&\"'@/\n é🙂")), max_size=300)
_span = st.builds(lambda t, s: Span(t, s), _text, st.sampled_from([Style.PLAIN, Style.BOLD, Style.CODE,
                                                                   Style.PRE, Style.USER]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_span, max_size=6), max_size=40), st.integers(min_value=40, max_value=400))
def test_any_message_renders_to_valid_chunks_within_the_limit(lines, limit) -> None:
    msg = Message(lines=[tuple(line) for line in lines])
    for chunk in render.chunks(msg, limit):
        parsed = parse_html(chunk)                 # raises on anything Telegram would refuse
        assert 0 < len(parsed.text) <= limit
