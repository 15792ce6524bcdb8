"""Scenario API, part 1: build the world (guilds, channels, roles, people) and read what the bot
posted (channel messages, threads, DMs, interaction responses), with waits instead of sleeps."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from devnet.discord import payloads
from devnet.discord.model import (ADMINISTRATOR, ALL_PERMISSIONS, CREATE_PRIVATE_THREADS, GUILD_TEXT,
                                  MANAGE_MESSAGES, MANAGE_THREADS, MEMBER_DEFAULT, Channel, Guild, Member,
                                  Message, Role, User)

if TYPE_CHECKING:
    from devnet.discord.state import State

BOT_DEFAULT = MEMBER_DEFAULT | CREATE_PRIVATE_THREADS | MANAGE_THREADS | MANAGE_MESSAGES | (1 << 35)


class WorldMixin:
    state: State

    def changed(self) -> None: ...
    async def wait_until(self, check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any: ...

    # -- building ----------------------------------------------------------------------------
    def add_user(self, username: str, *, dms_open: bool = True, global_name: str | None = None) -> User:
        user = User(self.state.ids.next(), username, global_name=global_name, dms_open=dms_open)
        self.state.users[user.id] = user
        return user

    def add_guild(self, name: str, *, owner: User | None = None, bot_permissions: int = BOT_DEFAULT,
                  channels: Iterable[str] = ("general",)) -> Guild:
        """A guild the bot has joined, with @everyone, the bot's own role and text channels."""
        state = self.state
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(state.ids.next(), name, owner.id, joined_at=state.iso_now())
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", MEMBER_DEFAULT, 0)
        bot_role = Role(state.ids.next(), guild.id, state.bot.username, bot_permissions, 1)
        guild.roles[bot_role.id] = bot_role
        state.guilds[guild.id] = guild
        self.add_member(guild, owner)
        self.add_member(guild, state.bot, roles=[bot_role])
        for channel_name in channels:
            self.add_channel(guild, channel_name)
        return guild

    def add_channel(self, guild: Guild, name: str, *, topic: str | None = None) -> Channel:
        channel = Channel(self.state.ids.next(), GUILD_TEXT, guild_id=guild.id, name=name, topic=topic,
                          position=len(guild.channel_ids))
        self.state.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_role(self, guild: Guild, name: str, *, permissions: int = 0, mentionable: bool = True) -> Role:
        role = Role(self.state.ids.next(), guild.id, name, permissions, len(guild.roles), mentionable)
        guild.roles[role.id] = role
        return role

    def add_member(self, guild: Guild, user: User, *, roles: Iterable[Role] = ()) -> Member:
        member = Member(user.id, guild.id, [r.id for r in roles], joined_at=self.state.iso_now())
        guild.members[user.id] = member
        return member

    def give_role(self, guild: Guild, user: User, role: Role) -> None:
        guild.members[user.id].roles.append(role.id)

    def overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        """A channel permission overwrite for a role (type 0) or a member (type 1)."""
        kind = 0 if isinstance(target, Role) else 1
        channel.overwrites = [o for o in channel.overwrites if o["id"] != str(target.id)]
        channel.overwrites.append({"id": str(target.id), "type": kind, "allow": str(allow), "deny": str(deny)})

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """Discord's computation: base (roles) then @everyone, role and member overwrites."""
        if channel.is_dm:
            return MEMBER_DEFAULT
        guild = self.state.guilds[channel.guild_id]      # type: ignore[index]
        perms = guild.permissions(user_id)
        if perms == ALL_PERMISSIONS and (user_id == guild.owner_id or perms & ADMINISTRATOR):
            return ALL_PERMISSIONS
        source = self.state.channels[channel.parent_id] if channel.is_thread and channel.parent_id else channel
        member = guild.members.get(user_id)
        roles = set(member.roles if member else [])
        by_id = {int(o["id"]): o for o in source.overwrites}
        if guild.id in by_id:
            perms = (perms & ~int(by_id[guild.id]["deny"])) | int(by_id[guild.id]["allow"])
        allow = deny = 0
        for role_id in roles & by_id.keys():
            allow |= int(by_id[role_id]["allow"])
            deny |= int(by_id[role_id]["deny"])
        perms = (perms & ~deny) | allow
        if user_id in by_id:
            perms = (perms & ~int(by_id[user_id]["deny"])) | int(by_id[user_id]["allow"])
        return perms

    # -- reading -----------------------------------------------------------------------------
    def messages(self, channel: Channel, *, viewer: User | None = None) -> list[Message]:
        """What a person sees in a channel (ephemeral replies only to whom they were for)."""
        return channel.visible(viewer.id if viewer else None)

    def dm_channel(self, user: User) -> Channel | None:
        channel_id = self.state.dm_by_user.get(user.id)
        return self.state.channels[channel_id] if channel_id else None

    def dms(self, user: User) -> list[Message]:
        channel = self.dm_channel(user)
        return channel.visible(user.id) if channel else []

    def threads(self, parent: Channel) -> list[Channel]:
        return [c for c in self.state.channels.values() if c.is_thread and c.parent_id == parent.id]

    def message_json(self, message: Message) -> dict[str, Any]:
        return payloads.message(self.state, self.base_url, message)       # type: ignore[attr-defined]

    def pinged(self, message: Message) -> tuple[list[int], list[int], bool]:
        """(user ids, role ids, @everyone) the message actually notified, after allowed_mentions."""
        channel = self.state.channels[message.channel_id]
        return payloads.mentions(self.state, channel, message.content, message.allowed_mentions)

    async def wait_message(self, where: Channel | User, predicate: Callable[[Message], bool] | None = None, *,
                           viewer: User | None = None, timeout: float = 5.0, after: int = 0) -> Message:
        """The first message (id > `after`) in a channel, or in a person's DMs, matching `predicate`."""
        def check() -> Message | None:
            if isinstance(where, User):
                found = self.dms(where)
            else:
                found = where.visible(viewer.id if viewer else None)
            for message in found:
                if message.id > after and (predicate is None or predicate(message)):
                    return message
            return None
        name = f"@{where.username}'s DMs" if isinstance(where, User) else f"#{where.name}"
        return await self.wait_until(check, timeout, f"a message in {name}")
