"""Creating and editing messages, shared by channel sends, interaction responses and webhooks.

Checks Discord's limits (`limits`), where a bot may write (permissions, closed DMs, archived or
locked threads), the attachments a body names against the files uploaded, the upload size limit,
and `nonce` + `enforce_nonce` (a resend returns the message already made instead of a second one).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devnet.discord import limits, payloads
from devnet.discord.errors import (CANNOT_DM, EDIT_OTHERS_MESSAGE, INVALID_FORM_BODY, MISSING_ACCESS,
                                   MISSING_PERMISSIONS, THREAD_ARCHIVED, TOO_LARGE, DiscordError, FieldErrors)
from devnet.discord.model import (MANAGE_THREADS, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS, VIEW_CHANNEL,
                                  Attachment, Channel, Message)
from devnet.discord.router import Upload

if TYPE_CHECKING:
    from devnet.discord.emulator import DiscordEmulator


def check_can_post(emu: DiscordEmulator, channel: Channel) -> None:
    """What Discord checks before the bot's own (non-interaction) message lands in a channel."""
    state = emu.state
    if channel.is_dm:
        if not state.users[channel.recipients[0]].dms_open:
            raise DiscordError(403, CANNOT_DM)
        return
    guild = state.guild(channel.guild_id)    # type: ignore[arg-type]
    perms = emu.bot_permissions(channel)
    need = VIEW_CHANNEL | (SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES)
    if not perms & VIEW_CHANNEL:
        raise DiscordError(403, MISSING_ACCESS)
    if perms & need != need:
        raise DiscordError(403, MISSING_PERMISSIONS)
    if channel.is_thread:
        if channel.locked and not perms & MANAGE_THREADS:
            raise DiscordError(400, THREAD_ARCHIVED)
        if channel.type == 12 and state.bot.id not in channel.thread_members and not perms & MANAGE_THREADS:
            raise DiscordError(403, MISSING_ACCESS)
        if channel.archived:       # sending to an archived (unlocked) thread unarchives it
            channel.archived = False
            emu.gateway.dispatch("THREAD_UPDATE", payloads.channel(state, channel), guild.id)


def _attachments(emu: DiscordEmulator, body: dict[str, Any], files: list[Upload],
                 existing: list[Attachment]) -> list[Attachment]:
    total = sum(len(f.data) for f in files)
    if total > payloads.ATTACHMENT_SIZE_LIMIT:
        raise DiscordError(413, TOO_LARGE)
    by_index = {f.index: f for f in files}
    named = body.get("attachments")
    if named is None:       # no list: keep what the message had, add every upload
        return existing + [_new(emu, f, None) for f in files]
    errors = FieldErrors()
    out: list[Attachment] = []
    kept = {a.id: a for a in existing}
    for i, entry in enumerate(named):
        ref = int(entry.get("id", -1))
        if ref in by_index:
            out.append(_new(emu, by_index.pop(ref), entry))
        elif ref in kept:
            out.append(kept[ref])
        else:
            errors.add(("attachments", i, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment or upload")
    if by_index:
        errors.add(("attachments",), "ATTACHMENT_UNREFERENCED",
                   f"uploaded files {sorted(by_index)} are not listed in attachments")
    if errors:
        raise DiscordError(400, INVALID_FORM_BODY, errors=errors.tree)
    return out


def _new(emu: DiscordEmulator, upload: Upload, entry: dict[str, Any] | None) -> Attachment:
    entry = entry or {}
    return Attachment(emu.state.ids.next(), entry.get("filename") or upload.filename, upload.data,
                      upload.content_type, entry.get("description"))


def create(emu: DiscordEmulator, channel: Channel, body: dict[str, Any], files: list[Upload], *,
           interaction_id: int | None = None, visible_to: int | None = None, kind: int = 0,
           extra_flags: int = 0) -> Message:
    """A new message by the bot (or its application's webhook when answering an interaction)."""
    state = emu.state
    body = body or {}
    limits.check_message(body, files=len(files))
    if interaction_id is None and body.get("enforce_nonce"):
        hit = state.nonce_hit(state.bot.id, body.get("nonce"))
        if hit is not None:
            return hit
    flags = limits.settable_flags(body.get("flags"), interaction=interaction_id is not None) | extra_flags
    if visible_to is not None:
        flags |= limits.EPHEMERAL
    message = Message(
        id=state.ids.next(), channel_id=channel.id, author_id=state.bot.id, content=body.get("content") or "",
        embeds=payloads.normalise_embeds(body.get("embeds") or []),
        components=payloads.normalise_components(body.get("components") or []),
        attachments=_attachments(emu, body, files, []), flags=flags, type=kind, timestamp=state.iso_now(),
        nonce=body.get("nonce"), allowed_mentions=body.get("allowed_mentions", emu.default_allowed_mentions),
        interaction_id=interaction_id, visible_to=visible_to, message_reference=body.get("message_reference"),
        webhook_id=state.application_id if interaction_id is not None else None,
        application_id=state.application_id if interaction_id is not None else None,
    )
    channel.messages[message.id] = message
    state.remember_nonce(message)
    if channel.type == 12 and not message.ephemeral:
        _join_mentioned(emu, channel, message)
    emu.message_posted(message)
    return message


def _join_mentioned(emu: DiscordEmulator, thread: Channel, message: Message) -> None:
    """Mentioning people, or a role, in a private thread adds them to it (as in Discord)."""
    users, roles, _ = payloads.mentions(emu.state, thread, message.content, message.allowed_mentions)
    guild = emu.state.guilds[thread.guild_id]       # type: ignore[index]
    thread.thread_members.update(users)
    for member in guild.members.values():
        if set(member.roles) & set(roles):
            thread.thread_members.add(member.user_id)


def edit(emu: DiscordEmulator, message: Message, body: dict[str, Any], files: list[Upload], *,
         interaction: bool = False) -> Message:
    """PATCH semantics: only the fields present change; `attachments` lists what stays."""
    state = emu.state
    if message.author_id != state.bot.id:
        raise DiscordError(403, EDIT_OTHERS_MESSAGE)
    body = body or {}
    merged = {"content": message.content, "embeds": message.embeds, "components": message.components}
    merged.update({k: v for k, v in body.items() if k in merged and v is not None})
    limits.check_message({**body, **merged}, files=len(files), edit=True)
    if "content" in body:
        message.content = body["content"] or ""
    if "embeds" in body:
        message.embeds = payloads.normalise_embeds(body["embeds"] or [])
    if "components" in body:
        message.components = payloads.normalise_components(body["components"] or [])
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]
    if "flags" in body and body["flags"] is not None:
        keep = message.flags & limits.EPHEMERAL
        message.flags = limits.settable_flags(body["flags"], interaction=interaction) | keep
    message.flags &= ~LOADING
    if files or "attachments" in body:
        message.attachments = _attachments(emu, body, files, message.attachments)
    message.edited_timestamp = state.iso_now()
    emu.message_edited(message)
    return message


LOADING = 1 << 7      # the "is thinking..." state of a deferred interaction response
