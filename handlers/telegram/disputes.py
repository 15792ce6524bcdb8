"""/resolve inside a dispute's forum topic: shown back for a confirmation button first.

Deciding where disputed money goes is not undone, so the typed command only proposes: the bot
repeats the split with Confirm and Cancel buttons, and Confirm runs the core's `resolve` as the
person who pressed it (the core checks they are support staff and fills the rental from the
topic). The outcome replaces the proposal, and the topic is closed (followups.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ConversationHandler

from bot.chat import Action, ActionStyle, Invocation, Message, plain, user
from bot.commands import spec
from bot.commands.binding import coerce
from bot.domain.errors import UserError

from . import render
from .replies import Place, show

if TYPE_CHECKING:
    from .front import Front

PREFIX = "tg:"
DISMISS = PREFIX + "dismiss"


async def confirm_resolve(front: "Front", update: Update, place: Place, inv: Invocation,
                          raw: dict[str, object]) -> None:
    actor = await front.services.places.actor(inv)
    cmd = spec.get("resolve")
    assert cmd is not None
    if not actor.is_staff:                      # the core refuses it before doing anything
        reply = await front.router.handle_text(inv, update.effective_message.text)
        await show(front, place, reply.message)
        return
    try:
        for name, value in raw.items():
            param = cmd.param(name)
            if param is not None:
                coerce(param, value)
        percent = int(str(raw["renter_percent"]).rstrip("%"))
    except (UserError, KeyError, ValueError) as exc:
        problem = exc.message if isinstance(exc, UserError) else f"usage: {cmd.usage}, e.g. {cmd.example}"
        await show(front, place, Message().add(plain("Sorry: "), user(problem)))
        return
    which = f"rental #{str(raw['rental']).lstrip('#')}" if "rental" in raw else "the dispute of this topic"
    proposal = Message().add(plain(f"Resolve {which}: {percent}% to the renter, {100 - percent}% to the provider?"))
    if raw.get("note"):
        proposal.add(plain("Note: "), user(str(raw["note"])))
    proposal.add(plain("This cannot be undone."))
    confirm = await front.router.codec.encode(Action("Confirm", command="resolve",
                                                     args={k: str(v) for k, v in raw.items()},
                                                     style=ActionStyle.DANGER), limit=64)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data=confirm, style="danger"),
                                    InlineKeyboardButton("Cancel", callback_data=DISMISS)]])
    await front.bot.send_message(place.chat_id, render.chunks(proposal)[0], parse_mode=ParseMode.HTML,
                                 reply_markup=markup, message_thread_id=place.thread_id)


async def on_button(front: "Front", update: Update, place: Place, inv: Invocation) -> int:
    query = update.callback_query
    if query.data == DISMISS:
        actor = await front.services.places.actor(inv)
        if not actor.is_staff:
            await query.answer("Only support staff can do that.", show_alert=True)
            return ConversationHandler.END
        await query.answer()
        if query.message is not None:
            await front.bot.edit_message_text("Not resolved; nothing changed.", query.message.chat.id,
                                              query.message.message_id)
        return ConversationHandler.END
    await query.answer()
    return ConversationHandler.END
