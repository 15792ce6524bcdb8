"""The Discord front-end: a discord.py client (an AutoShardedClient when sharded) whose slash
commands, buttons and modals are thin calls into the core's command router.

`rest_base_url` and `gateway_url` point discord.py at a REST or gateway proxy (or the loopback
emulator): discord.py reads them from `discord.http.Route.BASE` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (a plain Client connects there; only an
AutoShardedClient asks GET /gateway/bot). Mentions are off by default (`allowed_mentions`); the
only ping is the support role in a new dispute thread.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import yarl
from discord import app_commands

from bot.commands import Command, Param, spec
from bot.commands.reply import error_reply
from bot.config import DiscordSettings
from bot.domain.errors import UserError
from handlers.discord import commands, modals, resolve
from bot.delivery.refs import PlatformRef
from bot.services.views import RentalView
from handlers.discord.buttons import ActionButton, DismissButton
from handlers.discord.delivery import DiscordDelivery
from handlers.discord.invocation import invocation_of
from handlers.discord.respond import Responder, Shown, internal_error

log = logging.getLogger(__name__)
PAGED = {"offers"}             # buttons that page their own message (Previous / Next)
PROGRESS_KINDS = ("rental.created",)     # replies whose message later shows the rental's progress
GUILD_READY_TIMEOUT_S = 0.5    # discord.py waits this long after the last GUILD_CREATE before on_ready


def point_library(settings: DiscordSettings) -> None:
    """Process-wide: discord.py keeps both addresses as class attributes."""
    discord.http.Route.BASE = settings.rest_base_url.rstrip("/")
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class DiscordFrontend:
    def __init__(self, runtime: Any, settings: DiscordSettings, token: str) -> None:
        point_library(settings)
        self.runtime = runtime
        self.router = runtime.router
        self.services = runtime.services
        self.settings = settings
        self._token = token
        intents = discord.Intents.none()
        intents.guilds = True              # guilds, channels, threads; no privileged intent is needed
        kwargs: dict[str, Any] = {"intents": intents, "allowed_mentions": discord.AllowedMentions.none(),
                                  "guild_ready_timeout": GUILD_READY_TIMEOUT_S}
        cls: type[discord.Client] = discord.Client
        if settings.shard_count:
            cls = discord.AutoShardedClient
            kwargs.update(shard_count=settings.shard_count, shard_ids=settings.shard_ids)
        self.client = cls(**kwargs)
        self.client.gpuflow = self                       # type: ignore[attr-defined]
        self.client.setup_hook = self._setup_hook        # type: ignore[method-assign]
        self.client.on_interaction = self._on_interaction  # type: ignore[attr-defined]
        self.tree = app_commands.CommandTree(self.client)
        self.tree.on_error = self._on_tree_error          # type: ignore[method-assign]
        commands.install(self, self.tree)
        self.responder = Responder(self, settings.ack_after_s)
        self.ready = asyncio.Event()
        self.client.on_ready = self._on_ready            # type: ignore[attr-defined]
        self.delivery = DiscordDelivery(self)
        self._stopping = asyncio.Event()
        self._delivery_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def _setup_hook(self) -> None:
        """After login (REST works), before the gateway: buttons, commands, the delivery loop."""
        self.client.add_dynamic_items(ActionButton, DismissButton)
        self._delivery_task = asyncio.get_running_loop().create_task(self.delivery.run(self._stopping))
        if self.settings.guild_id:           # guild commands show up at once; global ones take a while
            guild = discord.Object(self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def _on_ready(self) -> None:
        self.ready.set()

    async def start(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self.client.start(self._token))

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`; a failed login (bad token) is logged and ends the front-end, not the bot."""
        client_task = await self.start()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({client_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            await self.close()
            if client_task.done() and not client_task.cancelled() and client_task.exception() is not None:
                exc = client_task.exception()
                log.error("the Discord front-end stopped: %s", type(exc).__name__)
            else:
                client_task.cancel()

    async def close(self) -> None:
        self._stopping.set()
        if self._delivery_task is not None:
            await asyncio.wait({self._delivery_task}, timeout=10)
        if not self.client.is_closed():
            await self.client.close()

    async def support_roles(self, chat_id: str | None) -> set[str]:
        """The roles that make someone support staff in a guild: configured, or set with /setup."""
        s = self.settings
        roles = {str(r) for r in s.support_role_ids}
        if s.support_role_id is not None:
            roles.add(str(s.support_role_id))
        return roles | await self.services.place_store.support_roles("discord", chat_id or "-")

    # -- events -----------------------------------------------------------------------------------
    async def on_command(self, interaction: discord.Interaction, cmd: Command, args: dict[str, Any]) -> None:
        if cmd.path in commands.MODAL_FIELDS:
            missing = [cmd.param(name) for name in commands.MODAL_FIELDS[cmd.path]]
            await modals.ask(self, interaction, cmd.path, args, [p for p in missing if p is not None])
            return
        if cmd.path == "resolve":
            await resolve.confirm(self, interaction, args)
            return
        await self.call(interaction, invocation_of(interaction), cmd.path, args, private=cmd.private)

    async def on_action(self, interaction: discord.Interaction, payload: str) -> None:
        inv = invocation_of(interaction)
        try:
            path, args = await self.router.codec.decode(payload)
        except UserError as exc:
            await self.responder.show(interaction, error_reply(exc.message))
            return
        cmd = spec.get(path)
        missing = [p for p in (cmd.typed_params if cmd else ()) if p.required and not p.implied and p.name not in args]
        if cmd is not None and modals.askable(missing):
            await modals.ask(self, interaction, path, args, missing)
            return
        prompt = interaction.message is not None and interaction.message.flags.ephemeral
        await self.call(interaction, inv, path, args, private=bool(cmd and cmd.private),
                       update=path in PAGED and not prompt, prompt=prompt)

    async def call(self, interaction: discord.Interaction, inv: Any, path: str, args: dict[str, Any], *,
                  private: bool, update: bool = False, prompt: bool = False) -> None:
        reply, shown = await self.responder.answer(interaction, self.router.invoke(inv, path, args),
                                                   private=private, update=update, prompt=prompt)
        await self.after(reply, shown, inv)

    async def after(self, reply: Any, shown: Shown | None, inv: Any) -> None:
        """What follows a shown reply: the message with a deposit request is remembered (the
        rental's progress is edited into it); a dispute decided inside its thread closes it."""
        rental = reply.view(RentalView) if reply.ok and reply.kind in PROGRESS_KINDS else None
        if rental is not None and shown is not None and shown.message_id is not None:
            await self.services.refs.remember_progress(rental.id, "discord", PlatformRef(
                chat_id=inv.chat_id, channel_id=str(shown.channel_id), message_id=str(shown.message_id)))
        if reply.ok and reply.kind == "dispute.resolved" and inv.thread_id:
            try:
                await resolve.close_thread(self, inv.thread_id)
            except discord.HTTPException as exc:
                log.warning("could not archive dispute thread %s (HTTP %s)", inv.thread_id, exc.status)

    async def on_autocomplete(self, interaction: discord.Interaction, cmd: Command, p: Param,
                              current: str) -> list[app_commands.Choice[Any]]:
        suggestions = await self.router.suggest(invocation_of(interaction), cmd.path, p.name, current)
        return commands.choices_for(p, suggestions)

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit and \
                str((interaction.data or {}).get("custom_id", "")).startswith(modals.PREFIX):
            await modals.submitted(self, interaction)

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("interaction %s failed: %s", interaction.id, type(error).__name__,
                  exc_info=(type(error), error, error.__traceback__))
        try:
            await self.responder.show(interaction, internal_error())
        except discord.HTTPException:
            pass
