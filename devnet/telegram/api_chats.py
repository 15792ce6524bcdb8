"""getMe, commands per scope, callback answers, files, chats, members and forum topics."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import checks, media
from .errors import bad_request, forbidden, refused
from .world import GROUP, PRIVATE, SUPERGROUP, Chat, Member, Topic, now

if TYPE_CHECKING:
    from .emulator import TelegramEmulator

TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)


async def get_me(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    return {**emu.bot.json(), "can_join_groups": True, "can_read_all_group_messages": not emu.privacy_mode,
            "supports_inline_queries": False}


# -- commands -------------------------------------------------------------------------------------
def _scope_key(emu: "TelegramEmulator", p: dict[str, Any]) -> str:
    scope = p.get("scope") or {"type": "default"}
    kind = scope.get("type")
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat = emu.world.chat(scope.get("chat_id"))
        if chat is None:
            raise refused("chat not found")
        if kind == "chat_administrators" and not chat.is_group:
            raise refused("can't use chat_administrators scope in private chats")
        if kind == "chat_member" and chat.member(int(scope.get("user_id", 0))) is None:
            raise refused("user not found")
        scope = {**scope, "chat_id": chat.id}
    return json.dumps(scope, sort_keys=True) + "|" + (p.get("language_code") or "")


async def set_my_commands(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    checks.check_commands(p["commands"])
    emu.commands[_scope_key(emu, p)] = [{"command": c["command"], "description": c["description"]}
                                        for c in p["commands"]]
    return True


async def get_my_commands(emu: "TelegramEmulator", p: dict[str, Any]) -> list[dict[str, Any]]:
    return list(emu.commands.get(_scope_key(emu, p), []))


async def delete_my_commands(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    emu.commands.pop(_scope_key(emu, p), None)
    return True


# -- callback queries and files -----------------------------------------------------------------
async def answer_callback_query(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    query = emu.callback_queries.get(p["callback_query_id"])
    if query is None or query.answered or query.expired(emu.callback_timeout):
        raise refused("query is too old and response timeout expired or query ID is invalid")
    if len(p.get("text") or "") > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    if p.get("url") and checks.start_payload(p["url"], emu.bot.username or "") is None:
        raise bad_request("URL_INVALID")
    query.answer = {k: p[k] for k in ("text", "show_alert", "url", "cache_time") if k in p}
    query.answered = True
    emu.changed(None, None, new=False)
    return True


async def get_file(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    stored = emu.world.files.get(p["file_id"])
    if stored is None:
        raise refused("invalid file_id")
    return media.file_object(stored)


# -- chats and members ----------------------------------------------------------------------------
def _visible_chat(emu: "TelegramEmulator", p: dict[str, Any]) -> Chat:
    chat = emu.world.chat(p["chat_id"])
    if chat is None:
        raise refused("chat not found")
    if chat.type != PRIVATE and chat.member(emu.bot.id) is None:
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    return chat


async def get_chat(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    return emu.world.full_info(_visible_chat(emu, p))


async def get_chat_member(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat = _visible_chat(emu, p)
    user = emu.world.users.get(int(p["user_id"]))
    if user is None:
        raise refused("PARTICIPANT_ID_INVALID")
    if chat.type == PRIVATE:
        status = "member" if chat.owner and user.id in (chat.owner.id, emu.bot.id) else "left"
        return emu.world.member_json(_private_view(chat, user.id, status), user)
    return emu.world.member_json(chat, user)


def _private_view(chat: Chat, user_id: int, status: str) -> Chat:
    view = Chat(chat.id, chat.type, owner=chat.owner)
    view.members[user_id] = Member(user_id, status)
    return view


async def get_chat_administrators(emu: "TelegramEmulator", p: dict[str, Any]) -> list[dict[str, Any]]:
    chat = _visible_chat(emu, p)
    if chat.type == PRIVATE:
        raise refused("there are no administrators in the private chat")
    return [emu.world.member_json(chat, emu.world.users[m.user_id])
            for m in chat.members.values() if m.status in ("creator", "administrator")]


async def get_chat_member_count(emu: "TelegramEmulator", p: dict[str, Any]) -> int:
    chat = _visible_chat(emu, p)
    return 2 if chat.type == PRIVATE else len([m for m in chat.members.values() if chat.member(m.user_id)])


# -- forum topics ---------------------------------------------------------------------------------
def _forum(emu: "TelegramEmulator", p: dict[str, Any], thread: int | None = None) -> tuple[Chat, Topic | None]:
    chat = _visible_chat(emu, p)
    if chat.type != SUPERGROUP or not chat.is_forum:
        raise refused("the chat is not a forum" if chat.type in (SUPERGROUP, GROUP) else "method is available "
                      "only for supergroups")
    member = chat.member(emu.bot.id)
    if member is None or (member.status != "creator" and "can_manage_topics" not in member.rights):
        raise refused("not enough rights to manage topics" if thread else "not enough rights to create a topic")
    if thread is None:
        return chat, None
    topic = chat.topics.get(thread)
    if topic is None:
        raise refused("message thread not found")
    return chat, topic


def _service(emu: "TelegramEmulator", chat: Chat, thread: int, body: dict[str, Any], mid: int | None = None) -> None:
    msg = {"message_id": mid or chat.new_message_id(), "date": now(), "chat": chat.json(),
           "from": emu.bot.json(), "message_thread_id": thread, "is_topic_message": True, **body}
    chat.messages[msg["message_id"]] = msg
    emu.changed(chat, msg["message_id"], new=True)


async def create_forum_topic(emu: "TelegramEmulator", p: dict[str, Any]) -> dict[str, Any]:
    chat, _ = _forum(emu, p)
    name = p["name"]
    if not 1 <= len(name) <= 128:
        raise bad_request("TOPIC_NAME_INVALID")
    color = p.get("icon_color", TOPIC_COLORS[0])
    if color not in TOPIC_COLORS:
        raise bad_request("TOPIC_COLOR_INVALID")
    thread = chat.new_message_id()
    chat.topics[thread] = Topic(thread, name, color)
    _service(emu, chat, thread, {"forum_topic_created": {"name": name, "icon_color": color}}, mid=thread)
    return {"message_thread_id": thread, "name": name, "icon_color": color}


async def close_forum_topic(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    chat, topic = _forum(emu, p, int(p["message_thread_id"]))
    assert topic is not None
    if topic.closed:
        raise refused("TOPIC_NOT_MODIFIED")
    topic.closed = True
    _service(emu, chat, topic.thread_id, {"forum_topic_closed": {}})
    return True


async def reopen_forum_topic(emu: "TelegramEmulator", p: dict[str, Any]) -> bool:
    chat, topic = _forum(emu, p, int(p["message_thread_id"]))
    assert topic is not None
    if not topic.closed:
        raise refused("TOPIC_NOT_MODIFIED")
    topic.closed = False
    _service(emu, chat, topic.thread_id, {"forum_topic_reopened": {}})
    return True


HANDLERS = {
    "getMe": get_me,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "createForumTopic": create_forum_topic,
    "closeForumTopic": close_forum_topic,
    "reopenForumTopic": reopen_forum_topic,
}
