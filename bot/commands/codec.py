"""Actions in a platform's button payload, and back into a typed call.

A Discord custom_id holds at most 100 characters and Telegram callback data at most 64 bytes.
A short action is written out in full (`a1:rent:offer=12`), so buttons on old messages keep
working after a restart without any state; a longer one (a next-page button carrying a
query) is kept in the store and the payload names it (`a1~<16 letters>`). The payload is
only a request: decoding checks the command exists, and the call then gets every check a
typed call gets (a forged payload can ask for no more than its sender could type).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote, unquote

from bot.chat import Action
from bot.commands import spec
from bot.domain.errors import InvalidInput

PREFIX = "a1"
DISCORD_CUSTOM_ID = 100     # characters
TELEGRAM_CALLBACK = 64      # bytes
STORE_NAMESPACE = "chat-action"
_KEY_RE = re.compile(r"[a-z2-7]{16}")
_EXPIRED = "that button is too old or damaged; run the command again"


def _pack(path: str, args: dict[str, str | int]) -> str:
    body = ";".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in sorted(args.items()))
    return f"{PREFIX}:{path.replace(' ', '.')}:{body}"


def _unpack(data: str) -> tuple[str, dict[str, str]]:
    try:
        prefix, path, body = data.split(":", 2)
    except ValueError:
        raise InvalidInput(_EXPIRED) from None
    if prefix != PREFIX:
        raise InvalidInput(_EXPIRED)
    args: dict[str, str] = {}
    for item in filter(None, body.split(";")):
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(_EXPIRED)
        args[unquote(name)] = unquote(value)
    return path.replace(".", " "), args


class ActionCodec:
    def __init__(self, services) -> None:
        self.services = services

    async def encode(self, action: Action, limit: int = TELEGRAM_CALLBACK) -> str:
        """A payload of at most `limit` bytes (UTF-8) for `action` (one that runs a command)."""
        if action.command is None:
            raise ValueError("a link action has no payload: use its url")
        packed = _pack(action.command, dict(action.args))
        if len(packed.encode()) <= limit:
            return packed
        canonical = json.dumps({"command": action.command, "args": dict(action.args)}, sort_keys=True)
        key = _digest(canonical)
        await self.services.kv.put(STORE_NAMESPACE, key, canonical)
        return f"{PREFIX}~{key}"

    async def decode(self, data: str) -> tuple[str, dict[str, str]]:
        """(command path, raw arguments) for `invoke`; InvalidInput for anything unknown."""
        if not isinstance(data, str) or len(data) > 200:
            raise InvalidInput(_EXPIRED)
        if data.startswith(f"{PREFIX}~"):
            key = data[len(PREFIX) + 1:]
            stored = await self.services.kv.get(STORE_NAMESPACE, key) if _KEY_RE.fullmatch(key) else None
            if stored is None:
                raise InvalidInput(_EXPIRED)
            record = json.loads(stored)
            path, args = record["command"], {k: v for k, v in record["args"].items()}
        else:
            path, args = _unpack(data)
        if spec.get(path) is None:
            raise InvalidInput(_EXPIRED)
        return path, args


def _digest(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode().lower()[:16]
