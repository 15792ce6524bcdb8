"""The core's messages as Telegram HTML, split to fit 4,096 characters at line boundaries.

Telegram's HTML parse mode wants `<`, `>` and `&` escaped outside tags (quotes too inside an
attribute). User-supplied spans are escaped like everything else and, in addition, cannot ping
anyone or look like a command: a word joiner after `@` and a leading `/` keeps clients from
turning them into mentions or clickable commands. The limit counts characters after entity
parsing, so chunks are measured by their visible text; a line is never cut unless it alone is
longer than a message (a long preformatted block is first split at its own newlines), and every
chunk opens and closes its own tags.
"""
from __future__ import annotations

import html
import re

from bot.chat import Line, Message, Span, Style

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_WORD_JOINER = "\u2060"
_MENTION = re.compile(r"([@/])(?=\w)")
_CLICKABLE = re.compile(r"(https?|tg)://", re.I)


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def neutral(text: str) -> str:
    """User text that cannot mention (@name) or offer a command (/rent) when shown."""
    return _MENTION.sub(lambda m: m.group(1) + _WORD_JOINER, text)


def span_html(span: Span) -> str:
    text = escape(span.text)
    if span.style is Style.BOLD:
        return f"<b>{text}</b>"
    if span.style is Style.CODE:
        return f"<code>{text}</code>"
    if span.style is Style.PRE:
        return f"<pre>{text}</pre>"
    if span.style is Style.USER:
        return escape(neutral(span.text))
    if span.style is Style.LINK and span.url:
        if not _CLICKABLE.match(span.url):      # wc:, ethereum: URIs: shown to copy, not as a link
            shown = text if span.text == span.url else f"{text} ({escape(span.url)})"
            return f"<code>{shown}</code>"
        return f'<a href="{html.escape(span.url, quote=True)}">{text}</a>'
    return text


def line_html(line: Line) -> str:
    return "".join(span_html(s) for s in line if s.text)


def visible(line: Line) -> int:
    """Characters Telegram counts for this line (after entity parsing)."""
    return sum(_shown_len(s) for s in line)


def _shown_len(span: Span) -> int:
    if span.style is Style.USER:
        return len(neutral(span.text))
    if span.style is Style.LINK and span.url and not _CLICKABLE.match(span.url) and span.text != span.url:
        return len(span.text) + len(span.url) + 3
    return len(span.text)


def lines_of(msg: Message) -> list[Line]:
    head: list[Line] = [(Span(msg.title, Style.BOLD),)] if msg.title else []
    return head + list(msg.lines)


def chunks(msg: Message, limit: int = TEXT_LIMIT) -> list[str]:
    """The message as HTML chunks of at most `limit` visible characters, split between lines."""
    return pack(lines_of(msg), limit)


def pack(lines: list[Line], limit: int) -> list[str]:
    out: list[str] = []
    current: list[Line] = []
    size = 0

    def flush() -> None:
        if "".join(s.text for line in current for s in line).strip():   # Telegram refuses blank text
            out.append("\n".join(line_html(line) for line in current))

    for line in lines:
        for piece in _fit(line, limit):
            extra = visible(piece) + (1 if current else 0)
            if current and size + extra > limit:
                flush()
                current, size, extra = [], 0, visible(piece)
            current.append(piece)
            size += extra
    if current:
        flush()
    return out


def _fit(line: Line, limit: int) -> list[Line]:
    """A line as one or more lines of at most `limit` visible characters: split at newlines
    inside its spans first (each piece keeps its span's style), then hard, as a last resort."""
    if visible(line) <= limit:
        return [line]
    rows: list[list[Span]] = [[]]
    for span in line:
        text = neutral(span.text) if span.style is Style.USER else span.text   # idempotent: cut safely
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                rows.append([])
            if part:
                rows[-1].append(Span(part, span.style, span.url))
    out: list[Line] = []
    for row in rows:
        out += _hard_cut(tuple(row), limit)
    return out


def _hard_cut(line: Line, limit: int) -> list[Line]:
    out: list[Line] = []
    current: list[Span] = []
    room = limit
    for span in line:
        text = span.text
        while text:
            take = text[:room]
            current.append(Span(take, span.style, span.url))
            text, room = text[len(take):], room - len(take)
            if room == 0:
                out.append(tuple(current))
                current, room = [], limit
    if current:
        out.append(tuple(current))
    return out or [()]
