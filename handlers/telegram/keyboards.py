"""Actions as inline keyboards, and the deep links that carry a group's request into the DM.

A command action becomes a callback button whose data the core's ActionCodec keeps within
Telegram's 64 bytes (a long one, like a next page carrying a query, is stored and named by a
short key). A link action becomes a URL button when Telegram accepts the URL (http, https, tg);
wallet URIs such as `wc:` cannot be buttons, so the message shows them instead. Deep links into
the bot carry a start payload of at most 64 characters of A-Za-z0-9_-: `rent_12`.
"""
from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat import Action, ActionStyle

CALLBACK_LIMIT = 64
PER_ROW = 3
MAX_ROWS = 8
_BUTTON_URL = re.compile(r"(https?|tg)://\S+")
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STYLES = {ActionStyle.PRIMARY: "primary", ActionStyle.SUCCESS: "success", ActionStyle.DANGER: "danger"}


def url_button_ok(url: str | None) -> bool:
    return bool(url) and _BUTTON_URL.fullmatch(url or "") is not None


async def keyboard(actions: list[Action], codec) -> InlineKeyboardMarkup | None:
    """The inline keyboard for `actions` (None when there is nothing to press)."""
    buttons: list[InlineKeyboardButton] = []
    for action in actions:
        style = _STYLES.get(action.style)
        label = action.label[:64]
        if action.url is not None:
            if url_button_ok(action.url):
                buttons.append(InlineKeyboardButton(label, url=action.url, style=style))
            continue
        data = await codec.encode(action, limit=CALLBACK_LIMIT)
        buttons.append(InlineKeyboardButton(label, callback_data=data, style=style))
    if not buttons:
        return None
    rows = [buttons[i:i + PER_ROW] for i in range(0, len(buttons), PER_ROW)][:MAX_ROWS]
    return InlineKeyboardMarkup(rows)


def deep_link(bot_username: str, payload: str) -> str:
    """`https://t.me/<bot>?start=<payload>`; the payload must fit Telegram's start rule."""
    if not _PAYLOAD.fullmatch(payload):
        raise ValueError(f"start payload {payload!r} is not 1-64 characters of A-Za-z0-9_-")
    return f"https://t.me/{bot_username}?start={payload}"


def rent_link(bot_username: str, offer_id: int) -> str:
    """Where a Rent in a group or channel sends the person: the DM, to pick hours there. Only
    this narrow payload is honoured by /start, so a link posted by someone else can start a
    rent conversation at most, never run a command on the opener's behalf."""
    return deep_link(bot_username, f"rent_{offer_id}")


def offer_from_payload(payload: str) -> int | None:
    match = re.fullmatch(r"rent_([0-9]{1,12})", payload or "")
    return int(match.group(1)) if match else None
