"""Where an interaction came from, as the core's Invocation: guild, channel, thread (with its
parent channel), DM or not, and the platform roles of the member ("chat-admin" for a member with
Manage Server there). Roles are reported from this event only, never stored."""
from __future__ import annotations

import discord

from bot.chat import Invocation

CHAT_ADMIN = "chat-admin"


def invocation_of(interaction: discord.Interaction) -> Invocation:
    user = interaction.user
    channel = interaction.channel
    channel_id = interaction.channel_id
    thread_id = None
    if isinstance(channel, discord.Thread):
        thread_id, channel_id = channel.id, channel.parent_id
    roles = frozenset(str(r.id) for r in getattr(user, "roles", ()) if not r.is_default())
    if interaction.guild_id is not None and interaction.permissions.manage_guild:
        roles |= {CHAT_ADMIN}
    return Invocation(
        platform="discord", platform_user_id=str(user.id), display_name=user.display_name,
        chat_id=str(interaction.guild_id) if interaction.guild_id else None,
        channel_id=str(channel_id) if channel_id else None, thread_id=str(thread_id) if thread_id else None,
        is_dm=interaction.guild_id is None, roles=roles,
        message_ref=str(interaction.message.id) if interaction.message is not None else None)
