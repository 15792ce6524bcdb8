"""Telegram's HTML parse mode: the tags it allows, balanced, entities escaped.

Rules from the Bot API's "Formatting options" (HTML style): only the tags below; every `<`, `>`
and `&` that is not part of a tag or an entity must be written as `&lt;`, `&gt;`, `&amp;`; the only
named entities are `&lt; &gt; &amp; &quot;`, numeric ones are all allowed. Tags must close in order.
A failure raises `EntityParseError` with a message in Telegram's words ("Can't find end tag
corresponding to start tag ..."), which the caller answers as 400 "Bad Request: can't parse
entities: ...". On success the plain text and its MessageEntity list (offsets in UTF-16 units)
come back, as Telegram stores them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "code": "code", "pre": "pre",
}
OTHER_TAGS = {"a", "span", "blockquote", "tg-emoji", "tg-time"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*(/?)>")
_ATTR = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z]+));")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML."""


@dataclass
class _Open:
    tag: str
    entity: dict[str, object]
    start: int                      # UTF-16 offset where the entity starts
    pre_language: bool = False      # a <code class="language-x"> directly inside <pre>


@dataclass
class Parsed:
    text: str
    entities: list[dict[str, object]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> Parsed:
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, object]] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            match = _TAG.match(source, i)
            if match is None:
                raise EntityParseError(_unsupported_start(source, i))
            closing, name, attrs, _selfclose = match.groups()
            name = name.lower()
            if closing:
                _close(stack, name, source, i, entities, pos16)
            else:
                stack.append(_open(name, _attrs(attrs), source, i, pos16, stack))
            i = match.end()
            continue
        if ch == "&":
            match = _ENTITY.match(source, i)
            if match is None or (match.group(3) and match.group(3) not in NAMED_ENTITIES):
                raise EntityParseError(f"Unsupported HTML entity or unescaped \"&\" at byte offset {_byte(source, i)}")
            text = _decode_entity(match)
            i = match.end()
        elif ch == ">":
            raise EntityParseError(f"Unescaped \">\" at byte offset {_byte(source, i)}; write &gt;")
        else:
            text = ch
            i += 1
        out.append(text)
        pos16 += len(text) + sum(1 for c in text if ord(c) > 0xFFFF)     # UTF-16 units
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag \"{stack[-1].tag}\"")
    return _trimmed("".join(out), entities)


def _open(name: str, attrs: dict[str, str], source: str, i: int, pos16: int, stack: list[_Open]) -> _Open:
    if name in SIMPLE_TAGS:
        parent = stack[-1] if stack else None
        if name == "code" and parent is not None and parent.tag == "pre":
            lang = attrs.get("class", "")
            if lang.startswith("language-"):
                parent.entity["language"] = lang[len("language-"):]
                return _Open(name, {}, pos16, pre_language=True)
        return _Open(name, {"type": SIMPLE_TAGS[name]}, pos16)
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id=") and href[13:].isdigit():
            return _Open(name, {"type": "text_mention", "user": {"id": int(href[13:]), "is_bot": False,
                                                               "first_name": "User"}}, pos16)
        return _Open(name, {"type": "text_link", "url": href}, pos16)
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError("Tag \"span\" must have class \"tg-spoiler\"")
        return _Open(name, {"type": "spoiler"}, pos16)
    if name == "blockquote":
        if any(o.tag == "blockquote" for o in stack):
            raise EntityParseError("Blockquote entities can't be nested")
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return _Open(name, {"type": kind}, pos16)
    if name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise EntityParseError("Custom emoji entity must contain a valid custom emoji identifier")
        return _Open(name, {"type": "custom_emoji", "custom_emoji_id": emoji_id}, pos16)
    if name == "tg-time":
        unix = attrs.get("unix", "")
        if not unix.isdigit():
            raise EntityParseError("Date time entity must contain a valid Unix time")
        entity: dict[str, object] = {"type": "date_time", "unix_time": int(unix)}
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
        return _Open(name, entity, pos16)
    raise EntityParseError(f"Unsupported start tag \"{name}\" at byte offset {_byte(source, i)}")


def _close(stack: list[_Open], name: str, source: str, i: int,
           entities: list[dict[str, object]], pos16: int) -> None:
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte(source, i)}")
    top = stack[-1]
    if top.tag != name:
        raise EntityParseError(f"Unmatched end tag at byte offset {_byte(source, i)}, expected "
                               f"\"</{top.tag}>\", found \"</{name}>\"")
    stack.pop()
    if top.pre_language or pos16 == top.start:
        return                                   # empty entities are dropped, as Telegram does
    entities.append({**top.entity, "offset": top.start, "length": pos16 - top.start})


def _attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        raw = next((g for g in m.groups()[1:] if g is not None), "")
        out[m.group(1).lower()] = _ENTITY.sub(lambda e: _decode_entity(e) if e.group(3) in NAMED_ENTITIES
                                              or e.group(3) is None else e.group(0), raw)
    return out


def _decode_entity(match: re.Match[str]) -> str:
    dec, hexa, named = match.groups()
    if named:
        return NAMED_ENTITIES[named]
    code = int(dec) if dec else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError("Invalid numeric HTML entity")
    return chr(code)


def _unsupported_start(source: str, i: int) -> str:
    rest = source[i + 1:i + 40]
    if rest.startswith("/"):
        return f"Unexpected end tag at byte offset {_byte(source, i)}"
    if ">" not in rest and not re.match(r"[A-Za-z]", rest):
        return f"Unexpected character \"<\" at byte offset {_byte(source, i)}; write &lt;"
    if ">" not in source[i:]:
        return f"Unclosed start tag at byte offset {_byte(source, i)}"
    return f"Unsupported start tag \"{rest.split('>')[0]}\" at byte offset {_byte(source, i)}"


def _byte(source: str, i: int) -> int:
    return len(source[:i].encode("utf-8"))


def _trimmed(text: str, entities: list[dict[str, object]]) -> Parsed:
    """Telegram strips leading and trailing white space from a message and shifts its entities."""
    stripped = text.strip()
    lead = utf16_len(text[:len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    kept: list[dict[str, object]] = []
    for ent in sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"]))):
        start = max(0, int(ent["offset"]) - lead)
        stop = min(end, int(ent["offset"]) + int(ent["length"]) - lead)
        if stop > start:
            kept.append({**ent, "offset": start, "length": stop - start})
    return Parsed(stripped, kept)


def plain_entities(text: str) -> Parsed:
    """A message without a parse mode: the text as is (trimmed), bot commands marked."""
    return _trimmed(text, [])
