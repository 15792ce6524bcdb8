"""What the emulated Telegram knows: users, chats and their members, topics, messages, files.

Objects are rendered to the Bot API's JSON shapes here (User, Chat, ChatFullInfo, ChatMember...);
required fields the emulator has no opinion on are filled from the spec with neutral values so
every answer validates against api.json.
"""
from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from .spec import ApiSpec

PRIVATE, GROUP, SUPERGROUP, CHANNEL = "private", "group", "supergroup", "channel"
# Rights a bot needs for what it does in a supergroup or channel (ChatMemberAdministrator fields).
DEFAULT_BOT_RIGHTS = ("can_manage_chat", "can_delete_messages", "can_post_messages", "can_edit_messages",
                      "can_manage_topics", "can_pin_messages", "can_invite_users")


@dataclass
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    language_code: str | None = "en"
    started: bool = False            # has opened the private chat with the bot (pressed START)
    blocked: bool = False            # has blocked the bot

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class Member:
    user_id: int
    status: str = "member"           # creator | administrator | member | left | kicked
    rights: frozenset[str] = frozenset()


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    closed: bool = False


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    content: bytes
    file_name: str
    mime_type: str
    path: str


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    owner: User | None = None                    # for private chats: the user
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    html_sources: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1

    @property
    def is_group(self) -> bool:
        return self.type in (GROUP, SUPERGROUP)

    def new_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == PRIVATE and self.owner is not None:
            out.update({k: v for k, v in self.owner.json().items() if k in ("first_name", "last_name", "username")})
        else:
            out["title"] = self.title
            if self.username:
                out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out

    def member(self, user_id: int) -> Member | None:
        if self.type == PRIVATE:
            return Member(user_id) if self.owner and self.owner.id == user_id else None
        member = self.members.get(user_id)
        return member if member and member.status not in ("left", "kicked") else None

    def is_admin(self, user_id: int) -> bool:
        member = self.member(user_id)
        return member is not None and member.status in ("creator", "administrator")


class World:
    """The registry of users, chats and files; ids are allocated like Telegram's (groups < 0)."""

    def __init__(self, spec: ApiSpec, bot: User) -> None:
        self.spec = spec
        self.bot = bot
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self._user_ids = itertools.count(100001)
        self._group_ids = itertools.count(4001)
        self._super_ids = itertools.count(1000000001)
        self._file_ids = itertools.count(1)

    # -- building ----------------------------------------------------------------------------
    def add_user(self, first_name: str, username: str | None = None, **kw: Any) -> User:
        user = User(next(self._user_ids), first_name, username, **kw)
        self.users[user.id] = user
        self.chats[user.id] = Chat(user.id, PRIVATE, owner=user)
        return user

    def add_chat(self, type_: str, title: str, username: str | None = None, is_forum: bool = False) -> Chat:
        if type_ == GROUP:
            chat_id = -next(self._group_ids)
        else:
            chat_id = -1000000000000 - next(self._super_ids)
        chat = Chat(chat_id, type_, title=title, username=username, is_forum=is_forum)
        self.chats[chat_id] = chat
        return chat

    def private_chat(self, user: User) -> Chat:
        return self.chats[user.id]

    def chat(self, ref: int | str) -> Chat | None:
        if isinstance(ref, str) and ref.startswith("@"):
            return next((c for c in self.chats.values() if c.username and c.username.lower() == ref[1:].lower()), None)
        try:
            return self.chats.get(int(ref))
        except (TypeError, ValueError):
            return None

    def store_file(self, content: bytes, file_name: str, mime_type: str, folder: str) -> StoredFile:
        n = next(self._file_ids)
        digest = hashlib.sha256(content).hexdigest()
        stored = StoredFile(f"F{n:06d}{digest[:24]}", f"U{digest[:14]}", content, file_name, mime_type,
                            f"{folder}/file_{n}{_suffix(file_name)}")
        self.files[stored.file_id] = stored
        return stored

    # -- rendering ---------------------------------------------------------------------------
    def member_json(self, chat: Chat, user: User) -> dict[str, Any]:
        member = chat.members.get(user.id) or Member(user.id, "left")
        kinds = {"creator": "ChatMemberOwner", "administrator": "ChatMemberAdministrator",
                 "member": "ChatMemberMember", "left": "ChatMemberLeft", "kicked": "ChatMemberBanned",
                 "restricted": "ChatMemberRestricted"}
        kind = kinds[member.status]
        out: dict[str, Any] = {"status": member.status, "user": user.json()}
        for name, f in self.spec.fields(kind).items():
            if name in out:
                continue
            if f.types == ("Boolean",) and (f.required or name in member.rights):
                out[name] = name in member.rights
            elif f.required:
                out[name] = neutral(self.spec, f.types[0])
        return out

    def full_info(self, chat: Chat) -> dict[str, Any]:
        out = chat.json()
        for name, f in self.spec.fields("ChatFullInfo").items():
            if f.required and name not in out:
                out[name] = neutral(self.spec, f.types[0])
        return out

    def chat_instance(self, chat: Chat) -> str:
        return str(int(hashlib.sha256(f"{chat.id}".encode()).hexdigest()[:15], 16))


def neutral(spec: ApiSpec, type_name: str) -> Any:
    """A value of `type_name` with every required field at a neutral value (0, False, "")."""
    scalars = {"Integer": 0, "Float": 0.0, "String": "", "Boolean": False, "True": True}
    if type_name in scalars:
        return scalars[type_name]
    if type_name.startswith("Array of "):
        return []
    return {name: neutral(spec, f.types[0]) for name, f in spec.fields(type_name).items() if f.required}


def _suffix(file_name: str) -> str:
    return file_name[file_name.rfind("."):] if "." in file_name else ""


def now() -> int:
    return int(time.time())
