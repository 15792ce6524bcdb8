"""What the emulated Discord holds: users, guilds, roles, members, channels, threads, DMs,
messages, application commands and interactions. Plain dataclasses; `payloads` renders them."""
from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types
GUILD_TEXT, DM, GUILD_CATEGORY, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 4, 11, 12
THREAD_TYPES = {PUBLIC_THREAD, PRIVATE_THREAD, 10}

# Permission bits used by the emulator
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
MENTION_EVERYONE = 1 << 17
MANAGE_THREADS = 1 << 34
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
MEMBER_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | (1 << 31) | (1 << 16) | (1 << 15)


class Snowflakes:
    """Real-looking ids: milliseconds since the Discord epoch << 22, plus a counter."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    dms_open: bool = True       # False: "Allow direct messages from server members" is off


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False


@dataclass
class Member:
    user_id: int
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = ""


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Message:
    id: int
    channel_id: int
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    timestamp: str = ""
    edited_timestamp: str | None = None
    nonce: str | int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    allowed_mentions: dict[str, Any] | None = None
    interaction_id: int | None = None       # the interaction this message answers
    visible_to: int | None = None           # ephemeral: only this user sees it
    deleted: bool = False
    message_reference: dict[str, Any] | None = None

    @property
    def ephemeral(self) -> bool:
        return self.visible_to is not None


@dataclass
class Channel:
    id: int
    type: int
    guild_id: int | None = None
    name: str | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    recipients: list[int] = field(default_factory=list)        # DM: the other user
    messages: dict[int, Message] = field(default_factory=dict)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: str = ""
    thread_members: set[int] = field(default_factory=set)
    overwrites: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == DM

    def visible(self, viewer: int | None = None) -> list[Message]:
        """Messages a person sees: not deleted, and ephemeral ones only for their user."""
        return [m for m in self.messages.values()
                if not m.deleted and (m.visible_to is None or m.visible_to == viewer)]


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: str = ""

    def permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        if member is None:
            return 0
        perms = self.roles[self.id].permissions
        for role_id in member.roles:
            perms |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


@dataclass
class Command:
    id: int
    application_id: int
    name: str
    description: str
    type: int = 1
    guild_id: int | None = None
    options: list[dict[str, Any]] = field(default_factory=list)
    default_member_permissions: str | None = None
    contexts: list[int] | None = None
    integration_types: list[int] | None = None
    nsfw: bool = False
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)   # localizations and the like, as sent


@dataclass
class Interaction:
    id: int
    application_id: int
    type: int                                   # 2 command, 3 component, 4 autocomplete, 5 modal submit
    data: dict[str, Any]
    user_id: int
    channel_id: int
    guild_id: int | None
    created_at: float                           # emulator clock (seconds)
    token: str = field(default_factory=lambda: "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48))
    message_id: int | None = None               # the message whose component was used
    response_type: int | None = None            # callback type once answered
    answered_at: float | None = None            # emulator clock at the callback
    sent_at: float | None = None                # when its INTERACTION_CREATE left the gateway
    response_message_id: int | None = None
    modal: dict[str, Any] | None = None         # the modal the bot answered with
    choices: list[dict[str, Any]] | None = None  # autocomplete result
    followup_ids: list[int] = field(default_factory=list)
    ephemeral: bool = False

    @property
    def answered(self) -> bool:
        return self.response_type is not None
