"""A loopback Discord for tests and demos: REST + gateway that the real discord.py client logs
in to, with every request and answer validated against Discord's OpenAPI description and
Discord's own limits enforced (see `emulator`). Point discord.py at it with `point_discord_py`.
"""
from __future__ import annotations

from devnet.discord.actions import ClientRefused, InteractionHandle
from devnet.discord.emulator import DiscordEmulator, Violation
from devnet.discord.errors import DiscordError

__all__ = ["ClientRefused", "DiscordEmulator", "DiscordError", "InteractionHandle", "Violation",
           "point_discord_py"]


def point_discord_py(emu: DiscordEmulator) -> tuple[str, object]:
    """Aim discord.py's REST base and default gateway at the emulator; returns the old values
    (restore with `restore_discord_py`). Both are class attributes, so this is process-wide."""
    import discord.gateway
    import discord.http
    import yarl

    old = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = emu.rest_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    return old


def restore_discord_py(old: tuple[str, object]) -> None:
    import discord.gateway
    import discord.http

    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old   # type: ignore[assignment]
