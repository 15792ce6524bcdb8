"""Modals for what a command still needs: the second step of /offer create (price and hours), or
the hours when someone presses Rent on a listing. The modal's custom_id carries the call so far
(the core's action payload), so a submit after a restart still finds it; the answers go to the
core with the known arguments, which validates them like any typed call."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import discord

from bot.chat import Action
from bot.commands import Param, PType, spec
from bot.commands.codec import DISCORD_CUSTOM_ID

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend

PREFIX = "m1|"
INPUTS_MAX, LABEL_MAX, PLACEHOLDER_MAX, TITLE_MAX = 5, 45, 100, 45
ASKABLE = {PType.INT, PType.TEXT, PType.DECIMAL}
TITLES = {"offer create": "Price and rental hours", "rent": "How many hours?"}


def askable(missing: Iterable[Param]) -> bool:
    missing = list(missing)
    return 0 < len(missing) <= INPUTS_MAX and all(p.type in ASKABLE for p in missing)


def _max_length(p: Param) -> int:
    if p.type is PType.INT and p.max is not None:
        return len(str(p.max))
    return max(1, min(p.max_length, 4000))


async def ask(frontend: DiscordFrontend, interaction: discord.Interaction, path: str,
              known: dict[str, Any], missing: list[Param]) -> None:
    payload = await frontend.router.codec.encode(Action("form", path, known), DISCORD_CUSTOM_ID - len(PREFIX))
    modal = discord.ui.Modal(title=TITLES.get(path, f"/{path}")[:TITLE_MAX], custom_id=PREFIX + payload,
                             timeout=600)
    for p in missing[:INPUTS_MAX]:
        label = p.what[:1].upper() + p.what[1:]
        modal.add_item(discord.ui.TextInput(label=label[:LABEL_MAX], custom_id=p.name, required=p.required,
                                            placeholder=p.description[:PLACEHOLDER_MAX], max_length=_max_length(p)))
    await interaction.response.send_modal(modal)


def answers(interaction: discord.Interaction) -> dict[str, str]:
    """The text inputs of a submitted modal (action rows or labels, as Discord sends either)."""
    out: dict[str, str] = {}
    for item in (interaction.data or {}).get("components", []):      # type: ignore[union-attr]
        inner = item.get("components") if item.get("type") == 1 else [item.get("component") or {}]
        for field in inner or []:
            if field.get("custom_id") and field.get("value") not in (None, ""):
                out[field["custom_id"]] = field["value"]
    return out


async def submitted(frontend: DiscordFrontend, interaction: discord.Interaction) -> None:
    custom_id = str((interaction.data or {}).get("custom_id", ""))       # type: ignore[union-attr]
    from bot.domain.errors import UserError
    from handlers.discord.invocation import invocation_of

    inv = invocation_of(interaction)
    try:
        path, known = await frontend.router.codec.decode(custom_id[len(PREFIX):])
    except UserError as exc:
        from bot.commands.reply import error_reply

        await frontend.responder.show(interaction, error_reply(exc.message))
        return
    cmd = spec.get(path)
    args = {**known, **answers(interaction)}
    await frontend.call(interaction, inv, path, args, private=bool(cmd and cmd.private))
