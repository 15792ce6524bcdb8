"""Interaction callbacks and the interaction webhook (follow-ups, the original response).

Discord's rules enforced here: one callback per interaction, within 3 seconds of its creation
(later: 10062 Unknown interaction); only the callback types valid for the interaction's type;
with `?with_response=1` the answer is 200 with `interaction.response_message_id` (discord.py
stores a view under that id), without it 204. The token then lasts 15 minutes for follow-ups
and edits (later: 50027 Invalid Webhook Token); a deferred response's first follow-up fills the
"is thinking..." message instead of adding one.
"""
from __future__ import annotations

from typing import Any

from devnet.discord import limits, messages, payloads
from devnet.discord.errors import (ALREADY_ACKNOWLEDGED, INVALID_WEBHOOK_TOKEN, UNKNOWN_INTERACTION,
                                   UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK, DiscordError, FieldErrors)
from devnet.discord.model import Interaction, Message
from devnet.discord.router import Call, Reply, Router

router = Router()
DEADLINE_S = 3.0
TOKEN_LIFE_S = 15 * 60.0
PONG, MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = 1, 4, 5, 6, 7, 8, 9
COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
ALLOWED = {
    COMMAND: {MESSAGE, DEFERRED, MODAL},
    COMPONENT: {MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE},
}


@router.add("POST", "/interactions/{interaction_id}/{interaction_token}/callback", auth=False)
async def callback(call: Call) -> Reply:
    emu, state = call.emu, call.emu.state
    interaction = state.interactions.get(call.int_param("interaction_id"))
    if interaction is None or interaction.token != call.params["interaction_token"]:
        raise DiscordError(404, UNKNOWN_INTERACTION)
    if interaction.answered:
        raise DiscordError(400, ALREADY_ACKNOWLEDGED)
    if state.now() - interaction.created_at > DEADLINE_S:
        emu.violation("deadline", call.method, call.path,
                      f"interaction {interaction.id} answered {state.now() - interaction.created_at:.2f} s late")
        raise DiscordError(404, UNKNOWN_INTERACTION)
    body = call.body or {}
    kind = int(body.get("type", 0))
    if kind not in ALLOWED.get(interaction.type, set()) or \
            (kind in (UPDATE, DEFERRED_UPDATE) and interaction.message_id is None):
        errors = FieldErrors()
        errors.add(("type",), "INTERACTION_CALLBACK_TYPE_INVALID",
                   f"callback type {kind} is not valid for interaction type {interaction.type}")
        errors.raise_if_any()
    data = body.get("data") or {}
    message = _respond(call, interaction, kind, data)
    interaction.response_type = kind
    interaction.answered_at = state.now()
    emu.interaction_answered(interaction)
    if call.query.get("with_response") not in ("1", "true", "True"):
        return Reply(204)
    info: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type,
                            "channel_id": str(interaction.channel_id)}
    if interaction.guild_id:
        info["guild_id"] = str(interaction.guild_id)
    out: dict[str, Any] = {"interaction": info}
    if message is not None:
        info.update(response_message_id=str(message.id), response_message_loading=kind == DEFERRED,
                    response_message_ephemeral=message.ephemeral)
        if kind in (MESSAGE, UPDATE):
            out["resource"] = {"type": kind, "message": payloads.message(state, emu.base_url, message)}
    return Reply(200, out)


