"""Plain-text rendering of messages and splitting at line boundaries for platform limits."""
from __future__ import annotations

from typing import Callable, Iterable

from bot.chat.message import Line, Message, Span, Style


def render_span_plain(span: Span) -> str:
    if span.style is Style.LINK and span.url and span.url != span.text:
        return f"{span.text} ({span.url})"
    return span.text


def render_line_plain(line: Line) -> str:
    return "".join(render_span_plain(s) for s in line)


def render_plain(msg: Message) -> str:
    lines = [msg.title] if msg.title else []
    lines += [render_line_plain(line) for line in msg.lines]
    return "\n".join(lines)


def split_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Join rendered lines into chunks of at most `limit` characters, splitting only between lines.

    A single line longer than `limit` (a long preformatted block) is split at its own newlines,
    and only a line with none is cut hard: nothing is ever dropped.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    current: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            chunks.append("\n".join(current))
        current, size = [], 0

    for line in lines:
        pieces = [line] if len(line) <= limit else _break(line, limit)
        for piece in pieces:
            extra = len(piece) + (1 if current else 0)
            if size + extra > limit:
                flush()
                extra = len(piece)
            current.append(piece)
            size += extra
    flush()
    return chunks or [""]


def _break(line: str, limit: int) -> list[str]:
    out: list[str] = []
    for part in line.split("\n"):
        while len(part) > limit:
            out.append(part[:limit])
            part = part[limit:]
        out.append(part)
    return out


def split_message(msg: Message, limit: int, render_line: Callable[[Line], str] = render_line_plain) -> list[str]:
    """Render with `render_line` (a front-end's own escaping) and split for a `limit`-character platform."""
    head = [msg.title] if msg.title else []
    return split_lines([*head, *(render_line(line) for line in msg.lines)], limit)
