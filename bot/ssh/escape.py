"""Showing provider-controlled text (GPU names, helper errors) in chat without letting it
format, mention, or spoof anything."""
from __future__ import annotations

import unicodedata

_MARKUP = set("\\`*_~|>[]()#<&{}=+-.!:")


def chat_escape(text: str, limit: int = 200) -> str:
    """Printable single line, bounded, markdown neutralised, mentions broken.

    Control and format characters (bidi overrides, zero-width) are dropped; markdown
    characters get a backslash (valid for Discord and Telegram MarkdownV2); '@' gets a
    zero-width space after it so '@everyone' cannot ping.
    """
    out: list[str] = []
    for ch in " ".join(text.split()):
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"):
            continue
        if ch in _MARKUP:
            out.append("\\" + ch)
        elif ch == "@":
            out.append("@\u200b")
        else:
            out.append(ch)
        if len(out) >= limit:
            out.append("…")
            break
    return "".join(out)
