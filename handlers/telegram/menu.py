"""The command menus Telegram shows, per scope, from the core's command table.

Private chats list everyone's and providers' commands; groups list what makes sense in front of
others (browsing, renting moves to the private chat); the support group's administrators also
see the support commands, and the admins' ones. Names are the table's; descriptions its summaries,
cut to Telegram's 256 characters.
"""
from __future__ import annotations

from telegram import (Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats,
                      BotCommandScopeChatAdministrators)

from bot.commands import spec
from bot.commands.spec import Role, TopLevel

GROUP_COMMANDS = ("offers", "offer", "rent", "help")      # the rest is personal: asked in the private chat
START = BotCommand("start", "what this bot does")


def _command(entry: TopLevel) -> BotCommand:
    return BotCommand(entry.name, entry.summary[:256])


def menus(support_chat_id: int | None) -> list[tuple[list[BotCommand], object]]:
    entries = spec.top_level()
    private = [START] + [_command(e) for e in entries if e.role in (Role.EVERYONE, Role.PROVIDER)]
    group = [_command(e) for e in entries if e.name in GROUP_COMMANDS]
    out: list[tuple[list[BotCommand], object]] = [(private, BotCommandScopeAllPrivateChats()),
                                                  (group, BotCommandScopeAllGroupChats())]
    if support_chat_id is not None:
        staff = group + [_command(e) for e in entries if e.role in (Role.SUPPORT, Role.ADMIN)]
        out.append((staff, BotCommandScopeChatAdministrators(support_chat_id)))
    return out


async def register(bot: Bot, support_chat_id: int | None) -> None:
    for commands, scope in menus(support_chat_id):
        await bot.set_my_commands(commands, scope=scope)
