"""Channel routes: messages (create, fetch, list, edit, delete), channel fetch/edit, private
threads and their members, DM channels, typing."""
from __future__ import annotations

import re

from devnet.discord import messages, payloads
from devnet.discord.errors import (INVALID_FORM_BODY, MISSING_PERMISSIONS, THREAD_ARCHIVED, UNKNOWN_MEMBER,
                                   DiscordError, FieldErrors)
from devnet.discord.model import (CREATE_PRIVATE_THREADS, MANAGE_THREADS, PRIVATE_THREAD, PUBLIC_THREAD,
                                  Channel)
from devnet.discord.router import Call, Reply, Router

router = Router()


def _message_json(call: Call, message) -> dict:
    return payloads.message(call.emu.state, call.emu.base_url, message)


@router.add("POST", "/channels/{channel_id}/messages")
async def create_message(call: Call) -> Reply:
    channel = call.emu.state.channel(call.params["channel_id"])
    messages.check_can_post(call.emu, channel)
    message = messages.create(call.emu, channel, call.body or {}, call.files)
    return Reply(200, _message_json(call, message))


@router.add("GET", "/channels/{channel_id}/messages")
async def list_messages(call: Call) -> Reply:
    channel = call.emu.state.channel(call.params["channel_id"])
    limit = min(int(call.query.get("limit", 50)), 100)
    visible = [m for m in channel.visible() if not m.ephemeral]
    return Reply(200, [_message_json(call, m) for m in reversed(visible[-limit:])])


