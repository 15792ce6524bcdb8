"""JSON shapes of emulated objects, as Discord's API returns them (the response schemas of the
OpenAPI file: every REST answer is validated against them) and as the gateway sends them."""
from __future__ import annotations

import copy
import re
from typing import Any

from devnet.discord.model import (DM, MENTION_EVERYONE, Attachment, Channel, Command, Guild, Member, Message, Role, User)
from devnet.discord.state import State

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024       # an unboosted guild's upload limit (10 MiB)
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def user(u: User) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(u.id), "username": u.username, "avatar": None, "discriminator": "0",
        "public_flags": 0, "flags": 0, "global_name": u.global_name, "primary_guild": None,
    }
    if u.bot:
        out["bot"] = True
    return out


def me(u: User) -> dict[str, Any]:
    return {**user(u), "mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}


def application(state: State) -> dict[str, Any]:
    return {
        "id": str(state.application_id), "name": state.bot.username, "icon": None, "description": "",
        "type": None, "verify_key": "0" * 64, "flags": 0, "flags_new": "0", "redirect_uris": [],
        "interactions_endpoint_url": None, "role_connections_verification_url": None,
        "owner": user(state.bot), "approximate_guild_count": len(state.guilds),
        "approximate_user_install_count": 0, "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0, "team": None, "eligible_oauth2_scopes": [], "bot": user(state.bot),
        "bot_public": False, "bot_require_code_grant": False,
    }


def role(r: Role) -> dict[str, Any]:
    return {
        "id": str(r.id), "name": r.name, "permissions": str(r.permissions), "position": r.position,
        "color": 0, "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False, "managed": False, "mentionable": r.mentionable, "icon": None, "unicode_emoji": None,
        "flags": 0,
    }


def member(state: State, m: Member) -> dict[str, Any]:
    return {
        "avatar": None, "banner": None, "communication_disabled_until": None, "flags": 0,
        "joined_at": m.joined_at, "nick": m.nick, "pending": False, "premium_since": None,
        "roles": [str(r) for r in m.roles], "user": user(state.users[m.user_id]), "mute": False, "deaf": False,
    }


def channel(state: State, c: Channel) -> dict[str, Any]:
    if c.type == DM:
        return {"id": str(c.id), "type": DM, "flags": 0, "last_message_id": _last(c),
                "recipients": [user(state.users[u]) for u in c.recipients]}
    out: dict[str, Any] = {"id": str(c.id), "type": c.type, "flags": 0, "guild_id": str(c.guild_id),
                           "name": c.name, "last_message_id": _last(c),
                           "parent_id": str(c.parent_id) if c.parent_id else None, "rate_limit_per_user": 0}
    if c.is_thread:
        out.update(owner_id=str(c.owner_id), message_count=len(c.visible()), member_count=len(c.thread_members),
                   total_message_sent=len(c.messages), thread_metadata={
                       "archived": c.archived, "locked": c.locked, "auto_archive_duration": c.auto_archive_duration,
                       "archive_timestamp": c.archive_timestamp, "create_timestamp": c.archive_timestamp,
                       "invitable": c.invitable})
    else:
        out.update(position=c.position, topic=c.topic, nsfw=False, permission_overwrites=c.overwrites)
    return out


def _last(c: Channel) -> str | None:
    visible = [m for m in c.messages.values() if not m.deleted and not m.ephemeral]
    return str(visible[-1].id) if visible else None


def attachment(base_url: str, channel_id: int, a: Attachment) -> dict[str, Any]:
    url = f"{base_url}/attachments/{channel_id}/{a.id}/{a.filename}"
    out: dict[str, Any] = {"id": str(a.id), "filename": a.filename, "size": a.size, "url": url, "proxy_url": url}
    if a.content_type:
        out["content_type"] = a.content_type
    if a.description:
        out["description"] = a.description
    return out


def mentions(state: State, c: Channel, content: str, allowed: dict[str, Any] | None) -> tuple[list[int], list[int], bool]:
    """Who a message pings: Discord parses content, then `allowed_mentions` filters (default: all)."""
    users = [int(u) for u in _USER_MENTION.findall(content) if int(u) in state.users]
    roles = [int(r) for r in _ROLE_MENTION.findall(content)]
    everyone = "@everyone" in content or "@here" in content
    if c.guild_id:     # a role pings if it is mentionable or the bot may mention everyone
        guild = state.guilds[c.guild_id]
        may_all = bool(guild.permissions(state.bot.id) & MENTION_EVERYONE)
        roles = [r for r in roles if r in guild.roles and (guild.roles[r].mentionable or may_all)]
        everyone = everyone and may_all
    else:
        roles = []
    if allowed is None:
        return users, roles, everyone
    parse = allowed.get("parse") or []
    ok_users = {int(u) for u in allowed.get("users") or []}
    ok_roles = {int(r) for r in allowed.get("roles") or []}
    users = [u for u in users if "users" in parse or u in ok_users]
    roles = [r for r in roles if "roles" in parse or r in ok_roles]
    return users, roles, everyone and "everyone" in parse


def message(state: State, base_url: str, m: Message) -> dict[str, Any]:
    c = state.channels[m.channel_id]
    pinged, roles, everyone = mentions(state, c, m.content, m.allowed_mentions)
    out: dict[str, Any] = {
        "id": str(m.id), "channel_id": str(m.channel_id), "type": m.type, "content": m.content,
        "author": user(state.users[m.author_id]), "mentions": [user(state.users[u]) for u in pinged],
        "mention_roles": [str(r) for r in roles], "mention_everyone": everyone,
        "attachments": [attachment(base_url, m.channel_id, a) for a in m.attachments],
        "embeds": m.embeds, "components": m.components, "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp, "flags": m.flags, "pinned": False, "tts": False,
    }
    if m.nonce is not None:
        out["nonce"] = m.nonce
    if m.webhook_id is not None:
        out["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        out["application_id"] = str(m.application_id)
    if m.message_reference:
        out["message_reference"] = m.message_reference
    if m.interaction_id is not None and m.interaction_id in state.interactions:
        out["interaction_metadata"] = interaction_metadata(state, m.interaction_id)
    return out


def interaction_metadata(state: State, interaction_id: int) -> dict[str, Any]:
    i = state.interactions[interaction_id]
    owners = {"0": str(i.guild_id)} if i.guild_id else {"1": str(i.user_id)}
    out: dict[str, Any] = {"id": str(i.id), "type": i.type, "user": user(state.users[i.user_id]),
                           "authorizing_integration_owners": owners}
    if i.type == 3:
        out["interacted_message_id"] = str(i.message_id)
    if i.type == 5:
        out["triggering_interaction_metadata"] = {"id": str(i.id), "type": 2, "authorizing_integration_owners": owners}
    return out


def command(c: Command) -> dict[str, Any]:
    out = {**c.extra, "id": str(c.id), "application_id": str(c.application_id), "version": str(c.version),
           "default_member_permissions": c.default_member_permissions, "type": c.type, "name": c.name,
           "description": c.description, "options": c.options, "nsfw": c.nsfw}
    if c.guild_id is not None:
        out["guild_id"] = str(c.guild_id)
    if c.contexts is not None:
        out["contexts"] = c.contexts
    if c.integration_types is not None:
        out["integration_types"] = c.integration_types
    return out


def gateway_guild(state: State, g: Guild, *, with_members: bool) -> dict[str, Any]:
    """GUILD_CREATE: the guild with its roles, channels, active threads and (some) members."""
    members = [m for m in g.members.values() if with_members or m.user_id == state.bot.id]
    channels = [state.channels[c] for c in g.channel_ids]
    return {
        "id": str(g.id), "name": g.name, "icon": None, "owner_id": str(g.owner_id), "unavailable": False,
        "joined_at": g.joined_at, "large": len(g.members) > 250, "member_count": len(g.members),
        "roles": [role(r) for r in g.roles.values()], "emojis": [], "stickers": [], "features": [],
        "channels": [channel(state, c) for c in channels if not c.is_thread],
        "threads": [channel(state, c) for c in channels if c.is_thread and not c.archived],
        "members": [member(state, m) for m in members], "voice_states": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
        "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US",
        "system_channel_flags": 0, "afk_timeout": 300, "premium_progress_bar_enabled": False,
    }


def normalise_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Discord numbers every component (`id`) and fills select defaults in what it returns."""
    out = copy.deepcopy(components)
    counter = iter(range(1, 10_000))

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            item.setdefault("id", next(counter))
            if item.get("type") in (3, 5, 6, 7, 8):
                item.setdefault("min_values", 1)
                item.setdefault("max_values", 1)
            if item.get("type") == 3:
                for option in item.get("options", []):
                    option.setdefault("description", None)
            walk(item.get("components") or [])
            if isinstance(item.get("component"), dict):
                walk([item["component"]])

    walk(out)
    return out


def normalise_embeds(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(embeds)
    for embed in out:
        embed.setdefault("type", "rich")
        for f in embed.get("fields") or []:
            f.setdefault("inline", False)
    return out
