"""The emulator's world: one application with its bot user, and whatever the scenario adds.

The clock is the emulator's own (monotonic seconds plus an offset tests move with `advance`), so
the 3-second interaction deadline and the 15-minute token life can be tested without waiting.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone

from devnet.discord.errors import (DiscordError, UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_MESSAGE,
                                   UNKNOWN_USER)
from devnet.discord.model import (DM, Channel, Command, Guild, Interaction, Message, Snowflakes, User)

NONCE_WINDOW_S = 300.0       # "checked for uniqueness in the past few minutes" (Discord docs)


class State:
    def __init__(self, *, bot_name: str = "gpuflow") -> None:
        self.ids = Snowflakes()
        self.offset = 0.0
        self.token = f"{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        self.application_id = self.ids.next()
        self.bot = User(self.ids.next(), bot_name, bot=True)
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.commands: dict[int, Command] = {}
        self.interactions: dict[int, Interaction] = {}
        self.nonces: dict[tuple[int, str], tuple[float, Message]] = {}
        self.dm_by_user: dict[int, int] = {}

    # -- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def iso_now(self) -> str:
        return (datetime.now(timezone.utc) + timedelta(seconds=self.offset)).isoformat()

    # -- lookups that answer like Discord --------------------------------------------------------
    def user(self, user_id: int) -> User:
        try:
            return self.users[int(user_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, UNKNOWN_USER) from None

    def guild(self, guild_id: int | str) -> Guild:
        try:
            return self.guilds[int(guild_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, UNKNOWN_GUILD) from None

    def channel(self, channel_id: int | str) -> Channel:
        try:
            return self.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, UNKNOWN_CHANNEL) from None

    def message(self, channel: Channel, message_id: int | str) -> Message:
        try:
            message = channel.messages[int(message_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, UNKNOWN_MESSAGE) from None
        if message.deleted:
            raise DiscordError(404, UNKNOWN_MESSAGE)
        return message

    def dm_channel(self, user_id: int) -> Channel:
        """The bot's DM channel with a person (created on first use, as Discord does)."""
        user = self.user(user_id)
        if user.id not in self.dm_by_user:
            channel = Channel(self.ids.next(), DM, recipients=[user.id])
            self.channels[channel.id] = channel
            self.dm_by_user[user.id] = channel.id
        return self.channels[self.dm_by_user[user.id]]

    # -- nonce dedupe ------------------------------------------------------------------------------
    def nonce_hit(self, author_id: int, nonce: str | int | None) -> Message | None:
        if nonce is None:
            return None
        hit = self.nonces.get((author_id, str(nonce)))
        if hit and self.now() - hit[0] <= NONCE_WINDOW_S and not hit[1].deleted:
            return hit[1]
        return None

    def remember_nonce(self, message: Message) -> None:
        if message.nonce is not None:
            self.nonces[(message.author_id, str(message.nonce))] = (self.now(), message)
