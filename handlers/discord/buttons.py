"""Buttons for the core's actions. A command button's custom_id is the core's action payload
(`a1:rent:offer=12`, or `a1~<key>` for a long one the core keeps), matched by a DynamicItem, so
buttons on old messages keep working after a restart; a link action is a link button."""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.chat import Action, ActionStyle
from bot.commands.codec import DISCORD_CUSTOM_ID

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend

log = logging.getLogger(__name__)
LABEL_MAX, PER_ROW, ROWS = 80, 5, 5
STYLES = {ActionStyle.PRIMARY: discord.ButtonStyle.primary, ActionStyle.SECONDARY: discord.ButtonStyle.secondary,
          ActionStyle.SUCCESS: discord.ButtonStyle.success, ActionStyle.DANGER: discord.ButtonStyle.danger}
DISMISS_ID = "x1:dismiss"


def frontend_of(interaction: discord.Interaction) -> DiscordFrontend:
    return interaction.client.gpuflow       # type: ignore[attr-defined]


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"a1[:~].+"):
    """Runs the action its custom_id names, as the person who pressed it."""

    def __init__(self, payload: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 row: int | None = None) -> None:
        super().__init__(discord.ui.Button(label=label[:LABEL_MAX], style=style, custom_id=payload, row=row))
        self.payload = payload

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> ActionButton:
        return cls(item.custom_id or match.string, item.label or "…", item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        await frontend_of(interaction).on_action(interaction, self.payload)


class DismissButton(discord.ui.DynamicItem[discord.ui.Button], template=re.escape(DISMISS_ID)):
    """"Cancel" on a confirmation: nothing runs, the prompt says so."""

    def __init__(self) -> None:
        super().__init__(discord.ui.Button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=DISMISS_ID))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> DismissButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content="Cancelled: nothing was changed.", embed=None, view=None)


async def view_for(frontend: DiscordFrontend, actions: list[Action], *, extra: list[Any] = ()) -> discord.ui.View | None:
    """Up to 25 buttons, 5 a row (Discord's limits); more actions are left out (and logged)."""
    if not actions and not extra:
        return None
    view = discord.ui.View(timeout=None)
    items: list[Any] = []
    for action in actions:
        label = action.label[:LABEL_MAX]
        if action.url is not None:
            items.append(discord.ui.Button(label=label, url=action.url))
        else:
            payload = await frontend.router.codec.encode(action, DISCORD_CUSTOM_ID)
            items.append(ActionButton(payload, label, STYLES.get(action.style, discord.ButtonStyle.secondary)))
    items.extend(extra)
    if len(items) > PER_ROW * ROWS:
        log.warning("a reply had %d actions; Discord shows %d", len(items), PER_ROW * ROWS)
    for i, item in enumerate(items[:PER_ROW * ROWS]):
        item.row = i // PER_ROW
        view.add_item(item)
    return view
