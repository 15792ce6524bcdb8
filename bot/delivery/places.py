"""Places: which chat/channel is a platform's listings place and which its support place.

Set by the configuration (synced at start, `source="config"`) and by an admin's setup command
(`source="setup"`); the fan-out reads them when a listings or support notice is queued. One row
per (platform, purpose, chat): a Discord guild has one listings channel, a Telegram chat is its
own place. `channel_id` is where to post (a Discord channel; for Telegram a different chat than
the one set up, if any). A "support-role" row is no destination: its `role_id` is the platform
role that makes members of that chat support staff.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from bot.delivery.models import Place
from bot.domain.errors import InvalidInput, PermissionDenied
from bot.services.context import Actor, ServiceContext

PURPOSES = ("listings", "support", "support-role")
_MAX_ID = 64


@dataclass(frozen=True)
class PlaceView:
    platform: str
    purpose: str
    chat_id: str
    channel_id: str | None
    role_id: str | None
    source: str


def _view(p: Place) -> PlaceView:
    return PlaceView(platform=p.platform, purpose=p.purpose, chat_id=p.chat_id, channel_id=p.channel_id,
                     role_id=p.role_id, source=p.source)


def _clean_id(value, what: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > _MAX_ID or not all(c.isalnum() or c in "-_@." for c in text):
        raise InvalidInput(f"{what} must be a platform id (letters, digits, '-', '_', at most {_MAX_ID})")
    return text


class PlaceStore:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def set(self, actor: Actor | None, platform: str, purpose: str, chat_id, channel_id=None, role_id=None, *,
                  platform_admin: bool = False, source: str = "setup") -> PlaceView:
        """Make (or move) a chat's listings or support place. For the setup command: the bot's
        admins, or an administrator of that chat as the platform reports (`platform_admin`)."""
        if actor is not None and not (actor.is_admin or platform_admin):
            raise PermissionDenied("only admins can set where listings and support messages go")
        if purpose not in PURPOSES:
            raise InvalidInput("a place is for listings, support or the support role")
        platform = _clean_id(platform, "platform")
        chat = _clean_id(chat_id, "chat id")
        channel, role = _clean_id(channel_id, "channel id"), _clean_id(role_id, "role id")
        async with self.ctx.sessions.begin() as session:
            row = await session.scalar(select(Place).where(Place.platform == platform, Place.purpose == purpose,
                                                           Place.chat_id == chat))
            if row is None:
                row = Place(platform=platform, purpose=purpose, chat_id=chat)
                session.add(row)
            row.channel_id, row.role_id, row.source = channel, role, source
            row.updated_at = self.ctx.now()
            await session.flush()
            return _view(row)

    async def remove(self, actor: Actor | None, platform: str, purpose: str, chat_id, *,
                     platform_admin: bool = False) -> bool:
        if actor is not None and not (actor.is_admin or platform_admin):
            raise PermissionDenied("only admins can change where listings and support messages go")
        async with self.ctx.sessions.begin() as session:
            result = await session.execute(delete(Place).where(Place.platform == platform, Place.purpose == purpose,
                                                               Place.chat_id == str(chat_id)))
            return result.rowcount > 0

    async def list(self, platform: str | None = None, purpose: str | None = None) -> list[PlaceView]:
        stmt = select(Place).order_by(Place.platform, Place.purpose, Place.chat_id)
        if platform is not None:
            stmt = stmt.where(Place.platform == platform)
        if purpose is not None:
            stmt = stmt.where(Place.purpose == purpose)
        async with self.ctx.sessions() as session:
            return [_view(p) for p in (await session.scalars(stmt)).all()]

    async def support_roles(self, platform: str, chat_id) -> set[str]:
        """The platform roles that make someone support staff in that chat."""
        return {p.role_id for p in await self.list(platform, "support-role") if p.chat_id == str(chat_id) and p.role_id}

    async def sync_from_config(self) -> None:
        """The places the configuration names (discord.*_channel_id, telegram.*_chat_id)."""
        s = self.ctx.settings
        wanted: list[tuple[str, str, str, str | None, str | None]] = []
        d, t = s.discord, s.telegram
        guild = str(d.guild_id) if d.guild_id is not None else "-"
        if d.listings_channel_id is not None:
            wanted.append(("discord", "listings", guild, str(d.listings_channel_id), None))
        if d.support_channel_id is not None:
            wanted.append(("discord", "support", guild, str(d.support_channel_id), None))
        if d.support_role_id is not None:
            wanted.append(("discord", "support-role", guild, None, str(d.support_role_id)))
        if t.listings_chat_id is not None:
            wanted.append(("telegram", "listings", str(t.listings_chat_id), None, None))
        if t.support_chat_id is not None:
            wanted.append(("telegram", "support", str(t.support_chat_id), None, None))
        setup = {(p.platform, p.purpose, p.chat_id) for p in await self.list() if p.source == "setup"}
        for platform, purpose, chat, channel, role in wanted:
            if (platform, purpose, chat) not in setup:     # an admin's setup wins over the preset
                await self.set(None, platform, purpose, chat, channel, role, source="config")
