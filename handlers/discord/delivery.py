"""The Discord side of the delivery queue (bot/chat/DELIVERY.md): claim, send, mark.

- dm: the person's DM channel, the only place a sensitive body (the SSH login, a bot-made private
  key as a file) goes. Closed DMs (50007) are permanent failures: the core tells support, and
  the person gets the way out when they ask with /credentials.
- listings: an embed in the listings channel with the Rent button; later notices edit or delete it.
- support: a new dispute opens a private thread in the support channel, adds both parties,
  mentions the support role (the only mention the bot ever makes) and posts the timeline; the
  thread's id goes back in the reference, which is how /resolve typed there finds its rental.
- progress: edits the message that showed the deposit request.

Every post carries the delivery's key as its `nonce` with `enforce_nonce`, so a resend after a
crash between sending and marking returns the first message instead of a second one. A thread
has no nonce: before opening one the support channel's threads are searched for it by name.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.chat import Message
from bot.delivery.refs import PlatformRef
from handlers.discord.buttons import view_for
from handlers.discord.listing import listing_outgoing
from handlers.discord.render import Outgoing, outgoing

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend

log = logging.getLogger(__name__)
PLATFORM = "discord"
BATCH = 20
THREAD_NAME = "Dispute: rental #{rental}"
CANNOT_DM, UNKNOWN_MESSAGE = 50007, 10008


class MessageGone(Exception):
    """The message to edit was deleted by someone."""


class DiscordDelivery:
    def __init__(self, frontend: DiscordFrontend) -> None:
        self.frontend = frontend

    @property
    def queue(self) -> Any:
        return self.frontend.services.deliveries

    @property
    def _safety_net_s(self) -> float:
        """Woken at commit; this bounds the wait for a retry whose backoff ran out meanwhile."""
        return min(30.0, max(0.5, self.frontend.services.ctx.settings.delivery.retry_base_s))

    @property
    def client(self) -> discord.Client:
        return self.frontend.client

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
                await self.queue.wait_for_work_or(stop, PLATFORM, timeout=self._safety_net_s)
            except asyncio.CancelledError:
                raise
            except Exception:          # a store hiccup must not stop delivery for good
                log.exception("discord delivery round failed")
                await asyncio.sleep(1.0)

    async def deliver_due(self) -> int:
        done = 0
        while batch := await self.queue.claim(PLATFORM, limit=BATCH):
            for d in batch:
                done += await self._one(d)
        return done

    async def _one(self, d: Any) -> int:
        try:
            ref = await self.send(d)
        except discord.RateLimited as exc:           # longer than discord.py waits by itself
            await self.queue.later(d, exc.retry_after)
        except MessageGone:
            await self.queue.failed(d, "unknown message", ref_gone=True)
        except discord.Forbidden as exc:
            reason = "the person's DMs are closed (50007)" if exc.code == CANNOT_DM else f"forbidden ({exc.code})"
            await self.queue.failed(d, reason, permanent=True)
        except discord.DiscordServerError as exc:
            await self.queue.failed(d, f"Discord {exc.status}")
        except discord.HTTPException as exc:
            await self.queue.failed(d, f"HTTP {exc.status} ({exc.code})", permanent=exc.status < 500)
        except (OSError, asyncio.TimeoutError, aiohttp.ClientError) as exc:
            await self.queue.failed(d, type(exc).__name__)
        else:
            await self.queue.sent(d, ref)
            return 1
        return 0

    async def send(self, d: Any) -> PlatformRef | None:
        if d.action == "delete":
            if d.ref is not None and d.ref.message_id:
                try:
                    await self._partial(d.ref).get_partial_message(int(d.ref.message_id)).delete()
                except discord.NotFound:
                    pass                              # already gone: what was asked
            return d.ref
        if d.action == "edit" or d.purpose == "progress":
            return await self._edit(d)
        if d.purpose == "dm":
            channel = await self.client.create_dm(discord.Object(int(d.recipient)))
            sent = await self._post(channel, d, include_sensitive=True)
            return PlatformRef(chat_id=None, channel_id=str(channel.id), message_id=str(sent.id))
        where = int(d.channel_id or d.chat_id)
        if d.purpose == "support" and d.thread:
            return await self._dispute_thread(d, where)
        sent = await self._post(self.client.get_partial_messageable(where), d)
        return PlatformRef(chat_id=d.chat_id, channel_id=str(where), message_id=str(sent.id))

    # -- pieces ---------------------------------------------------------------------------------
    def _partial(self, ref: PlatformRef) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(int(ref.channel_id or ref.chat_id))

    async def _shown(self, d: Any, *, include_sensitive: bool = False) -> tuple[Outgoing, discord.ui.View | None]:
        message: Message = d.message
        if d.purpose == "listings":
            out = listing_outgoing(message, d.data)
        else:
            out = outgoing(message, d.kind.value, include_sensitive=include_sensitive)
        return out, await view_for(self.frontend, message.actions)

    async def _post(self, channel: Any, d: Any, *, include_sensitive: bool = False,
                    mentions: discord.AllowedMentions | None = None, prefix: str = "") -> discord.Message:
        out, view = await self._shown(d, include_sensitive=include_sensitive)
        kwargs: dict[str, Any] = {"embeds": out.embeds, "files": out.files(), "nonce": d.key,
                                  "allowed_mentions": mentions or discord.AllowedMentions.none()}
        if view is not None:
            kwargs["view"] = view
        content = "\n".join(p for p in (prefix, out.content or "") if p) or None
        sent = await channel.send(content, **kwargs)
        for n, chunk in enumerate(out.more):     # a long body: the rest, each with its own nonce
            await channel.send(chunk, nonce=f"{d.key[:20]}+{n}", allowed_mentions=discord.AllowedMentions.none())
        return sent

    async def _edit(self, d: Any) -> PlatformRef:
        if d.ref is None or not d.ref.message_id:
            raise MessageGone()
        out, view = await self._shown(d)
        try:
            await self._partial(d.ref).get_partial_message(int(d.ref.message_id)).edit(
                content=out.content, embeds=out.embeds, attachments=out.files(), view=view)
        except discord.NotFound as exc:
            raise MessageGone() from exc
        return d.ref

    async def _dispute_thread(self, d: Any, channel_id: int) -> PlatformRef:
        parent = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        name = THREAD_NAME.format(rental=d.rental_id)
        thread = next((t for t in getattr(parent, "threads", []) if t.name == name), None)
        if thread is None:
            thread = await parent.create_thread(name=name, type=discord.ChannelType.private_thread, invitable=False)
        for member in d.data.get("members") or []:
            await thread.add_user(discord.Object(int(member)))
        roles = sorted(await self.frontend.support_roles(d.chat_id))
        mention = " ".join(f"<@&{r}>" for r in roles)
        allowed = discord.AllowedMentions(everyone=False, users=False,
                                          roles=[discord.Object(int(r)) for r in roles])
        sent = await self._post(thread, d, mentions=allowed, prefix=mention)
        return PlatformRef(chat_id=d.chat_id, channel_id=str(thread.id), message_id=str(sent.id),
                           thread_id=str(thread.id))
