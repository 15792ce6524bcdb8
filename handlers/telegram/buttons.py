"""Inline buttons: each press is answered exactly once, then runs the core's action.

- A page button (Previous/Next of /offers) edits the message it sits on.
- Rent pressed in a group or channel answers the press with the deep link into the private chat
  (Telegram opens it), where the hours are asked.
- An action missing inputs, in the private chat, asks for them (asking.py).
- The dispute confirmation's own buttons are handled in disputes.py.
"""
from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes, ConversationHandler

from bot.commands import spec
from bot.domain.errors import UserError

from . import asking, disputes, followups, keyboards
from .front import Front, place_of
from .replies import show

log = logging.getLogger(__name__)
END = ConversationHandler.END
EDITS_IN_PLACE = ("offers.page", "dispute.resolved")   # these replace the message pressed


async def on_button(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> int:
    front: Front = ctx.bot_data["front"]
    query = update.callback_query
    place = place_of(update)
    inv = await front.invocation(update)
    data = query.data or ""
    if place is None or inv is None:
        await query.answer()
        return END
    if data.startswith(disputes.PREFIX):
        return await disputes.on_button(front, update, place, inv)
    if data.startswith(asking.ANSWER):
        await query.answer("That question has expired; run the command again.")
        return END
    try:
        path, args = await front.router.codec.decode(data)
    except UserError as exc:
        await query.answer(exc.message[:200], show_alert=True)
        return END
    cmd = spec.get(path)
    if path == "rent" and not place.is_private:
        offer = args.get("offer", "")
        await query.answer(url=keyboards.rent_link(front.username, int(offer)) if str(offer).isdigit()
                           else f"https://t.me/{front.username}")
        return END
    if cmd is not None and place.is_private and asking.missing_params(cmd, args):
        await query.answer()
        return await asking.start(front, update, ctx, path, {k: str(v) for k, v in args.items()})
    await query.answer()
    reply = await front.router.invoke_action(inv, data)
    message = query.message
    if reply.ok and reply.kind in EDITS_IN_PLACE and message is not None and not reply.message.attachments:
        await front.sender.edit(message.chat.id, message.message_id, reply.message)
        await followups.after_reply(front, place, reply, None)
        return END
    sent = await show(front, place, reply.message, private=reply.private, sensitive=reply.sensitive)
    await followups.after_reply(front, place, reply, sent)
    return END
