"""From a typed call or a line of text to validated arguments, by the command table.

Text is first cut into raw words per parameter (`parse_text`), then both paths go through the
same `bind`, so a wrong type, an out-of-range number, an unknown choice or an oversized text
gets the same message from a slash command, a Telegram text command and the console.
"""
from __future__ import annotations

import re
from typing import Mapping

from bot.chat.text import clean_text
from bot.commands import spec
from bot.commands.spec import Command, Param, PType
from bot.domain.errors import InvalidInput

MAX_LINE = 4000
_INT_RE = re.compile(r"#?(-?[0-9]{1,40})")   # out-of-range numbers get the bounds, like typed ones
_DECIMAL_RE = re.compile(r"[0-9]{1,30}(\.[0-9]{1,36})?|\.[0-9]{1,36}")
_PLATFORM_REF_RE = re.compile(r"[A-Za-z0-9_:@-]{1,64}")
_KW_RE = re.compile(r"([a-z_]{1,24})=(.*)", re.S)
_NAME_RE = re.compile(r"[a-z]{1,20}")

Value = int | str


def usage_hint(cmd: Command) -> str:
    hint = f"usage: {cmd.usage}"
    return f"{hint}, e.g. {cmd.example}" if cmd.example else hint


def coerce(p: Param, value: object) -> Value:
    """One parameter's value, validated; `value` is a word of text or a typed front-end's value."""
    what = p.what
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{what} must be {_kind(p)}")
    if p.type is PType.INT:
        if isinstance(value, str):
            word = value.strip()
            if p.unit and word.endswith(p.unit):
                word = word[:-len(p.unit)]
            m = _INT_RE.fullmatch(word)
            if not m:
                raise InvalidInput(f"{what} must be a whole number like {p.min if p.min and p.min > 1 else 12}"
                                   f" (got {value[:20]!r})")
            value = int(m.group(1))
        lo = p.min if p.min is not None else 1
        hi = p.max if p.max is not None else 2**31 - 1
        if not lo <= value <= hi:
            raise InvalidInput(f"{what} must be between {lo} and {hi}")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be {_kind(p)}")
    if len(value) > p.max_length:
        raise InvalidInput(f"the {what} is too long (at most {p.max_length} characters)")
    text = clean_text(value, multiline=p.rest)
    if not text:
        raise InvalidInput(f"please give the {what}")
    if p.type is PType.CHOICE:
        choice = text.lower()
        if choice not in p.choices:
            raise InvalidInput(f"{what} must be one of {', '.join(p.choices)} (got {text[:20]!r})")
        return choice
    if p.type is PType.DECIMAL and not _DECIMAL_RE.fullmatch(text):
        raise InvalidInput(f"{what} must be a number like 0.5 (got {text[:20]!r})")
    if p.type in (PType.CHANNEL, PType.ROLE):
        ref = text.strip("<#@&>")
        if not _PLATFORM_REF_RE.fullmatch(ref):
            raise InvalidInput(f"{what} must be a {p.type.value} id (got {text[:20]!r})")
        return ref
    return text


def _kind(p: Param) -> str:
    return {PType.INT: "a whole number", PType.CHOICE: f"one of {', '.join(p.choices)}",
            PType.DECIMAL: "a number like 0.5"}.get(p.type, "text")


def bind(cmd: Command, raw: Mapping[str, object], *, typed: bool) -> dict[str, Value]:
    """Validate every given argument, then check that nothing required is missing.

    `typed` says which parameters may be given: typed front-ends may not pass text-only
    ones, and text may not name typed-only ones. Implied parameters are filled by the caller
    before this runs."""
    args: dict[str, Value] = {}
    for name, value in raw.items():
        p = cmd.param(name) if isinstance(name, str) else None
        if p is None or not (p.typed if typed else p.text):
            known = ", ".join(q.name for q in cmd.params if (q.typed if typed else q.text)) or "none"
            raise InvalidInput(f"/{cmd.path} has no option {str(name)[:24]!r} (options: {known})")
        if value is None or (value == "" and not p.required):
            continue       # an option left empty is an option not given
        args[name] = coerce(p, value)
    missing = [p for p in cmd.params if p.required and p.name not in args and (p.typed if typed else p.text)]
    if missing:
        names = ", ".join(p.what for p in missing)
        raise InvalidInput(f"missing {names}: {usage_hint(cmd)}")
    return args


# ---- text -------------------------------------------------------------------------------------