@router.add("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(call: Call) -> Reply:
    state = call.emu.state
    channel = state.channel(call.params["channel_id"])
    message = state.message(channel, call.params["message_id"])
    if message.ephemeral:
        raise DiscordError(404, 10008)
    return Reply(200, _message_json(call, message))


@router.add("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(call: Call) -> Reply:
    state = call.emu.state
    channel = state.channel(call.params["channel_id"])
    message = state.message(channel, call.params["message_id"])
    if message.ephemeral:
        raise DiscordError(404, 10008)
    return Reply(200, _message_json(call, messages.edit(call.emu, message, call.body or {}, call.files)))


@router.add("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(call: Call) -> Reply:
    state = call.emu.state
    channel = state.channel(call.params["channel_id"])
    message = state.message(channel, call.params["message_id"])
    if message.author_id != state.bot.id and not call.emu.bot_permissions(channel) & (1 << 13):
        raise DiscordError(403, MISSING_PERMISSIONS)
    message.deleted = True
    call.emu.message_deleted(message)
    return Reply(204)


@router.add("POST", "/channels/{channel_id}/typing")
async def typing(call: Call) -> Reply:
    call.emu.state.channel(call.params["channel_id"])
    return Reply(204)


@router.add("GET", "/channels/{channel_id}")
async def get_channel(call: Call) -> Reply:
    channel = call.emu.state.channel(call.params["channel_id"])
    return Reply(200, payloads.channel(call.emu.state, channel))


@router.add("PATCH", "/channels/{channel_id}")
async def edit_channel(call: Call) -> Reply:
    state = call.emu.state
    channel = state.channel(call.params["channel_id"])
    body = call.body or {}
    if channel.is_thread:
        perms = call.emu.bot_permissions(channel)
        if ("locked" in body or "invitable" in body) and not perms & MANAGE_THREADS:
            raise DiscordError(403, MISSING_PERMISSIONS)
        if channel.locked and body.get("archived") is False and not perms & MANAGE_THREADS:
            raise DiscordError(400, THREAD_ARCHIVED)
        for key in ("archived", "locked", "invitable", "auto_archive_duration"):
            if body.get(key) is not None:
                setattr(channel, key, body[key])
        if "archived" in body:
            channel.archive_timestamp = state.iso_now()
    if body.get("name"):
        channel.name = body["name"]
    if "topic" in body and not channel.is_thread:
        channel.topic = body["topic"]
    event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
    call.emu.gateway.dispatch(event, payloads.channel(state, channel), channel.guild_id)
    return Reply(200, payloads.channel(state, channel))


@router.add("POST", "/channels/{channel_id}/threads")
async def create_thread(call: Call) -> Reply:
    """A thread without a starting message (the way private threads are made)."""
    state, emu = call.emu.state, call.emu
    parent = state.channel(call.params["channel_id"])
    body = call.body or {}
    kind = int(body.get("type") or PRIVATE_THREAD)
    errors = FieldErrors()
    name = body.get("name") or ""
    if not 1 <= len(name) <= 100:
        errors.too_many(("name",), 100)
    if parent.is_thread or parent.is_dm or parent.type != 0:
        errors.add(("type",), "THREAD_PARENT_INVALID", "Threads can only be made in text channels")
    if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of (11, 12).")
    errors.raise_if_any()
    if kind == PRIVATE_THREAD and not emu.bot_permissions(parent) & CREATE_PRIVATE_THREADS:
        raise DiscordError(403, MISSING_PERMISSIONS)
    thread = Channel(state.ids.next(), kind, guild_id=parent.guild_id, name=name, parent_id=parent.id,
                     owner_id=state.bot.id, invitable=bool(body.get("invitable", True)),
                     auto_archive_duration=int(body.get("auto_archive_duration") or 4320),
                     archive_timestamp=state.iso_now(), thread_members={state.bot.id})
    state.channels[thread.id] = thread
    state.guilds[parent.guild_id].channel_ids.append(thread.id)        # type: ignore[index]
    emu.gateway.dispatch("THREAD_CREATE", {**payloads.channel(state, thread), "newly_created": True},
                         thread.guild_id)
    return Reply(201, payloads.channel(state, thread))


def _thread_and_member(call: Call) -> tuple[Channel, int]:
    state = call.emu.state
    thread = state.channel(call.params["channel_id"])
    if not thread.is_thread:
        raise DiscordError(400, INVALID_FORM_BODY, "Not a thread")
    user_id = int(call.params["user_id"])
    if user_id not in state.guilds[thread.guild_id].members:         # type: ignore[index]
        raise DiscordError(404, UNKNOWN_MEMBER)
    if thread.archived:
        raise DiscordError(400, THREAD_ARCHIVED)
    return thread, user_id


@router.add("PUT", "/channels/{channel_id}/thread-members/{user_id}")
async def add_thread_member(call: Call) -> Reply:
    thread, user_id = _thread_and_member(call)
    if thread.type == PRIVATE_THREAD and call.emu.state.bot.id not in thread.thread_members \
            and not call.emu.bot_permissions(thread) & MANAGE_THREADS:
        raise DiscordError(403, MISSING_PERMISSIONS)
    thread.thread_members.add(user_id)
    return Reply(204)


@router.add("DELETE", "/channels/{channel_id}/thread-members/{user_id}")
async def remove_thread_member(call: Call) -> Reply:
    thread, user_id = _thread_and_member(call)
    thread.thread_members.discard(user_id)
    return Reply(204)


@router.add("GET", "/channels/{channel_id}/thread-members")
async def list_thread_members(call: Call) -> Reply:
    thread = call.emu.state.channel(call.params["channel_id"])
    return Reply(200, [{"id": str(thread.id), "user_id": str(u), "join_timestamp": thread.archive_timestamp,
                        "flags": 0} for u in sorted(thread.thread_members)])


@router.add("POST", "/users/@me/channels")
async def create_dm(call: Call) -> Reply:
    """Opening a DM always works; sending into it is what fails for closed DMs (50007)."""
    body = call.body or {}
    recipient = str(body.get("recipient_id", ""))
    if not re.fullmatch(r"\d+", recipient):
        errors = FieldErrors()
        errors.required(("recipient_id",))
        errors.raise_if_any()
    channel = call.emu.state.dm_channel(int(recipient))
    return Reply(200, payloads.channel(call.emu.state, channel))
