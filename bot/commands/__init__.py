"""The command surface every front-end builds from: the table (spec), the typed entry point and
text parsing on it (router), structured replies (reply), button payloads (codec).

Front-end authors: read bot/chat/README.md.
"""
from bot.commands.reply import Reply
from bot.commands.router import CommandRouter
from bot.commands.spec import TABLE, Autocomplete, Command, Param, PType, Role, load, top_level

load()      # the command modules register themselves in TABLE

COMMANDS = TABLE

__all__ = ["COMMANDS", "Autocomplete", "Command", "CommandRouter", "Param", "PType", "Reply", "Role", "TABLE",
           "top_level"]
