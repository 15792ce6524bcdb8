"""One object for tests and the demo: the emulator, its HTTP server and the scenario API."""
from __future__ import annotations

import json
from typing import Any, Iterable

from .emulator import TelegramEmulator
from .limits import RateLimits
from .scenario import Match, SentMessage, TgUser, bot_messages, wait_for
from .server import EmulatorServer
from .spec import ApiSpec
from .world import CHANNEL, DEFAULT_BOT_RIGHTS, GROUP, SUPERGROUP, Chat, Member


class LoopbackTelegram:
    """A Telegram for one bot on 127.0.0.1: `async with LoopbackTelegram() as tg: ...`."""

    def __init__(self, limits: RateLimits | None = None, spec: ApiSpec | None = None,
                 bot_username: str = "gpuflow_test_bot", **kw: Any) -> None:
        self.emu = TelegramEmulator(limits=limits, spec=spec, bot_username=bot_username, **kw)
        self.server = EmulatorServer(self.emu)

    async def __aenter__(self) -> "LoopbackTelegram":
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    # -- what the bot is configured with -------------------------------------------------------
    @property
    def token(self) -> str:
        return self.emu.token

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def base_file_url(self) -> str:
        return self.server.base_file_url

    @property
    def bot_username(self) -> str:
        return self.emu.bot.username or ""

    # -- building the world --------------------------------------------------------------------
    def add_user(self, first_name: str, username: str | None = None, started: bool = False) -> TgUser:
        return TgUser(self.emu, self.emu.world.add_user(first_name, username, started=started))

    def _fill(self, chat: Chat, members: Iterable[TgUser], admins: Iterable[TgUser],
              owner: TgUser | None, bot_rights: Iterable[str] | None, bot_member: bool) -> Chat:
        for user in members:
            chat.members[user.id] = Member(user.id)
        for user in admins:
            chat.members[user.id] = Member(user.id, "administrator", frozenset({"can_manage_chat"}))
        if owner is not None:
            chat.members[owner.id] = Member(owner.id, "creator")
        bot = self.emu.bot.id
        if bot_rights is not None:
            chat.members[bot] = Member(bot, "administrator", frozenset(bot_rights))
        elif bot_member:
            chat.members[bot] = Member(bot)
        return chat

    def add_group(self, title: str, members: Iterable[TgUser] = (), admins: Iterable[TgUser] = (),
                  owner: TgUser | None = None, bot_rights: Iterable[str] | None = None,
                  bot_member: bool = True) -> Chat:
        """A basic group with the bot as a member (or an administrator with `bot_rights`)."""
        return self._fill(self.emu.world.add_chat(GROUP, title), members, admins, owner, bot_rights, bot_member)

    def add_supergroup(self, title: str, members: Iterable[TgUser] = (), admins: Iterable[TgUser] = (),
                       owner: TgUser | None = None, forum: bool = False, username: str | None = None,
                       bot_rights: Iterable[str] | None = DEFAULT_BOT_RIGHTS, bot_member: bool = True) -> Chat:
        """A supergroup (a forum with `forum=True`), the bot an administrator unless told otherwise."""
        chat = self.emu.world.add_chat(SUPERGROUP, title, username=username, is_forum=forum)
        return self._fill(chat, members, admins, owner, bot_rights, bot_member)

    def add_channel(self, title: str, username: str | None = None, members: Iterable[TgUser] = (),
                    bot_rights: Iterable[str] | None = DEFAULT_BOT_RIGHTS) -> Chat:
        chat = self.emu.world.add_chat(CHANNEL, title, username=username)
        return self._fill(chat, members, (), None, bot_rights, bot_member=bot_rights is not None)

    # -- reading what the bot did --------------------------------------------------------------
    def messages(self, chat: Chat, thread: int | None = None) -> list[SentMessage]:
        return bot_messages(self.emu, chat, thread)

    async def wait_for(self, chat: Chat, match: Match = None, thread: int | None = None,
                       since: int | None = None, timeout: float = 10.0) -> SentMessage:
        return await wait_for(self.emu, chat, match, thread, since, timeout)

    def mark(self) -> int:
        """A point in time for `wait_for(since=...)`."""
        return self.emu.seq.value

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        key = json.dumps(scope or {"type": "default"}, sort_keys=True) + "|" + language_code
        return self.emu.commands.get(key, [])

    def calls(self, method: str | None = None) -> list[Any]:
        return [c for c in self.emu.calls if method is None or c.method == method]

    @property
    def violations(self) -> list[str]:
        return self.emu.violations

    def take_violations(self) -> list[str]:
        return self.emu.take_violations()

    @property
    def faults(self):  # noqa: ANN201 - the Faults registry
        return self.emu.faults
