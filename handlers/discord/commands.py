"""Slash commands built from the core's command table: one application command per top-level
entry, an `app_commands.Group` per family (`/offer`, `/wallet`, `/host`) with its subcommands,
options typed from each Param (INTEGER with bounds, STRING with choices or max length, CHANNEL,
ROLE), required ones first, autocomplete where the table names a source. Names, bounds and
refusals therefore stay the core's; the callbacks only hand the typed values to the front-end.
"""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable

import discord
from discord import app_commands

from bot.commands import Command, Param, PType, Role, top_level
from bot.commands.spec import TopLevel

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend

DESCRIPTION_MAX = 100
CHOICE_NAME_MAX = 100
AUTOCOMPLETE_MAX = 25
# /offer create asks for these in a modal (a modal holds at most 5 inputs; the rest are options)
MODAL_FIELDS = {"offer create": ("price", "min_hours", "max_hours")}


def short(text: str) -> str:
    return text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1] + "…"


def annotation(p: Param) -> Any:
    if p.type is PType.INT:
        return app_commands.Range[int, p.min, p.max]
    if p.type is PType.CHANNEL:
        return discord.TextChannel
    if p.type is PType.ROLE:
        return discord.Role
    if p.type is PType.CHOICE:
        return str
    return app_commands.Range[str, None, min(p.max_length, 6000)]


def options_of(cmd: Command) -> list[Param]:
    """The slash options of a command: typed params minus modal fields, required first."""
    skip = set(MODAL_FIELDS.get(cmd.path, ()))
    params = [p for p in cmd.typed_params if p.name not in skip]
    return sorted(params, key=lambda p: not (p.required and not p.implied))


def value_of(p: Param, value: Any) -> Any:
    """A typed option value as the core takes it (ids as strings, numbers as they are)."""
    if isinstance(value, (discord.abc.GuildChannel, discord.Role, discord.Thread)):
        return str(value.id)
    return value


def _callback(frontend: DiscordFrontend, cmd: Command, params: list[Param]) -> Callable[..., Any]:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        given = {p.name: value_of(p, values[p.name]) for p in params if values.get(p.name) is not None}
        await frontend.on_command(interaction, cmd, given)

    signature = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   annotation=discord.Interaction)]
    for p in params:
        required = p.required and not p.implied
        signature.append(inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation(p),
                                           default=inspect.Parameter.empty if required else None))
    callback.__signature__ = inspect.Signature(signature)   # type: ignore[attr-defined]
    # discord.py takes a callback whose __qualname__ differs from its __name__ for a method
    callback.__name__ = callback.__qualname__ = f"gpuflow_{cmd.path.replace(' ', '_')}"
    described = app_commands.describe(**{p.name: short(p.description) for p in params})(callback)
    choices = {p.name: [app_commands.Choice(name=c[:CHOICE_NAME_MAX], value=c) for c in p.choices]
               for p in params if p.type is PType.CHOICE}
    return app_commands.choices(**choices)(described) if choices else described


def _autocomplete(frontend: DiscordFrontend, cmd: Command, p: Param) -> Callable[..., Any]:
    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[Any]]:
        return await frontend.on_autocomplete(interaction, cmd, p, str(current or ""))
    return suggest


def slash_command(frontend: DiscordFrontend, cmd: Command, name: str) -> app_commands.Command[Any, ..., None]:
    params = options_of(cmd)
    command = app_commands.Command(name=name, description=short(cmd.summary), callback=_callback(frontend, cmd, params))
    for p in params:
        if p.autocomplete is not None and not p.choices:
            command.autocomplete(p.name)(_autocomplete(frontend, cmd, p))
    if cmd.role is Role.ADMIN:            # shown to Manage Server holders; the core checks the role itself
        command.default_permissions = discord.Permissions(manage_guild=True)
        command.guild_only = True
    return command


def _entry(frontend: DiscordFrontend, entry: TopLevel) -> app_commands.Command | app_commands.Group:
    if entry.command is not None:
        return slash_command(frontend, entry.command, entry.name)
    group = app_commands.Group(name=entry.name, description=short(entry.summary))
    for cmd in entry.subcommands:
        group.add_command(slash_command(frontend, cmd, cmd.sub or cmd.name))
    return group


def install(frontend: DiscordFrontend, tree: app_commands.CommandTree) -> None:
    """Put every command of the table on the tree (global; `sync` copies them to a guild)."""
    for entry in top_level():
        tree.add_command(_entry(frontend, entry))


def choices_for(p: Param, suggestions: list[Any]) -> list[app_commands.Choice[Any]]:
    from handlers.discord.escape import neutralise

    out = []
    for s in suggestions[:AUTOCOMPLETE_MAX]:
        value = int(s.value) if p.type is PType.INT else str(s.value)[:100]
        label = neutralise(str(s.label))[:CHOICE_NAME_MAX] or str(value)
        out.append(app_commands.Choice(name=label, value=value))
    return out
