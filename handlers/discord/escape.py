"""Discord markdown for the core's spans: our own words, emphasis, code, links, and text people
wrote (escaped, mentions neutralised: a name like "@everyone" or "<@&123>" shows, never pings;
`allowed_mentions` is the second lock)."""
from __future__ import annotations

import re

from discord.utils import escape_markdown

from bot.chat import Line, Span, Style

_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(\d+)>")
ZWSP = "\u200b"


def neutralise(text: str) -> str:
    """`@everyone`, `@here`, `<@1>`, `<@!1>`, `<@&1>`, `<#1>` lose their power, keep their look."""
    def soften(m: re.Match[str]) -> str:
        if m.group(1):
            return f"@{ZWSP}{m.group(1)}"
        return f"<{m.group(2)}{ZWSP}{m.group(3)}>"
    return _MENTION.sub(soften, text)


def user_text(text: str) -> str:
    return neutralise(escape_markdown(text, as_needed=False))


def _code(text: str) -> str:
    text = text.replace("`", "ˋ")      # a backtick would end the code span early
    return f"`{text}`" if text else ""


def _pre(text: str) -> str:
    return "```\n" + text.replace("```", "ˋˋˋ") + "\n```"


def render_span(span: Span) -> str:
    if span.style is Style.USER:
        return user_text(span.text)
    if span.style is Style.CODE:
        return _code(span.text)
    if span.style is Style.PRE:
        return _pre(span.text)
    if span.style is Style.BOLD:
        return f"**{escape_markdown(span.text)}**"
    if span.style is Style.LINK and span.url:
        if not span.url.startswith(("https://", "http://")):     # wc:, ethereum: links are copied, not clicked
            return _code(span.url) if span.text == span.url else f"{escape_markdown(span.text)}: {_code(span.url)}"
        label = escape_markdown(span.text).replace("]", "\\]")
        return f"[{label}](<{span.url}>)"
    return neutralise(escape_markdown(span.text))


def render_line(line: Line) -> str:
    return "".join(render_span(s) for s in line)
