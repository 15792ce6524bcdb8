"""Telegram's limits on what a message may carry, answered in Telegram's words.

Text 1-4,096 characters and captions 0-1,024 after entity parsing; parse_mode HTML checked by
html_mode; inline keyboards: rows of buttons, each with a label and exactly one action,
callback_data 1-64 bytes, URLs http(s) or tg://; deep links into the bot (`t.me/<bot>?start=`)
carry at most 64 characters of A-Za-z0-9_-; bot commands 1-32 of a-z0-9_ with a 1-256 character
description, at most 100. A breach is a 400 and a violation (a correct bot never sends it).
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import bad_request
from .html_mode import EntityParseError, Parsed, parse_html, plain_entities

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                  "callback_game", "pay")
MAX_BUTTONS, MAX_ROW = 100, 8


def parsed_text(text: str, parse_mode: str | None, caption: bool = False) -> Parsed:
    """The text as Telegram stores it (entities parsed, trimmed), or the 400 it answers."""
    if parse_mode in (None, ""):
        parsed = plain_entities(text)
    elif parse_mode.upper() == "HTML":
        try:
            parsed = parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif parse_mode in ("MarkdownV2", "Markdown"):
        raise bad_request(f"parse_mode {parse_mode} is not emulated here; use HTML")
    else:
        raise bad_request(f"unsupported parse_mode \"{parse_mode}\"")
    if caption:
        if len(parsed.text) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
    else:
        if not parsed.text:
            raise bad_request("message text is empty")
        if len(parsed.text) > TEXT_LIMIT:
            raise bad_request("message is too long")
    return parsed


def check_reply_markup(markup: Any, bot_username: str, chat_type: str) -> list[str]:
    """Raise the 400 for a malformed inline keyboard; return problems Telegram would not refuse
    but that break the product (a deep link whose start payload Telegram clients drop)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return []
    rows = markup["inline_keyboard"]
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    notes: list[str] = []
    for row in rows:
        if len(row) > MAX_ROW:
            raise bad_request(f"too many buttons in a row of the inline keyboard (at most {MAX_ROW})")
        for button in row:
            notes += _check_button(button, bot_username, chat_type)
    return notes


def _check_button(button: dict[str, Any], bot_username: str, chat_type: str) -> list[str]:
    actions = [name for name in BUTTON_ACTIONS if name in button]
    if not str(button.get("text", "")).strip():
        raise bad_request("can't parse inline keyboard button: button text must be non-empty")
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(f"can't parse inline keyboard button: only one of {', '.join(actions)} may be used")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = str(button["url"])
        if not re.match(r"(https?|tg)://[^\s]+$", url):
            raise bad_request("BUTTON_URL_INVALID")
        return deep_link_problems(url, bot_username)
    if "web_app" in button and chat_type != "private":
        raise bad_request("BUTTON_TYPE_INVALID")
    return []


def deep_link_problems(url: str, bot_username: str) -> list[str]:
    """A t.me link into this bot must carry a start payload Telegram clients accept."""
    payload = start_payload(url, bot_username)
    if payload is None or START_PAYLOAD.fullmatch(payload):
        return []
    return [f"deep link {url!r}: start payload must be 1-64 characters of A-Za-z0-9_- "
            f"(Telegram clients drop it otherwise)"]


def start_payload(url: str, bot_username: str) -> str | None:
    """The `start` parameter of a t.me link into this bot, or None if it is no such link."""
    parts = urlsplit(url if "://" in url else "https://" + url)
    if parts.netloc.lower() not in ("t.me", "telegram.me") or parts.path.strip("/").lower() != bot_username.lower():
        return None
    values = parse_qs(parts.query, keep_blank_values=True).get("start")
    return values[0] if values else None


def check_commands(commands: list[dict[str, Any]]) -> None:
    if len(commands) > 100:
        raise bad_request("too many commands: at most 100")
    for cmd in commands:
        if not COMMAND_NAME.fullmatch(str(cmd.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def command_entity(text: str) -> dict[str, Any] | None:
    """The bot_command entity a Telegram client attaches to text starting with /command."""
    match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?", text)
    if match is None:
        return None
    return {"type": "bot_command", "offset": 0, "length": len(match.group(0))}
