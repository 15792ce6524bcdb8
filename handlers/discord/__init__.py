"""The Discord front-end: slash commands, buttons, modals, DMs and support threads over the chat
core (bot.chat, bot.commands), on discord.py 2.7. Holds no business rules.

Modules, one concern each: `client` (the discord.py client, settings, lifecycle and events),
`commands` (slash commands from the core's table), `respond` (the 3-second deadline, ephemeral
and DM replies), `render` + `escape` (Discord markdown, embeds, files), `buttons` (actions as
DynamicItem buttons), `modals` (missing parameters), `resolve` (/resolve with confirmation),
`invocation` (where an interaction came from).

`gpuflow-bot run` calls `run_frontend` when `[discord] enabled` and GPUFLOW_DISCORD_TOKEN are set.
"""
from __future__ import annotations

import asyncio
from typing import Any


async def run_frontend(runtime: Any, stop: asyncio.Event) -> None:
    from handlers.discord.client import DiscordFrontend

    settings = runtime.app.settings
    token = settings.discord_token.get_secret_value() if settings.discord_token else None
    if not token:
        raise RuntimeError("the Discord front-end needs GPUFLOW_DISCORD_TOKEN")
    await DiscordFrontend(runtime, settings.discord, token).run(stop)
