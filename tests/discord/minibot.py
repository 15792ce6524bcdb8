"""A throw-away discord.py bot for the emulator's own tests (not the product's front-end).

It exercises what a full bot uses: guild command sync, typed options, a subcommand group,
autocomplete, an ephemeral reply, a modal, a persistent DynamicItem button, a deferred reply with
a follow-up, DMs with a file, and private threads.
"""
from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord
from discord import app_commands


class RentButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rent:(?P<offer>\d+)"):
    def __init__(self, offer: int) -> None:
        super().__init__(discord.ui.Button(label="Rent", style=discord.ButtonStyle.primary, custom_id=f"rent:{offer}"))
        self.offer = offer

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> RentButton:
        return cls(int(match["offer"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"renting offer {self.offer}", ephemeral=True)


class HoursModal(discord.ui.Modal, title="Rent a GPU"):
    hours = discord.ui.TextInput(label="Hours", max_length=3)
    note = discord.ui.TextInput(label="Note", style=discord.TextStyle.paragraph, required=False)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"rent for {self.hours.value} h ({self.note.value or '-'})",
                                                ephemeral=True)


class MiniBot:
    def __init__(self, guild_id: int, *, client_cls: type[discord.Client] = discord.Client,
                 intents: discord.Intents | None = None, **client_kw: Any) -> None:
        # guild_ready_timeout: discord.py waits that long after the last GUILD_CREATE before on_ready
        client_kw.setdefault("guild_ready_timeout", 0.2)
        self.client = client_cls(intents=intents or discord.Intents.default(), **client_kw)
        self.tree = app_commands.CommandTree(self.client)
        self.guild = discord.Object(guild_id)
        self.ready = asyncio.Event()
        self.release = asyncio.Event()          # lets a test hold a handler mid-flight
        self.errors: list[BaseException] = []
        self.seen: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._commands()
        self.client.event(self.on_ready)

    def _commands(self) -> None:
        tree, seen = self.tree, self.seen

        @tree.command(name="ping", description="Answer privately")
        @app_commands.describe(n="how many", word="a word")
        @app_commands.choices(word=[app_commands.Choice(name="Alpha", value="alpha"),
                                    app_commands.Choice(name="Beta", value="beta")])
        async def ping(interaction: discord.Interaction, n: app_commands.Range[int, 1, 10],
                       word: app_commands.Choice[str] | None = None, flag: bool = False) -> None:
            seen.append({"n": n, "word": word.value if word else None, "flag": flag})
            await interaction.response.send_message(f"pong {n} {word.value if word else ''}".strip(), ephemeral=True)

        market = app_commands.Group(name="market", description="The market")
        admin = app_commands.Group(name="admin", description="Staff tools", parent=market)

        @market.command(name="post", description="Post an offer with a Rent button")
        async def post(interaction: discord.Interaction, offer: int, gpu: str) -> None:
            view = discord.ui.View(timeout=None)
            view.add_item(RentButton(offer))
            embed = discord.Embed(title=f"Offer {offer}", description=gpu)
            await interaction.response.send_message(embed=embed, view=view)

        @post.autocomplete("gpu")
        async def gpu_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            names = ["A100", "H100", "RTX 4090", "L40S"]
            return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()]

        @admin.command(name="pause", description="Pause an offer")
        async def pause(interaction: discord.Interaction, offer: int, member: discord.Member) -> None:
            seen.append({"pause": offer, "member": member.id, "roles": [r.id for r in interaction.user.roles]})
            await interaction.response.send_message(f"paused {offer} for {member.display_name}", ephemeral=True)

        tree.add_command(market)

        @tree.command(name="rent", description="Rent through a modal")
        async def rent(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(HoursModal())

        @tree.command(name="slow", description="Defer, then follow up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.release.wait()
            await interaction.followup.send("done after a while")
            await interaction.edit_original_response(content="done, edited")

        @tree.command(name="dm", description="Send a file by DM")
        async def dm(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            try:
                await interaction.user.send("your key", file=discord.File(io.BytesIO(b"-----KEY-----\n"), filename="id_ed25519"))
            except discord.Forbidden as exc:
                await interaction.followup.send(f"open your DMs ({exc.code})", ephemeral=True)
                return
            await interaction.followup.send("sent by DM", ephemeral=True)

        @tree.command(name="setup", description="Admins only")
        @app_commands.default_permissions(manage_guild=True)
        async def setup(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("set up", ephemeral=True)

        @tree.error
        async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
            self.errors.append(error)

    async def on_ready(self) -> None:
        self.client.add_dynamic_items(RentButton)
        await self.tree.sync()                          # global: what DMs offer
        self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)
        self.ready.set()

    async def start(self, token: str, timeout: float = 15.0) -> None:
        self._task = asyncio.create_task(self.client.start(token))
        done, _ = await asyncio.wait({self._task, asyncio.create_task(self.ready.wait())}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            self._task.result()         # raises what stopped the client
        if not self.ready.is_set():
            raise TimeoutError("the bot did not become ready")

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except Exception:       # the task's own failure was reported by the test already
                pass
