"""Argument parsing for plain-text commands: strict, bounded, with messages that say what to type."""
from __future__ import annotations

import re

from bot.domain.errors import InvalidInput
from bot.services.offers import OfferSpec

MAX_LINE = 4000
_INT_RE = re.compile(r"#?([0-9]{1,9})")
_HOURS_RANGE_RE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")
_KV_RE = re.compile(r"([a-z_]{1,20})=(\S{1,200})")


def split_command(text: str) -> tuple[str, str]:
    """'/rent 3 4' -> ('rent', '3 4'). Raises InvalidInput for anything that is not a command."""
    if len(text) > MAX_LINE:
        raise InvalidInput(f"that message is too long (at most {MAX_LINE} characters)")
    stripped = text.strip()
    if not stripped.startswith("/"):
        raise InvalidInput("commands start with '/': try /help")
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()   # Telegram appends @botname in groups
    if not re.fullmatch(r"[a-z]{1,20}", name):
        raise InvalidInput(f"unknown command /{head[:20]}: try /help")
    return name, rest.strip()


def parse_int(text: str, what: str, *, lo: int = 1, hi: int = 2**31 - 1) -> int:
    m = _INT_RE.fullmatch(text.strip())
    if not m:
        raise InvalidInput(f"{what} must be a whole number like 12 (got {text[:20]!r})")
    value = int(m.group(1))
    if not lo <= value <= hi:
        raise InvalidInput(f"{what} must be between {lo} and {hi}")
    return value


def words(rest: str, count: int, usage: str) -> list[str]:
    parts = rest.split()
    if len(parts) != count:
        raise InvalidInput(f"usage: {usage}")
    return parts


def parse_offer_spec(text: str, *, allow_empty: bool = False) -> OfferSpec:
    """`gpu=rtx4090 count=1 vram=24 price=0.5 token=USDC hours=1-72 region=eu host=rig-1`."""
    fields: dict[str, object] = {}
    names = {"gpu", "count", "vram", "price", "token", "hours", "min_hours", "max_hours", "region", "host", "capacity"}
    for term in text.split():
        m = _KV_RE.fullmatch(term)
        if not m or m.group(1) not in names:
            raise InvalidInput(f"{term[:40]!r} is not a setting: use name=value with names "
                               f"{', '.join(sorted(names))}")
        key, value = m.group(1), m.group(2)
        if key in fields or (key == "hours" and ("min_hours" in fields or "max_hours" in fields)):
            raise InvalidInput(f"{key} is given twice")
        if key == "hours":
            r = _HOURS_RANGE_RE.fullmatch(value)
            if r:
                fields["min_hours"], fields["max_hours"] = int(r.group(1)), int(r.group(2))
            else:
                n = parse_int(value, "hours", hi=99_999)
                fields["min_hours"], fields["max_hours"] = 1, n
        elif key in ("count", "vram", "capacity", "min_hours", "max_hours"):
            fields[key] = parse_int(value, key, lo=0, hi=99_999)
        else:
            fields[key] = value
    if not fields and not allow_empty:
        raise InvalidInput("usage: /offer create gpu=rtx4090 count=1 vram=24 price=0.5 hours=1-72 region=eu")
    return OfferSpec(**fields)  # type: ignore[arg-type]
