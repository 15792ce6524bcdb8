"""Answering an interaction inside Discord's 3-second deadline, then showing the reply where it
belongs: ephemeral when private (or a refusal), in a DM when it carries a secret (with the way
out when the person's DMs are closed, error 50007), in place when a button pages a message.

The core call starts at once; if it is not done after `ack_after_s` (well inside 3 s) the
interaction is deferred ("is thinking..." or a silent update) and the reply replaces that later,
through the interaction token (valid 15 minutes; longer work reports by DM or delivery). When
many interactions are in flight the deferral comes first, and at most WORK_SLOTS core calls run
at once: the core's work for all of them shares one event loop (and one SQLite writer), and a
deferral is one small request that must not queue behind them (bench/discord_ack.py).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable

import discord

from bot.commands import Reply
from bot.commands.router import INTERNAL_ERROR
from bot.chat import message
from handlers.discord.buttons import view_for
from handlers.discord.render import Outgoing, outgoing, plain_text

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend

log = logging.getLogger(__name__)
CANNOT_DM = 50007
DMS_CLOSED = ("I could not send you a direct message: your DMs are closed to this server's members. "
              "Allow them (this server's name > Privacy Settings > Direct Messages), then ask again "
              "(for an SSH login: /credentials).")
SENT_BY_DM = "I sent that to you by direct message (it holds a secret)."
ANSWERED_PRIVATELY = "I answered you privately."
POSTED_BELOW = "Done."
BUSY_AT = 4        # more interactions than this in flight: defer at once instead of racing the core
WORK_SLOTS = 8     # core calls running at once: a burst's acknowledgements are not queued behind them


def internal_error() -> Reply:
    return Reply(INTERNAL_ERROR, message("Something went wrong on our side and nothing was changed; "
                                         "try again in a moment."), ok=False)


@dataclass
class Shown:
    """Where the reply landed (for a progress message the core edits later)."""
    channel_id: int | None
    message_id: int | None


class Responder:
    def __init__(self, frontend: DiscordFrontend, ack_after_s: float, busy_at: int = BUSY_AT) -> None:
        self.frontend = frontend
        self.ack_after_s = ack_after_s
        self.busy_at = busy_at
        self.in_flight = 0
        self.slots = asyncio.Semaphore(WORK_SLOTS)     # core calls at once; acknowledgements never wait

    async def answer(self, interaction: discord.Interaction, work: Awaitable[Reply], *, private: bool,
                     update: bool = False, prompt: bool = False) -> tuple[Reply, Shown | None]:
        """`update`: a button paging its own message; `prompt`: a button on a private prompt."""
        deferred: str | None = None
        self.in_flight += 1
        try:
            if self.in_flight > self.busy_at:     # many at once: acknowledge first, work after
                deferred = await self._defer(interaction, private=private, update=update or prompt)
            task = asyncio.ensure_future(self._slotted(work))
            done, _ = await asyncio.wait({task}, timeout=None if deferred else self.ack_after_s)
            if not done:
                deferred = await self._defer(interaction, private=private, update=update or prompt)
            reply = await task
        except Exception:       # the core never raises for bad input; this is a bug or an outage
            log.exception("interaction %s failed", interaction.id)
            reply = internal_error()
        finally:
            self.in_flight -= 1
        if reply.kind == INTERNAL_ERROR:
            log.warning("interaction %s: the command failed on our side", interaction.id)
        try:
            shown = await self.show(interaction, reply, deferred=deferred, update=update, prompt=prompt)
        except discord.HTTPException as exc:
            log.warning("interaction %s: could not answer (HTTP %s, code %s)", interaction.id, exc.status, exc.code)
            shown = None
        return reply, shown

    async def _slotted(self, work: Awaitable[Reply]) -> Reply:
        async with self.slots:
            return await work

    async def _defer(self, interaction: discord.Interaction, *, private: bool, update: bool) -> str | None:
        try:
            if update:
                await interaction.response.defer()
                return "update"
            await interaction.response.defer(ephemeral=private, thinking=True)
            return "private" if private else "public"
        except discord.HTTPException as exc:
            log.warning("interaction %s: could not defer (HTTP %s, code %s)", interaction.id, exc.status, exc.code)
            return None

    async def show(self, interaction: discord.Interaction, reply: Reply, *, deferred: str | None = None,
                   update: bool = False, prompt: bool = False) -> Shown | None:
        in_dm = interaction.guild_id is None
        if reply.sensitive and not in_dm:
            return await self._by_dm(interaction, reply, deferred)
        ephemeral = (reply.private or not reply.ok) and not in_dm
        out = outgoing(reply.message, reply.kind, include_sensitive=in_dm)
        view = await view_for(self.frontend, reply.message.actions)
        if update and not ephemeral or prompt and ephemeral:
            return await self._edit_in_place(interaction, out, view)
        if prompt:          # a public outcome of a private prompt: the prompt says so, the outcome follows
            await self._edit_in_place(interaction, plain_text(POSTED_BELOW), None)
            return await self._followup(interaction, out, view, ephemeral=False)
        return await self._send(interaction, out, view, ephemeral=ephemeral, deferred=deferred)

    async def _send(self, interaction: discord.Interaction, out: Outgoing, view: discord.ui.View | None, *,
                    ephemeral: bool, deferred: str | None) -> Shown | None:
        if not interaction.response.is_done():
            kwargs = _kwargs(out, view)
            callback = await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
            shown = Shown(interaction.channel_id, callback.message_id if callback else None)
        elif deferred in ("public", "private") and (deferred == "private") == ephemeral:
            edited = await interaction.edit_original_response(**_edit_kwargs(out, view))
            shown = Shown(edited.channel.id, edited.id)
        else:               # deferred the other way, or as an update: say so, answer with a follow-up
            if deferred == "public":
                await interaction.edit_original_response(content=ANSWERED_PRIVATELY)
            return await self._followup(interaction, out, view, ephemeral=ephemeral)
        for chunk in out.more:
            await interaction.followup.send(chunk, ephemeral=ephemeral)
        return shown

    async def _followup(self, interaction: discord.Interaction, out: Outgoing, view: discord.ui.View | None, *,
                        ephemeral: bool) -> Shown:
        sent = await interaction.followup.send(wait=True, ephemeral=ephemeral, **_kwargs(out, view))
        for chunk in out.more:
            await interaction.followup.send(chunk, ephemeral=ephemeral)
        return Shown(sent.channel.id, sent.id)

    async def _edit_in_place(self, interaction: discord.Interaction, out: Outgoing,
                             view: discord.ui.View | None) -> Shown | None:
        kwargs = _edit_kwargs(out, view)
        if not interaction.response.is_done():
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.edit_original_response(**kwargs)
        return Shown(interaction.channel_id, interaction.message.id if interaction.message else None)

    async def _by_dm(self, interaction: discord.Interaction, reply: Reply, deferred: str | None) -> Shown | None:
        out = outgoing(reply.message, reply.kind, include_sensitive=True)
        view = await view_for(self.frontend, reply.message.actions)
        try:
            await interaction.user.send(**_kwargs(out, view))
            note = SENT_BY_DM
        except discord.Forbidden as exc:
            if exc.code != CANNOT_DM:
                raise
            note = DMS_CLOSED
        return await self._send(interaction, plain_text(note), None, ephemeral=True, deferred=deferred)


def _kwargs(out: Outgoing, view: discord.ui.View | None) -> dict:
    kwargs: dict = {"content": out.content, "embeds": out.embeds, "files": out.files()}
    if view is not None:
        kwargs["view"] = view
    return kwargs


def _edit_kwargs(out: Outgoing, view: discord.ui.View | None) -> dict:
    return {"content": out.content, "embeds": out.embeds, "attachments": out.files(), "view": view}
