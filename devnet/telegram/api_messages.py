"""sendMessage, sendPhoto, sendDocument, editMessageText/Caption/ReplyMarkup, deleteMessage.

Who may be written to is Telegram's rule: a private chat only once the person has started the
bot (403 "bot can't initiate conversation with a user"), a group only while the bot is a member,
a channel only as an administrator allowed to post, a forum topic only if it exists (a closed one
only with can_manage_topics). Edits that change nothing are refused ("message is not modified").
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import checks, media
from .errors import bad_request, forbidden, refused
from .world import CHANNEL, PRIVATE, Chat, now

if TYPE_CHECKING:
    from .emulator import TelegramEmulator


def writable_chat(emu: "TelegramEmulator", p: dict[str, Any]) -> Chat:
    """The target chat, if the bot may post there now; else the answer Telegram gives."""
    chat = emu.world.chat(p["chat_id"])
    if chat is None:
        raise refused("chat not found")
    if chat.type == PRIVATE:
        assert chat.owner is not None
        if chat.owner.blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.owner.started:
            raise forbidden("bot can't initiate conversation with a user")
        return chat
    member = chat.member(emu.bot.id)
    if member is None:
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    if chat.type == CHANNEL and "can_post_messages" not in member.rights and member.status != "creator":
        raise refused("need administrator rights in the channel chat")
    thread = p.get("message_thread_id")
    if thread is not None:
        if not chat.is_forum or thread not in chat.topics:
            raise refused("message thread not found")
        if chat.topics[thread].closed and "can_manage_topics" not in member.rights:
            raise refused("TOPIC_CLOSED")
    return chat


def _base_message(emu: "TelegramEmulator", chat: Chat, p: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {"message_id": chat.new_message_id(), "date": now(), "chat": chat.json()}
    if chat.type == CHANNEL:
        msg["sender_chat"] = chat.json()
    else:
        msg["from"] = emu.bot.json()
    thread = p.get("message_thread_id")
    if thread is not None:
        msg["message_thread_id"] = thread
        msg["is_topic_message"] = True
    reply = p.get("reply_parameters") or ({"message_id": p["reply_to_message_id"]}
                                          if "reply_to_message_id" in p else None)
    if reply:
        target = chat.messages.get(int(reply.get("message_id", 0)))
        if target is None:
            if not reply.get("allow_sending_without_reply"):
                raise refused("message to be replied not found")
        else:
            msg["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
    return msg


def _markup(emu: "TelegramEmulator", chat: Chat, p: dict[str, Any]) -> dict[str, Any] | None:
    markup = p.get("reply_markup")
    if markup is None:
        return None
    for note in checks.check_reply_markup(markup, emu.bot.username or "", chat.type):
        emu.note(note)
    if "inline_keyboard" in markup:
        return markup if markup["inline_keyboard"] else None
    return None                      # reply keyboards are not part of the message object


def _links_in(emu: "TelegramEmulator", entities: list[dict[str, Any]]) -> None:
    for ent in entities:
        if ent.get("type") == "text_link":
            for note in checks.deep_link_problems(str(ent.get("url", "")), emu.bot.username or ""):
                emu.note(note)


def _store(emu: "TelegramEmulator", chat: Chat, msg: dict[str, Any], source: str | None) -> dict[str, Any]:
    chat.messages[msg["message_id"]] = msg
    if source is not None:
        chat.html_sources[msg["message_id"]] = source
    emu.changed(chat, msg["message_id"], new=True)
    return msg


async def send_message(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat = writable_chat(emu, p)
    parsed = checks.parsed_text(p["text"], p.get("parse_mode"))
    markup = _markup(emu, chat, p)
    msg = _base_message(emu, chat, p)
    msg["text"] = parsed.text
    entities = parsed.entities or list(p.get("entities") or [])
    _links_in(emu, entities)
    if entities:
        msg["entities"] = entities
    if markup:
        msg["reply_markup"] = markup
    return _store(emu, chat, msg, p["text"] if p.get("parse_mode") else None)


async def send_photo(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat = writable_chat(emu, p)
    sizes = media.photo_sizes(emu.world, p["photo"])
    return _media_message(emu, chat, p, "photo", sizes)


async def send_document(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat = writable_chat(emu, p)
    document = media.document(emu.world, p["document"])
    return _media_message(emu, chat, p, "document", document)


def _media_message(emu: "TelegramEmulator", chat: Chat, p: dict[str, Any], kind: str, value: Any) -> dict[str, Any]:
    parsed = checks.parsed_text(p.get("caption") or "", p.get("parse_mode"), caption=True)
    markup = _markup(emu, chat, p)
    msg = _base_message(emu, chat, p)
    msg[kind] = value
    if parsed.text:
        msg["caption"] = parsed.text
        if parsed.entities:
            msg["caption_entities"] = parsed.entities
    if markup:
        msg["reply_markup"] = markup
    return _store(emu, chat, msg, p.get("caption") if p.get("parse_mode") else None)


def _editable(emu: "TelegramEmulator", p: dict[str, Any]) -> tuple[Chat, dict[str, Any]]:
    if "inline_message_id" in p:
        raise bad_request("inline messages are not emulated")
    if "chat_id" not in p or "message_id" not in p:
        raise bad_request("chat_id and message_id are required when inline_message_id is not given")
    chat = emu.world.chat(p["chat_id"])
    if chat is None:
        raise refused("chat not found")
    msg = chat.messages.get(int(p["message_id"]))
    if msg is None:
        raise refused("message to edit not found")
    sender = msg.get("from", {}).get("id") if "from" in msg else (emu.bot.id if chat.type == CHANNEL else None)
    if sender != emu.bot.id:
        raise refused("message can't be edited")
    return chat, msg


def _commit_edit(emu: "TelegramEmulator", chat: Chat, msg: dict[str, Any], updated: dict[str, Any],
                 source: str | None) -> dict[str, Any]:
    if all(msg.get(k) == updated.get(k) for k in set(msg) | set(updated) if k != "edit_date"):
        raise refused("message is not modified: specified new message content and reply markup are exactly "
                      "the same as a current content and reply markup of the message")
    updated["edit_date"] = now()
    msg.clear()
    msg.update(updated)
    if source is not None:
        chat.html_sources[msg["message_id"]] = source
    else:
        chat.html_sources.pop(msg["message_id"], None)
    emu.changed(chat, msg["message_id"], new=False)
    return msg


def _apply_markup(emu: "TelegramEmulator", chat: Chat, updated: dict[str, Any], p: dict[str, Any]) -> None:
    markup = _markup(emu, chat, p)
    updated.pop("reply_markup", None)
    if markup:
        updated["reply_markup"] = markup


async def edit_message_text(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat, msg = _editable(emu, p)
    if "text" not in msg:
        raise refused("there is no text in the message to edit")
    parsed = checks.parsed_text(p["text"], p.get("parse_mode"))
    updated = {k: v for k, v in msg.items() if k not in ("text", "entities", "reply_markup")}
    updated["text"] = parsed.text
    entities = parsed.entities or list(p.get("entities") or [])
    _links_in(emu, entities)
    if entities:
        updated["entities"] = entities
    _apply_markup(emu, chat, updated, p)
    return _commit_edit(emu, chat, msg, updated, p["text"] if p.get("parse_mode") else None)


async def edit_message_caption(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat, msg = _editable(emu, p)
    if not any(k in msg for k in ("photo", "document", "video", "audio", "animation")):
        raise refused("there is no caption in the message to edit")
    parsed = checks.parsed_text(p.get("caption") or "", p.get("parse_mode"), caption=True)
    updated = {k: v for k, v in msg.items() if k not in ("caption", "caption_entities", "reply_markup")}
    if parsed.text:
        updated["caption"] = parsed.text
        if parsed.entities:
            updated["caption_entities"] = parsed.entities
    _apply_markup(emu, chat, updated, p)
    return _commit_edit(emu, chat, msg, updated, p.get("caption") if p.get("parse_mode") else None)


async def edit_message_reply_markup(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat, msg = _editable(emu, p)
    updated = dict(msg)
    _apply_markup(emu, chat, updated, p)
    return _commit_edit(emu, chat, msg, updated, chat.html_sources.get(msg["message_id"]))


async def delete_message(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    chat = emu.world.chat(p["chat_id"])
    if chat is None:
        raise refused("chat not found")
    mid = int(p["message_id"])
    msg = chat.messages.get(mid)
    if msg is None:
        raise refused("message to delete not found")
    own = msg.get("from", {}).get("id") == emu.bot.id or chat.type == CHANNEL
    if chat.type != PRIVATE and not own:
        member = chat.member(emu.bot.id)
        if member is None or "can_delete_messages" not in member.rights:
            raise refused("message can't be deleted")
    del chat.messages[mid]
    emu.deleted.append((chat.id, msg))
    emu.changed(chat, mid, new=False)
    return True


async def send_chat_action(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    writable_chat(emu, p)
    actions = ("typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
               "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note")
    if p["action"] not in actions:
        raise bad_request("wrong parameter action in request")
    return True


HANDLERS = {
    "sendChatAction": send_chat_action,
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
}
