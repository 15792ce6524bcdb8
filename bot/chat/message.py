"""Platform-neutral messages: what the core says; each front-end dresses it for its platform.

Text is made of spans, so no platform escaping lives in the core or in the store: each front-end
escapes plain and user-supplied spans for its own markup (Discord markdown, Telegram HTML, the
terminal). Lines are the unit of splitting: a front-end that must split a long message does so
between lines (`bot.chat.plain.split_lines`), never inside one.

Actions name a command of the typed surface with its arguments, so a button, an inline keyboard
key and a console hint all run the same use case: a front-end encodes an action in whatever its
platform allows (a Discord custom_id of at most 100 characters, Telegram callback data of at most
64 bytes) and turns it back into a typed call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping


class Style(str, Enum):
    PLAIN = "plain"     # our own words
    BOLD = "bold"       # our own emphasis (a heading, an amount)
    CODE = "code"       # inline fixed-width: ids, addresses, commands to type, tx hashes
    PRE = "pre"         # a preformatted block, may hold newlines: a message to sign, a script line
    USER = "user"       # text a user or provider supplied (names, reasons, GPU names, notes):
    #                     escape it, neutralise mentions (@everyone, <@123>, <@&role>), never format it
    LINK = "link"       # `text` shown as a link to `url`


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = Style.PLAIN
    url: str | None = None


Line = tuple[Span, ...]


def plain(text: str) -> Span:
    return Span(text)


def bold(text: str) -> Span:
    return Span(text, Style.BOLD)


def code(text: str) -> Span:
    return Span(text, Style.CODE)


def pre(text: str) -> Span:
    return Span(text, Style.PRE)


def user(text: str) -> Span:
    return Span(text, Style.USER)


def link(text: str, url: str) -> Span:
    return Span(text, Style.LINK, url)


class ActionStyle(str, Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    SUCCESS = "success"
    DANGER = "danger"


@dataclass(frozen=True)
class Action:
    """A button: run `command` (a name of the typed surface, e.g. "rent", "offers", "extend") with
    `args` (parameter name -> value), or, when `url` is set, open that link (a wallet deep link)."""

    label: str
    command: str | None = None
    args: Mapping[str, str | int] = field(default_factory=dict)
    style: ActionStyle = ActionStyle.SECONDARY
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError("an action either runs a command or opens a url")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message. `sensitive` files (a bot-made private key) go to a DM only."""

    filename: str
    data: bytes = field(repr=False)
    mime: str = "application/octet-stream"
    description: str = ""
    sensitive: bool = False

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass
class Message:
    """Lines of spans, an optional title (an embed title, a bold first line in plain text),
    actions (buttons, at most a few rows) and attachments."""

    lines: list[Line] = field(default_factory=list)
    title: str | None = None
    actions: list[Action] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    def add(self, *spans: Span | str) -> "Message":
        """Append one line; bare strings are our own plain words."""
        self.lines.append(tuple(Span(s) if isinstance(s, str) else s for s in spans))
        return self

    def extend(self, lines: Iterable[Line]) -> "Message":
        self.lines.extend(lines)
        return self

    def text(self) -> str:
        """The plain-text form (console, logs, tests, a platform's fallback)."""
        from bot.chat.plain import render_plain

        return render_plain(self)


def message(*lines: str | Line) -> Message:
    """Build a message from plain strings (one line each, our own words) or ready lines."""
    out = Message()
    for line in lines:
        out.lines.append((Span(line),) if isinstance(line, str) else line)
    return out
