"""Where a call came from, and what that place means: who the caller is there (support staff by
a platform role, admins), which rental a dispute thread stands for, and each chat's set-up
(its listings and support places), which chat admins store with /setup.

Set-ups live in the store's key-value table (namespace "chat-setup", key "platform:chat"), so
every process of the bot sees the same ones.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

from sqlalchemy import select

from bot.chat import Invocation
from bot.db.models import Dispute, KeyValue
from bot.domain.errors import InvalidInput, PermissionDenied
from bot.services.context import Actor, ServiceContext
from bot.services.kv import KeyValueService
from bot.services.users import UserService

SETUP_NAMESPACE = "chat-setup"
CHAT_ADMIN = "chat-admin"     # the role a front-end reports for an administrator of the chat of the call


@dataclass(frozen=True)
class ChatSetup:
    """One chat's places. `chat_id` is "" for a set-up made outside any chat (a DM)."""

    platform: str
    chat_id: str
    listings: str | None = None        # channel / chat id where offers are posted
    support: str | None = None         # channel / forum supergroup where disputes get a thread/topic
    support_role: str | None = None    # members with this role are support staff in this chat
    set_by: int | None = None          # user id

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


class PlaceService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.users = UserService(ctx)
        self.kv = KeyValueService(ctx)

    async def actor(self, inv: Invocation) -> Actor:
        """The user behind the call (display name refreshed), with the powers the place gives:
        support staff come from the config list, a configured platform role, the role /setup
        named for this chat, or administering the support chat; admins from the config list,
        a configured admin role, or administering a chat the config names as the bot's home."""
        actor = await self.users.identify(inv.platform, inv.platform_user_id, inv.display_name)
        if not inv.roles or actor.is_admin:
            return actor
        is_admin = self._admin_by_role(inv)
        is_support = is_admin or actor.is_support or await self._support_by_role(inv)
        if (is_admin, is_support) == (actor.is_admin, actor.is_support):
            return actor
        return replace(actor, is_admin=actor.is_admin or is_admin, is_support=is_support)

    def _admin_by_role(self, inv: Invocation) -> bool:
        s = self.ctx.settings
        if inv.platform == "discord":
            if inv.roles & {str(r) for r in s.discord.admin_role_ids}:
                return True
            return CHAT_ADMIN in inv.roles and s.discord.guild_id is not None and inv.chat_id == str(s.discord.guild_id)
        if inv.platform == "telegram":
            home = {str(c) for c in (s.telegram.listings_chat_id, s.telegram.support_chat_id) if c is not None}
            return CHAT_ADMIN in inv.roles and inv.chat_id in home
        return False

    async def _support_by_role(self, inv: Invocation) -> bool:
        s = self.ctx.settings
        if inv.platform == "discord":
            configured = {str(r) for r in s.discord.support_role_ids}
            if s.discord.support_role_id is not None:
                configured.add(str(s.discord.support_role_id))
            if inv.roles & configured:
                return True
        setups = await self.setups(inv.platform)
        here = next((c for c in setups if inv.chat_id is not None and c.chat_id == inv.chat_id), None)
        if here is not None and here.support_role and here.support_role in inv.roles:
            return True
        if CHAT_ADMIN not in inv.roles:
            return False
        support_places = {c.support for c in setups if c.support}
        if inv.platform == "telegram" and s.telegram.support_chat_id is not None:
            support_places.add(str(s.telegram.support_chat_id))
        if inv.platform == "discord" and s.discord.support_channel_id is not None:
            support_places.add(str(s.discord.support_channel_id))
        return bool({inv.chat_id, inv.channel_id} & support_places)

    # -- set-up ---------------------------------------------------------------------------------

    async def setups(self, platform: str | None = None) -> list[ChatSetup]:
        """Every stored set-up (of one platform): where listings and disputes go."""
        async with self.ctx.sessions() as session:
            stmt = select(KeyValue).where(KeyValue.namespace == SETUP_NAMESPACE)
            if platform is not None:
                stmt = stmt.where(KeyValue.key.startswith(f"{platform}:", autoescape=True))
            rows = (await session.scalars(stmt.order_by(KeyValue.key))).all()
        return [_decode(r.key, r.value) for r in rows]

    async def setup_of(self, inv: Invocation) -> ChatSetup:
        found = [c for c in await self.setups(inv.platform) if c.chat_id == (inv.chat_id or "")]
        return found[0] if found else ChatSetup(inv.platform, inv.chat_id or "")

    async def set_up(self, actor: Actor, inv: Invocation, *, listings: str | None = None,
                     support: str | None = None, support_role: str | None = None) -> ChatSetup:
        """Store this chat's places (only the given ones change). Admins only: a support role
        makes people support staff, who decide where disputed money goes."""
        if not actor.is_admin:
            raise PermissionDenied("only the bot's admins (or this server's admins, where the bot's "
                                   "configuration names it) can set up a chat")
        if listings is None and support is None and support_role is None:
            raise InvalidInput("nothing to set: give listings, support or support_role")
        current = await self.setup_of(inv)
        new = replace(current, listings=listings or current.listings, support=support or current.support,
                      support_role=support_role or current.support_role, set_by=actor.user_id)
        await self.kv.put(SETUP_NAMESPACE, new.key, json.dumps(
            {"listings": new.listings, "support": new.support, "support_role": new.support_role,
             "set_by": new.set_by}))
        return new

    # -- disputes -------------------------------------------------------------------------------

    async def rental_at(self, inv: Invocation) -> int | None:
        """The rental whose dispute thread or forum topic the call was made in, or None."""
        if inv.thread_id is None and inv.channel_id is None:
            return None
        async with self.ctx.sessions() as session:
            return await rental_at_place(session, inv.place)


async def rental_at_place(session, place: str) -> int | None:
    """The one lookup from a place to a dispute's rental: `disputes.thread_ref` holds the
    `Invocation.place` of the thread/topic the dispute was given ("discord:<guild>:<thread>",
    "telegram:<chat>:<topic>"). Message references (helper "delivery") replace this column;
    only this function has to follow them."""
    return await session.scalar(select(Dispute.rental_id).where(Dispute.thread_ref == place)
                                .order_by(Dispute.id.desc()).limit(1))


def _decode(key: str, value: str) -> ChatSetup:
    platform, _, chat_id = key.partition(":")
    data = json.loads(value)
    return ChatSetup(platform=platform, chat_id=chat_id, listings=data.get("listings"),
                     support=data.get("support"), support_role=data.get("support_role"),
                     set_by=data.get("set_by"))
