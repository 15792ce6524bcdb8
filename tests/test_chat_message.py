"""The chat core's message contract: plain rendering and splitting only between lines."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bot.chat import Action, Message, code, link, message, render_plain, split_lines, user


def test_plain_rendering_keeps_spans_in_order():
    msg = Message(title="Offer #3").add("GPU: ", user("RTX *4090*"), " at ", code("0.5 USDC"))
    msg.add(link("pay", "https://example.org/pay"))
    assert render_plain(msg) == "Offer #3\nGPU: RTX *4090* at 0.5 USDC\npay (https://example.org/pay)"
    assert message("a", "b").text() == "a\nb"


def test_action_is_a_command_or_a_link():
    Action("Rent", command="rent", args={"offer": 3})
    Action("Open wallet", url="wc:abc")
    with pytest.raises(ValueError):
        Action("both", command="rent", url="x")
    with pytest.raises(ValueError):
        Action("neither")


def test_split_never_cuts_inside_a_line_that_fits():
    lines = [f"line {i} " + "x" * (i % 37) for i in range(300)]
    chunks = split_lines(lines, 200)
    assert all(len(c) <= 200 for c in chunks)
    assert [ln for c in chunks for ln in c.split("\n")] == lines


@given(st.lists(st.text(alphabet="ab \n", max_size=120), max_size=40), st.integers(min_value=1, max_value=90))
def test_split_loses_nothing_and_respects_the_limit(lines, limit):
    chunks = split_lines(lines, limit)
    assert all(len(c) <= limit for c in chunks)
    assert "".join(chunks).replace("\n", "") == "".join(lines).replace("\n", "")
