"""Asking for what a command still needs, one question at a time, in the private chat.

`/rent 12` (or a Rent button, or the deep link from a group) lacks the hours: the bot asks, with
buttons for the usual answers, and runs the command once everything is there. Each answer is
checked with the core's own validation for that parameter (`binding.coerce`) as it comes, so a
wrong one is asked again with the core's words. `/cancel` ends it, and so does silence
(the ConversationHandler's timeout).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes, ConversationHandler

from bot.chat import Message, code, plain
from bot.commands import spec
from bot.commands.binding import coerce, command_text
from bot.commands.spec import Command, Param, PType
from bot.domain.errors import UserError

from . import followups, render
from .front import place_of
from .replies import show

if TYPE_CHECKING:
    from .front import Front

ASKING = 1
ANSWER = "ask:"
PENDING = "pending"
# usual answers offered as buttons (interface choices, not rules: the core still checks each value)
PRESETS: dict[str, tuple[int, ...]] = {"hours": (1, 2, 4, 8, 24), "count": (1, 2, 4, 8),
                                       "vram": (8, 16, 24, 48, 80), "min_hours": (1, 2, 4),
                                       "max_hours": (24, 72, 168)}
MAX_SUGGESTIONS = 6


@dataclass
class Pending:
    path: str
    args: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def command(self) -> Command:
        cmd = spec.get(self.path)
        assert cmd is not None
        return cmd


def missing_params(cmd: Command, raw: dict[str, object]) -> list[Param]:
    """Required parameters the call does not give (implied ones come from the place of the call)."""
    given = set(raw) | {name for p in cmd.params if p.name in raw for name in p.expands_to}
    return [p for p in cmd.params if p.required and p.text and p.typed and not p.implied and p.name not in given]


async def start(front: "Front", update: Update, ctx: ContextTypes.DEFAULT_TYPE, path: str,
                args: dict[str, str]) -> int:
    cmd = spec.get(path)
    assert cmd is not None
    pending = Pending(path, dict(args), [p.name for p in missing_params(cmd, args)])
    ctx.user_data[PENDING] = pending
    return await ask_next(front, update, ctx, pending)


async def ask_next(front: "Front", update: Update, ctx: ContextTypes.DEFAULT_TYPE, pending: Pending,
                   problem: str | None = None) -> int:
    place = place_of(update)
    assert place is not None
    if not pending.missing:
        ctx.user_data.pop(PENDING, None)
        inv = await front.invocation(update)
        reply = await front.router.invoke(inv, pending.path, pending.args)
        sent = await show(front, place, reply.message, private=reply.private, sensitive=reply.sensitive)
        await followups.after_reply(front, place, reply, sent)
        return ConversationHandler.END
    param = pending.command.param(pending.missing[0])
    assert param is not None
    msg = Message()
    if problem:
        msg.add(plain("That did not work: "), plain(problem))
    msg.add(plain(f"{command_text(pending.path, pending.args)}: which {param.what}? "), plain(param.description))
    msg.add(plain("Send it, or "), code("/cancel"), plain("."))
    buttons = await _choices(front, update, pending.path, param)
    markup = InlineKeyboardMarkup([buttons[i:i + 4] for i in range(0, len(buttons), 4)]) if buttons else None
    parts = render.chunks(msg)
    await front.sender.bot.send_message(place.chat_id, parts[0], reply_markup=markup)
    return ASKING


async def _choices(front: "Front", update: Update, path: str, param: Param) -> list[InlineKeyboardButton]:
    values: list[str] = []
    if param.type is PType.CHOICE:
        values = list(param.choices)
    elif param.name in PRESETS:
        lo, hi = param.min or 1, param.max or 2**31
        values = [str(v) for v in PRESETS[param.name] if lo <= v <= hi]
    elif param.autocomplete is not None:
        inv = await front.invocation(update)
        values = [s.value for s in await front.router.suggest(inv, path, param.name)][:MAX_SUGGESTIONS]
    return [InlineKeyboardButton(v[:32], callback_data=ANSWER + v) for v in values
            if len((ANSWER + v).encode()) <= 64]


async def answer(front: "Front", update: Update, ctx: ContextTypes.DEFAULT_TYPE, value: str) -> int:
    pending: Pending | None = ctx.user_data.get(PENDING)
    if pending is None or not pending.missing:
        return ConversationHandler.END
    param = pending.command.param(pending.missing[0])
    assert param is not None
    try:
        coerce(param, value.strip())
    except UserError as exc:
        return await ask_next(front, update, ctx, pending, problem=exc.message)
    pending.args[param.name] = value.strip()
    pending.missing.pop(0)
    return await ask_next(front, update, ctx, pending)


async def on_text(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> int:
    return await answer(ctx.bot_data["front"], update, ctx, update.effective_message.text or "")


async def on_button(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    await query.answer()
    return await answer(ctx.bot_data["front"], update, ctx, (query.data or "")[len(ANSWER):])


async def cancel(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> int:
    had = ctx.user_data.pop(PENDING, None)
    text = "Cancelled; nothing was done." if had else "There was nothing to cancel."
    await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def timed_out(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    pending: Pending | None = ctx.user_data.pop(PENDING, None)
    chat = update.effective_chat
    if pending is not None and chat is not None:
        await ctx.bot.send_message(chat.id, "No answer for a while, so I stopped asking; nothing was done. "
                                   f"Start again with {render.escape(command_text(pending.path, pending.args))}.")
