"""Plain-text commands: parsing, dispatch and rendering shared by every front-end."""
from bot.commands.router import CommandRouter, Reply

__all__ = ["CommandRouter", "Reply"]
