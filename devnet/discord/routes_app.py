"""Application routes: the bot user, application info, gateway discovery, application commands
(bulk overwrite, global and per guild) and the guild reads a bot needs (roles, members)."""
from __future__ import annotations

import re
from typing import Any

from devnet.discord import payloads
from devnet.discord.errors import MISSING_ACCESS, UNKNOWN_MEMBER, DiscordError, FieldErrors
from devnet.discord.model import Command
from devnet.discord.router import Call, Reply, Router

router = Router()
COMMANDS_MAX, OPTIONS_MAX, CHOICES_MAX = 100, 25, 25
NAME = re.compile(r"^[-_'\w]{1,32}$")
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


@router.add("GET", "/users/@me")
async def get_me(call: Call) -> Reply:
    return Reply(200, payloads.me(call.emu.state.bot))


@router.add("GET", "/users/{user_id}")
async def get_user(call: Call) -> Reply:
    return Reply(200, payloads.user(call.emu.state.user(call.int_param("user_id"))))


@router.add("GET", "/oauth2/applications/@me")
async def get_application(call: Call) -> Reply:
    return Reply(200, payloads.application(call.emu.state))


@router.add("GET", "/gateway")
async def get_gateway(call: Call) -> Reply:
    return Reply(200, {"url": call.emu.gateway_url})


@router.add("GET", "/gateway/bot")
async def get_gateway_bot(call: Call) -> Reply:
    return Reply(200, {"url": call.emu.gateway_url, "shards": call.emu.recommended_shards,
                       "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000,
                                               "max_concurrency": 1}})


def _check_options(options: list[dict[str, Any]], path: tuple[Any, ...], errors: FieldErrors, depth: int) -> None:
    if len(options) > OPTIONS_MAX:
        errors.add((*path,), "BASE_TYPE_MAX_LENGTH", f"Must be {OPTIONS_MAX} or fewer in length.")
    names: set[str] = set()
    seen_optional = False
    for i, option in enumerate(options):
        where = (*path, i)
        name = option.get("name", "")
        if not NAME.match(name) or name != name.lower():
            errors.add((*where, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            errors.add((*where, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        names.add(name)
        if not 1 <= len(option.get("description", "")) <= 100:
            errors.too_many((*where, "description"), 100)
        kind = option.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth >= 2 or (kind == SUB_COMMAND_GROUP and depth >= 1):
                errors.add((*where, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Nesting too deep")
            _check_options(option.get("options") or [], (*where, "options"), errors, depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                errors.add((*where, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                           "Required options must be placed before non-required options")
        else:
            seen_optional = True
        if len(option.get("choices") or []) > CHOICES_MAX:
            errors.add((*where, "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES_MAX} or fewer in length.")
        if option.get("choices") and option.get("autocomplete"):
            errors.add((*where, "autocomplete"), "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                       "Autocomplete cannot be used with choices")


def _overwrite(call: Call, guild_id: int | None) -> Reply:
    emu, state = call.emu, call.emu.state
    if call.int_param("application_id") != state.application_id:
        raise DiscordError(403, MISSING_ACCESS)
    if guild_id is not None:
        state.guild(guild_id)
    bodies: list[dict[str, Any]] = call.body or []
    errors = FieldErrors()
    if len(bodies) > COMMANDS_MAX:
        errors.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {COMMANDS_MAX} or fewer in length.")
    keys: set[tuple[int, str]] = set()
    for i, body in enumerate(bodies):
        name, kind = body.get("name", ""), int(body.get("type") or 1)
        if kind == 1 and (not NAME.match(name) or name != name.lower()):
            errors.add((i, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if kind == 1 and not 1 <= len(body.get("description") or "") <= 100:
            errors.too_many((i, "description"), 100)
        if (kind, name) in keys:
            errors.add((i, "name"), "APPLICATION_COMMAND_ALREADY_EXISTS", "Application command names must be unique")
        keys.add((kind, name))
        _check_options(body.get("options") or [], (i, "options"), errors, 0)
    errors.raise_if_any()
    old = {(c.type, c.name): c for c in state.commands.values() if c.guild_id == guild_id}
    for command in old.values():
        del state.commands[command.id]
    made = []
    for body in bodies:
        kind = int(body.get("type") or 1)
        kept = old.get((kind, body["name"]))
        known = {"name", "description", "type", "options", "default_member_permissions", "contexts",
                 "integration_types", "nsfw", "dm_permission"}
        command = Command(
            id=kept.id if kept else state.ids.next(), application_id=state.application_id, name=body["name"],
            description=body.get("description") or "", type=kind, guild_id=guild_id,
            options=body.get("options") or [],
            default_member_permissions=_perm_string(body.get("default_member_permissions")),
            contexts=body.get("contexts"), integration_types=body.get("integration_types"),
            nsfw=bool(body.get("nsfw")), version=state.ids.next(),
            extra={k: v for k, v in body.items() if k not in known and v is not None})
        state.commands[command.id] = command
        made.append(command)
    emu.commands_synced(guild_id)
    return Reply(200, [payloads.command(c) for c in made])


def _perm_string(value: Any) -> str | None:
    """Sent as an integer or a string; Discord always returns the bitfield as a string."""
    return None if value is None else str(int(value))


def _list(call: Call, guild_id: int | None) -> Reply:
    state = call.emu.state
    return Reply(200, [payloads.command(c) for c in state.commands.values() if c.guild_id == guild_id])


@router.add("PUT", "/applications/{application_id}/commands")
async def overwrite_global(call: Call) -> Reply:
    return _overwrite(call, None)


@router.add("GET", "/applications/{application_id}/commands")
async def list_global(call: Call) -> Reply:
    return _list(call, None)


@router.add("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def overwrite_guild(call: Call) -> Reply:
    return _overwrite(call, call.int_param("guild_id"))


@router.add("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_guild(call: Call) -> Reply:
    return _list(call, call.int_param("guild_id"))


@router.add("GET", "/guilds/{guild_id}/roles")
async def list_roles(call: Call) -> Reply:
    guild = call.emu.state.guild(call.params["guild_id"])
    return Reply(200, [payloads.role(r) for r in guild.roles.values()])


@router.add("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(call: Call) -> Reply:
    guild = call.emu.state.guild(call.params["guild_id"])
    member = guild.members.get(call.int_param("user_id"))
    if member is None:
        raise DiscordError(404, UNKNOWN_MEMBER)
    return Reply(200, payloads.member(call.emu.state, member))


@router.add("GET", "/guilds/{guild_id}/channels")
async def list_channels(call: Call) -> Reply:
    state = call.emu.state
    guild = state.guild(call.params["guild_id"])
    return Reply(200, [payloads.channel(state, state.channels[c]) for c in guild.channel_ids
                       if not state.channels[c].is_thread])