def split_command(text: str) -> tuple[str, str]:
    """'/rent 3 4' -> ('rent', '3 4'). Raises InvalidInput for anything that is not a command."""
    if len(text) > MAX_LINE:
        raise InvalidInput(f"that message is too long (at most {MAX_LINE} characters)")
    stripped = text.strip()
    if not stripped.startswith("/"):
        raise InvalidInput("commands start with '/': try /help")
    head, _, rest = stripped[1:].partition(" ")
    head, _, rest2 = head.partition("\n")
    rest = (rest2 + " " + rest).strip() if rest2 else rest
    name = head.split("@", 1)[0].lower()   # Telegram appends @botname in groups
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(f"unknown command /{clean_text(head)[:20]}: try /help")
    return name, rest.strip()


def resolve_path(name: str, rest: str) -> tuple[Command, str]:
    """The command a text line names, and the rest of the line for its parameters.

    In a group, a first word that names a subcommand selects it; a first word that is not a
    name (`/offer 3`) or no word at all (`/wallet`) selects the group's default subcommand."""
    group = spec.GROUPS.get(name)
    if group is None:
        direct = spec.get(name)
        if direct is None:
            raise InvalidInput(f"unknown command /{name}: try /help")
        return direct, rest
    first, _, after = rest.partition(" ") if rest else ("", "", "")
    first = first.split("\n", 1)[0]
    sub = spec.get(f"{name} {first.lower()}") if first.isalpha() else None
    if sub is not None:
        return sub, rest[len(first):].strip()
    if group.default is not None and not first.isalpha():
        return spec.TABLE[f"{name} {group.default}"], rest
    subs = "|".join(c.sub or "" for c in spec.TABLE.values() if c.name == name)
    what = f"unknown subcommand {clean_text(first)[:20]!r}: " if first else ""
    raise InvalidInput(f"{what}use /{name} {subs} (see /help {name})")


_WORD_RE = re.compile(r"\S+")


def parse_text(cmd: Command, rest: str) -> dict[str, str]:
    """Cut the rest of a line into raw words per parameter (validation is `bind`'s job)."""
    raw: dict[str, str] = {}
    params = [p for p in cmd.params if p.text]
    keywords = {p.name: p for p in params if p.keyword}
    positional = [p for p in params if not p.keyword]
    words = list(_WORD_RE.finditer(rest))
    i = 0
    for p in positional:
        if i >= len(words):
            break
        word = words[i].group(0)
        if p.rest:
            raw[p.name] = rest[words[i].start():].strip()
            i = len(words)
            break
        if p.marker is not None and not word.startswith(p.marker):
            continue
        m = _KW_RE.fullmatch(word)
        if keywords and m and m.group(1) in keywords:
            break          # the name=value settings start: any positional left is missing
        raw[p.name] = word
        i += 1
    leftover = [w.group(0) for w in words[i:]]
    if leftover and not keywords:
        raise InvalidInput(f"too many words: {usage_hint(cmd)}")
    for word in leftover:
        m = _KW_RE.fullmatch(word)
        if not m or m.group(1) not in keywords:
            raise InvalidInput(f"{clean_text(word)[:40]!r} is not a setting: use name=value with names "
                               f"{', '.join(sorted(keywords))}")
        if m.group(1) in raw:
            raise InvalidInput(f"{m.group(1)} is given twice")
        raw[m.group(1)] = m.group(2)
    for p in params:
        if p.expand is not None and p.name in raw:
            for name, value in p.expand(raw.pop(p.name)).items():
                if name in raw:
                    raise InvalidInput(f"{name} is given twice (also in {p.name}=)")
                raw[name] = value
    return raw


def command_text(path: str, args: Mapping[str, object]) -> str:
    """The text command for a typed call, e.g. ("rent", {"offer": 12, "hours": 4}) -> "/rent 12 4":
    what the console shows for a button. Parameters left out stay out (the person adds them)."""
    cmd = spec.get(path)
    if cmd is None:
        raise ValueError(f"unknown command {path!r}")
    words = [f"/{cmd.path}"]
    tail = ""
    for p in cmd.params:
        if p.name not in args or not p.text:
            continue
        value = str(args[p.name])
        if p.rest:
            tail = value
        elif p.keyword:
            words.append(f"{p.name}={value}")
        else:
            words.append(f"{p.marker or ''}{value}")
    return " ".join(words + ([tail] if tail else []))
