"""Showing provider-controlled text (GPU names, helper errors) in chat without letting it
format, mention, or spoof anything."""
from __future__ import annotations

import unicodedata
from typing import Literal

Style = Literal["plain", "discord", "telegram"]
_MARKUP: dict[str, frozenset[str]] = {
    "plain": frozenset(),
    "discord": frozenset("\\*_~|`>[]()#<:-"),
    "telegram": frozenset("\\_*[]()~`>#+-=|{}.!"),  # MarkdownV2's reserved characters
}
_DROP = frozenset(("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"))


def chat_escape(text: str, limit: int = 200, style: Style = "discord") -> str:
    """One printable line, at most `limit` characters (plus '…'), markup neutralised.

    Control and format characters (bidi overrides, zero-width joiners, escapes) are dropped
    and whitespace runs become one space, so the text cannot fake extra lines; markup
    characters of `style` get a backslash; '@' gets a zero-width space so '@everyone'
    cannot ping.
    """
    markup = _MARKUP[style]
    out: list[str] = []
    for ch in " ".join(text.split()):
        if unicodedata.category(ch) in _DROP:
            continue
        if len(out) >= limit:
            out.append("…")
            break
        out.append("\\" + ch if ch in markup else "@\u200b" if ch == "@" else ch)
    return "".join(out)