def _respond(call: Call, interaction: Interaction, kind: int, data: dict[str, Any]) -> Message | None:
    emu, state = call.emu, call.emu.state
    channel = state.channel(interaction.channel_id)
    ephemeral = bool(int(data.get("flags") or 0) & limits.EPHEMERAL)
    visible_to = interaction.user_id if ephemeral else None
    if kind == MESSAGE:
        message = messages.create(emu, channel, data, call.files, interaction_id=interaction.id,
                                  visible_to=visible_to, kind=20 if interaction.type == COMMAND else 0)
    elif kind == DEFERRED:
        message = Message(id=state.ids.next(), channel_id=channel.id, author_id=state.bot.id,
                          flags=messages.LOADING | (limits.EPHEMERAL if ephemeral else 0),
                          type=20 if interaction.type == COMMAND else 0, timestamp=state.iso_now(),
                          interaction_id=interaction.id, visible_to=visible_to,
                          webhook_id=state.application_id, application_id=state.application_id)
        channel.messages[message.id] = message
        emu.message_posted(message)
    elif kind in (UPDATE, DEFERRED_UPDATE):
        message = state.message(channel, interaction.message_id)       # type: ignore[arg-type]
        if kind == UPDATE:
            messages.edit(emu, message, data, call.files, interaction=True)
    elif kind == AUTOCOMPLETE_RESULT:
        limits.check_choices({"choices": data.get("choices")})
        interaction.choices = data.get("choices") or []
        return None
    elif kind == MODAL:
        limits.check_modal(data)
        interaction.modal = data
        return None
    else:
        return None
    interaction.ephemeral = message.ephemeral
    interaction.response_message_id = message.id
    return message


def _interaction_for_token(call: Call) -> Interaction:
    state = call.emu.state
    if call.int_param("webhook_id") != state.application_id:
        raise DiscordError(404, UNKNOWN_WEBHOOK)
    token = call.params["webhook_token"]
    interaction = next((i for i in state.interactions.values() if i.token == token), None)
    if interaction is None or not interaction.answered:
        raise DiscordError(404, UNKNOWN_WEBHOOK)
    if state.now() - interaction.created_at > TOKEN_LIFE_S:
        raise DiscordError(401, INVALID_WEBHOOK_TOKEN)
    return interaction


def _owned(call: Call, interaction: Interaction, message_id: str) -> Message:
    state = call.emu.state
    channel = state.channel(interaction.channel_id)
    if message_id == "@original":
        if interaction.response_message_id is None:
            raise DiscordError(404, UNKNOWN_MESSAGE)
        return state.message(channel, interaction.response_message_id)
    message = state.message(channel, message_id)
    if message.interaction_id != interaction.id:
        raise DiscordError(404, UNKNOWN_MESSAGE)
    return message


@router.add("POST", "/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def followup(call: Call) -> Reply:
    emu = call.emu
    interaction = _interaction_for_token(call)
    body = call.body or {}
    channel = emu.state.channel(interaction.channel_id)
    original = (emu.state.channels[channel.id].messages.get(interaction.response_message_id)
                if interaction.response_message_id else None)
    if interaction.response_type == DEFERRED and original is not None and original.flags & messages.LOADING:
        message = messages.edit(emu, original, body, call.files, interaction=True)
    else:
        ephemeral = bool(int(body.get("flags") or 0) & limits.EPHEMERAL)
        message = messages.create(emu, channel, body, call.files, interaction_id=interaction.id,
                                  visible_to=interaction.user_id if ephemeral else None)
    interaction.followup_ids.append(message.id)
    return Reply(200, payloads.message(emu.state, emu.base_url, message))


@router.add("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def get_webhook_message(call: Call) -> Reply:
    message = _owned(call, _interaction_for_token(call), call.params["message_id"])
    return Reply(200, payloads.message(call.emu.state, call.emu.base_url, message))


@router.add("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def edit_webhook_message(call: Call) -> Reply:
    message = _owned(call, _interaction_for_token(call), call.params["message_id"])
    messages.edit(call.emu, message, call.body or {}, call.files, interaction=True)
    return Reply(200, payloads.message(call.emu.state, call.emu.base_url, message))


@router.add("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False)
async def delete_webhook_message(call: Call) -> Reply:
    message = _owned(call, _interaction_for_token(call), call.params["message_id"])
    message.deleted = True
    call.emu.message_deleted(message)
    return Reply(204)
