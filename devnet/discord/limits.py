"""The limits Discord enforces beyond what its OpenAPI file says (the file allows 4,000 content
characters, 40 components and 40 modal items; a bot gets 2,000, 5 action rows and 5 modal inputs).

Figures from Discord's developer documentation (Message, Embed limits, Component reference,
Interactions: modal, autocomplete). Each check adds to a `FieldErrors` tree, so one answer lists
every broken field, as Discord's "Invalid Form Body" does.
"""
from __future__ import annotations

from typing import Any

from devnet.discord.errors import DiscordError, EMPTY_MESSAGE, FieldErrors

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX = 25, 256, 1024
FOOTER_MAX, AUTHOR_MAX = 2048, 256
ROWS_MAX, BUTTONS_PER_ROW, CUSTOM_ID_MAX, LABEL_MAX = 5, 5, 100, 80
SELECT_OPTIONS_MAX, PLACEHOLDER_MAX = 25, 150
MODAL_ITEMS_MAX, MODAL_TITLE_MAX, TEXT_LABEL_MAX, TEXT_VALUE_MAX = 5, 45, 45, 4000
CHOICES_MAX, CHOICE_NAME_MAX, CHOICE_VALUE_MAX = 25, 100, 100
FILES_MAX = 10
ALLOWED_MENTION_IDS_MAX = 100

# Component types (Discord's enum)
ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT, USER_SELECT, ROLE_SELECT = 1, 2, 3, 4, 5, 6
MENTIONABLE_SELECT, CHANNEL_SELECT, LABEL = 7, 8, 18
SELECTS = {STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT}
LINK_STYLE, PREMIUM_STYLE = 5, 6

# Message flags a sender may set; others are silently dropped by Discord.
SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2 = 1 << 2, 1 << 6, 1 << 12, 1 << 15
CHANNEL_SETTABLE = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
INTERACTION_SETTABLE = CHANNEL_SETTABLE | EPHEMERAL


