"""Where a call came from, and what that place means: who the caller is there (support staff by
a platform role, admins), which rental a dispute thread stands for, and each chat's set-up
(its listings and support places), which chat admins store with /setup.

Set-ups are rows of the places table (bot.delivery.places.PlaceStore), which the delivery
fan-out reads too: a listings channel set here is where that platform's listing posts go.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select

from bot.chat import Invocation
from bot.db.models import Dispute
from bot.delivery.places import PlaceStore
from bot.domain.errors import InvalidInput, PermissionDenied
from bot.services.context import Actor, ServiceContext
from bot.services.users import UserService

NO_CHAT = "-"                  # the places row of a set-up made outside any chat (a DM)
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
        self.store = PlaceStore(ctx)

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
        by_chat: dict[tuple[str, str], dict[str, str | None]] = {}
        for place in await self.store.list(platform):
            fields = by_chat.setdefault((place.platform, place.chat_id), {})
            if place.purpose == "support-role":
                fields["support_role"] = place.role_id
            else:
                fields[place.purpose] = place.channel_id or place.chat_id
        return [ChatSetup(platform=p, chat_id="" if chat == NO_CHAT else chat, **fields)
                for (p, chat), fields in sorted(by_chat.items())]

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
        chat = inv.chat_id or NO_CHAT
        for purpose, channel, role in (("listings", listings, None), ("support", support, None),
                                       ("support-role", None, support_role)):
            if channel is not None or role is not None:
                await self.store.set(actor, inv.platform, purpose, chat, channel, role)
        return replace(await self.setup_of(inv), set_by=actor.user_id)

    # -- disputes -------------------------------------------------------------------------------

    async def rental_at(self, inv: Invocation) -> int | None:
        """The rental whose dispute thread or forum topic the call was made in, or None."""
        if inv.thread_id is None and inv.channel_id is None:
            return None
        async with self.ctx.sessions() as session:
            return await rental_at_place(session, inv.place)


async def rental_at_place(session, place: str) -> int | None:
    """The one lookup from a place to a dispute's rental: the message reference of the thread /
    forum topic a dispute's support post opened (bot.delivery.refs), else `disputes.thread_ref`
    where a front-end stored the `Invocation.place` itself."""
    from bot.delivery.refs import rental_at_place as by_reference

    found = await by_reference(session, place)
    if found is not None:
        return found
    return await session.scalar(select(Dispute.rental_id).where(Dispute.thread_ref == place)
                                .order_by(Dispute.id.desc()).limit(1))
