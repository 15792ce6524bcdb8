"""Making outside text safe to store and show, without any platform's markup: control and
format characters (bidi overrides, NULs, terminal escapes, zero-width joiners) are dropped and
whitespace runs collapse, so the text cannot fake lines or hide characters. Escaping for a
platform's markup and neutralising mentions is the front-end's job (the text is a USER span)."""
from __future__ import annotations

import unicodedata

_DROP = frozenset(("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"))


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Printable text; one line unless `multiline`, which keeps line breaks (U+2028/9 count as
    breaks) but collapses the spaces within each line."""
    if multiline:
        lines = "\n".join(text.splitlines())
        kept = "".join(ch for ch in lines if ch == "\n" or unicodedata.category(ch) not in _DROP or ch == "\t")
        return "\n".join(" ".join(line.split()) for line in kept.split("\n")).strip("\n ")
    kept = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _DROP)
    return " ".join(kept.split())


def one_line(text: str, limit: int) -> str:
    """clean_text bounded to `limit` characters, with '…' when it was cut."""
    cleaned = clean_text(text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"
