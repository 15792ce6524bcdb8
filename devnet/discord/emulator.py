"""The loopback Discord: REST at `rest_base` (`discord.http.Route.BASE`), the gateway at
`gateway_url` (`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`), attachments served from
the same port, and a Python scenario API (`world`, `actions`) for tests and demos.

Everything the bot sends is validated (OpenAPI + Discord's limits); each refusal that means the
bot misbehaved is recorded in `violations`, which a test fixture asserts empty at teardown.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from aiohttp import web

from devnet.anvil import free_port
from devnet.discord import payloads
from devnet.discord.actions import ActionsMixin
from devnet.discord.faults import Buckets, Faults
from devnet.discord.gateway import DIRECT_MESSAGES, GUILD_MESSAGES, Gateway
from devnet.discord.model import Channel, Interaction, Message
from devnet.discord.rest import RestApi
from devnet.discord.router import Router
from devnet.discord.routes_app import router as app_routes
from devnet.discord.routes_channels import router as channel_routes
from devnet.discord.routes_interactions import router as interaction_routes
from devnet.discord.spec import PREFIX, ApiSpec, load_spec
from devnet.discord.state import State
from devnet.discord.world import WorldMixin

T = TypeVar("T")


@dataclass
class Violation:
    kind: str            # spec-request, spec-response, refused-50035, deadline, unimplemented, ...
    method: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.method} {self.path}: {self.detail}"


class DiscordEmulator(WorldMixin, ActionsMixin):
    def __init__(self, *, port: int | None = None, spec: ApiSpec | None = None, bot_name: str = "gpuflow") -> None:
        self.port = port or free_port()
        self.spec = spec or load_spec()
        self.state = State(bot_name=bot_name)
        self.faults = Faults()
        self.buckets = Buckets()
        self.gateway = Gateway(self)
        self.violations: list[Violation] = []
        self.requests: list[tuple[str, str]] = []
        self.default_allowed_mentions: dict[str, Any] | None = None
        self.recommended_shards = 1
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None
        router = Router()
        for part in (app_routes, channel_routes, interaction_routes):
            router.include(part)
        self.rest = RestApi(self, router)

    # -- addresses ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest_base(self) -> str:
        return self.base_url + PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    @property
    def token(self) -> str:
        return self.state.token

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", PREFIX + "/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway-resume", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _attachment(self, request: web.Request) -> web.Response:
        channel = self.state.channels.get(int(request.match_info["channel_id"]))
        wanted = int(request.match_info["attachment_id"])
        for message in (channel.messages.values() if channel else []):
            for item in message.attachments:
                if item.id == wanted:
                    return web.Response(body=item.data, content_type=item.content_type or "application/octet-stream")
        return web.Response(status=404)

    # -- violations -------------------------------------------------------------------------------
    def violation(self, kind: str, method: str, path: str, detail: str) -> None:
        self.violations.append(Violation(kind, method, path, detail))
        self.changed()

    def take_violations(self) -> list[Violation]:
        """Hand the recorded violations to a negative test (and clear them)."""
        taken, self.violations = self.violations, []
        return taken

    def check_schema(self, name: str, instance: Any, where: str) -> None:
        for problem in self.spec.check_schema(name, instance):
            self.violation("spec-gateway", "GATEWAY", where, problem)

    # -- change notification ------------------------------------------------------------------------
    def changed(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
        """Poll-free wait: `check` runs after every change to the emulated world."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tick = self._tick
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            try:
                await asyncio.wait_for(tick.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # -- hooks called by the routes -------------------------------------------------------------------
    def message_posted(self, message: Message) -> None:
        channel = self.state.channels[message.channel_id]
        if not message.ephemeral:
            data = payloads.message(self.state, self.base_url, message)
            if channel.guild_id:
                data["guild_id"] = str(channel.guild_id)
            intent = GUILD_MESSAGES if channel.guild_id else DIRECT_MESSAGES
            self.gateway.dispatch("MESSAGE_CREATE", data, channel.guild_id, intent)
        self.changed()

    def message_edited(self, message: Message) -> None:
        channel = self.state.channels[message.channel_id]
        if not message.ephemeral:
            data = payloads.message(self.state, self.base_url, message)
            if channel.guild_id:
                data["guild_id"] = str(channel.guild_id)
            intent = GUILD_MESSAGES if channel.guild_id else DIRECT_MESSAGES
            self.gateway.dispatch("MESSAGE_UPDATE", data, channel.guild_id, intent)
        self.changed()

    def message_deleted(self, message: Message) -> None:
        channel = self.state.channels[message.channel_id]
        if not message.ephemeral:
            data = {"id": str(message.id), "channel_id": str(channel.id)}
            if channel.guild_id:
                data["guild_id"] = str(channel.guild_id)
            intent = GUILD_MESSAGES if channel.guild_id else DIRECT_MESSAGES
            self.gateway.dispatch("MESSAGE_DELETE", data, channel.guild_id, intent)
        self.changed()

    def interaction_answered(self, interaction: Interaction) -> None:
        self.changed()

    def interaction_sent(self, interaction_id: int) -> None:
        interaction = self.state.interactions.get(interaction_id)
        if interaction is not None and interaction.sent_at is None:
            interaction.sent_at = self.state.now()

    def commands_synced(self, guild_id: int | None) -> None:
        self.changed()

    def bot_permissions(self, channel: Channel) -> int:
        return self.permissions_in(channel, self.state.bot.id)