def check_message(body: dict[str, Any], *, files: int = 0, edit: bool = False,
                  errors: FieldErrors | None = None) -> None:
    """Raise Discord's 400 for a message body a bot may not send (create, edit, callback data)."""
    errors = errors or FieldErrors()
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        errors.too_long(("content",), CONTENT_MAX)
    _check_embeds(body.get("embeds") or [], errors)
    _check_components(body.get("components") or [], errors, flags=int(body.get("flags") or 0))
    _check_allowed_mentions(body.get("allowed_mentions"), errors)
    if files > FILES_MAX:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", f"Must be {FILES_MAX} or fewer in length.")
    errors.raise_if_any()
    if not edit and not any(body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll")) \
            and not files:
        raise DiscordError(400, EMPTY_MESSAGE)


def _check_embeds(embeds: list[dict[str, Any]], errors: FieldErrors) -> None:
    if len(embeds) > EMBEDS_MAX:
        errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                errors.too_long(("embeds", i, key), limit)
        fields = embed.get("fields") or []
        if len(fields) > FIELD_MAX:
            errors.add(("embeds", i, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELD_MAX} or fewer in length.")
        for j, field in enumerate(fields):
            for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
                text = field.get(key) or ""
                total += len(text)
                if not text.strip():
                    errors.required(("embeds", i, "fields", j, key))
                elif len(text) > limit:
                    errors.too_long(("embeds", i, "fields", j, key), limit)
        for key, limit in (("footer", FOOTER_MAX), ("author", AUTHOR_MAX)):
            part = embed.get(key) or {}
            text = part.get("text" if key == "footer" else "name") or ""
            total += len(text)
            if len(text) > limit:
                errors.too_long(("embeds", i, key), limit)
    if total > EMBED_TOTAL_MAX:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")


def _check_components(rows: list[dict[str, Any]], errors: FieldErrors, *, flags: int) -> None:
    if flags & IS_COMPONENTS_V2:
        return      # components v2 layouts are not used by the bot; the spec still checks them
    if len(rows) > ROWS_MAX:
        errors.add(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {ROWS_MAX} or fewer in length.")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row.get("type") != ACTION_ROW:
            errors.add(("components", i, "type"), "UI_TYPE_INVALID", "Top-level components must be action rows")
            continue
        items = row.get("components") or []
        selects = [c for c in items if c.get("type") in SELECTS]
        if not items:
            errors.add(("components", i, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        elif selects and len(items) > 1:
            errors.add(("components", i, "components"), "UI_ACTION_ROW_SELECT_ALONE",
                       "A select menu must be alone in its action row")
        elif len(items) > BUTTONS_PER_ROW:
            errors.add(("components", i, "components"), "BASE_TYPE_BAD_LENGTH",
                       f"Must be between 1 and {BUTTONS_PER_ROW} in length.")
        for j, item in enumerate(items):
            _check_item(item, ("components", i, "components", j), errors, seen)


def _check_item(item: dict[str, Any], path: tuple[Any, ...], errors: FieldErrors, seen: set[str]) -> None:
    kind = item.get("type")
    custom_id = item.get("custom_id")
    if kind == BUTTON:
        if item.get("style") == LINK_STYLE:
            url = item.get("url") or ""
            if not url:
                errors.required((*path, "url"))
            elif not url.startswith(("http://", "https://", "discord://")):
                errors.add((*path, "url"), "URL_TYPE_INVALID_SCHEME",
                           f'Scheme "{url.split(":", 1)[0]}" is not supported. Scheme must be one of (\'http\', \'https\', \'discord\').')
            if custom_id:
                errors.add((*path, "custom_id"), "COMPONENT_LINK_CUSTOM_ID", "A link button cannot have a custom_id")
            return
        if item.get("style") == PREMIUM_STYLE:
            return
        if len(item.get("label") or "") > LABEL_MAX:
            errors.too_long((*path, "label"), LABEL_MAX)
    elif kind in SELECTS:
        options = item.get("options") or []
        if kind == STRING_SELECT and not 1 <= len(options) <= SELECT_OPTIONS_MAX:
            errors.too_many((*path, "options"), SELECT_OPTIONS_MAX)
        if len(item.get("placeholder") or "") > PLACEHOLDER_MAX:
            errors.too_long((*path, "placeholder"), PLACEHOLDER_MAX)
        high = int(item.get("max_values") or 1)
        if high > SELECT_OPTIONS_MAX or (kind == STRING_SELECT and high > len(options)):
            errors.add((*path, "max_values"), "BASE_TYPE_MAX", "max_values exceeds the number of options")
    elif kind != TEXT_INPUT:
        errors.add((*path, "type"), "UI_TYPE_INVALID", "Unsupported component in an action row")
        return
    if not custom_id:
        errors.required((*path, "custom_id"))
    elif len(custom_id) > CUSTOM_ID_MAX:
        errors.too_long((*path, "custom_id"), CUSTOM_ID_MAX)
    elif custom_id in seen:
        errors.add((*path, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
    else:
        seen.add(custom_id)


def _check_allowed_mentions(mentions: dict[str, Any] | None, errors: FieldErrors) -> None:
    if not mentions:
        return
    parse = mentions.get("parse") or []
    for key in ("users", "roles"):
        ids = mentions.get(key) or []
        if key in parse and ids:
            errors.add(("allowed_mentions", key), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                       f'parse:["{key}"] and {key}: [ids] are mutually exclusive.')
        if len(ids) > ALLOWED_MENTION_IDS_MAX:
            errors.too_long(("allowed_mentions", key), ALLOWED_MENTION_IDS_MAX)


def check_modal(data: dict[str, Any]) -> None:
    """A modal holds 1-5 items: action rows with one text input, or labels with one component."""
    errors = FieldErrors()
    items = data.get("components") or []
    if not 1 <= len(items) <= MODAL_ITEMS_MAX:
        errors.too_many(("data", "components"), MODAL_ITEMS_MAX)
    if len(data.get("title") or "") > MODAL_TITLE_MAX:
        errors.too_long(("data", "title"), MODAL_TITLE_MAX)
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = ("data", "components", i)
        if item.get("type") == ACTION_ROW:
            inner = item.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != TEXT_INPUT:
                errors.add((*path, "components"), "BASE_TYPE_BAD_LENGTH", "An action row in a modal holds one text input")
                continue
            field, label = inner[0], inner[0].get("label")
        elif item.get("type") == LABEL:
            field, label = item.get("component") or {}, item.get("label")
        else:
            continue    # text displays carry no input
        if len(label or "") > TEXT_LABEL_MAX:
            errors.too_long((*path, "label"), TEXT_LABEL_MAX)
        if len(field.get("value") or "") > TEXT_VALUE_MAX:
            errors.too_long((*path, "value"), TEXT_VALUE_MAX)
        _check_item(field, (*path, "component"), errors, seen)
    errors.raise_if_any()


def check_choices(data: dict[str, Any]) -> None:
    errors = FieldErrors()
    choices = data.get("choices") or []
    if len(choices) > CHOICES_MAX:
        errors.too_long(("data", "choices"), CHOICES_MAX)
    for i, choice in enumerate(choices):
        if not 1 <= len(choice.get("name") or "") <= CHOICE_NAME_MAX:
            errors.too_many(("data", "choices", i, "name"), CHOICE_NAME_MAX)
        value = choice.get("value")
        if isinstance(value, str) and len(value) > CHOICE_VALUE_MAX:
            errors.too_long(("data", "choices", i, "value"), CHOICE_VALUE_MAX)
    errors.raise_if_any()


def settable_flags(flags: int | None, *, interaction: bool) -> int:
    return int(flags or 0) & (INTERACTION_SETTABLE if interaction else CHANNEL_SETTABLE)
