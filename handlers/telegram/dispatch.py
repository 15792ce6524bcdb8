"""Text commands: one core call each, with Telegram's places in mind.

- `/start` greets and explains; `/start rent_12` (the deep link from a group) continues renting.
- `/rent` in a group moves to the private chat (payment and login are personal): the bot answers
  with a deep link (`t.me/<bot>?start=rent_<offer>`) and continues there.
- A command missing a required input, in the private chat, asks for it (asking.py).
- `/resolve` asks for a confirmation first (disputes.py).
- Everything else goes to the core's text router unchanged.
"""
from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes, ConversationHandler

from bot.chat import Message, code, plain
from bot.commands.binding import parse_text, resolve_path, split_command
from bot.domain.errors import UserError

from . import asking, disputes, followups, keyboards, render
from .front import Front, place_of
from .replies import Place, show

END = ConversationHandler.END
# commands asked for step by step when inputs are missing (the others answer with their usage)
ASKED = ("rent", "offer create", "extend", "host add", "host verify", "sshkey", "dispute", "offer show")


async def on_command(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> int:
    front: Front = ctx.bot_data["front"]
    message = update.effective_message
    place = place_of(update)
    inv = await front.invocation(update)
    if message is None or place is None or inv is None or not message.text:
        return END
    if name_of(message.text) != "cancel":         # any other command ends an open question
        ctx.user_data.pop(asking.PENDING, None)
    text = message.text
    try:
        name, rest = split_command(text)
    except UserError:
        name, rest = "", ""
    if name == "start":
        return await on_start(front, update, ctx, place, rest.strip())
    if name == "cancel" and not rest.strip():
        return await asking.cancel(update, ctx)
    try:
        cmd, words = resolve_path(name, rest)
        raw = parse_text(cmd, words)
    except UserError:
        cmd, raw = None, {}
    if cmd is not None and cmd.path == "rent" and not place.is_private:
        await rent_in_private(front, place, raw.get("offer"))
        return END
    if cmd is not None and place.is_private and cmd.path in ASKED and asking.missing_params(cmd, raw):
        return await asking.start(front, update, ctx, cmd.path, {k: str(v) for k, v in raw.items()})
    if cmd is not None and cmd.path == "resolve":
        await disputes.confirm_resolve(front, update, place, inv, raw)
        return END
    reply = await front.router.handle_text(inv, text)
    sent = await show(front, place, reply.message, private=reply.private, sensitive=reply.sensitive)
    await followups.after_reply(front, place, reply, sent)
    return END


def name_of(text: str) -> str:
    try:
        return split_command(text)[0]
    except UserError:
        return ""


async def on_start(front: Front, update: Update, ctx: ContextTypes.DEFAULT_TYPE, place: Place, payload: str) -> int:
    offer = keyboards.offer_from_payload(payload)
    if offer is not None and place.is_private:
        return await asking.start(front, update, ctx, "rent", {"offer": str(offer)})
    inv = await front.invocation(update)
    intro = Message(title="GPU rentals, paid from your own wallet")
    intro.add("Providers list their machines here; you rent one for some hours and pay into an escrow "
              "contract from your own wallet. When the deposit is confirmed I set up SSH access and send "
              "you the login privately. At the end access goes and the contract pays out pro rata.")
    intro.add(plain("Start with "), code("/offers"), plain(" to browse, "), code("/wallet link"),
              plain(" to link the wallet that pays, and "), code("/help"), plain(" for every command."))
    await show(front, place, intro)
    if payload and offer is None:
        await front.sender.bot.send_message(place.chat_id, "That link did not carry anything I know; "
                                            "use /offers to find the offer again.")
    if place.is_private:
        reply = await front.router.handle_text(inv, "/help")
        await show(front, place, reply.message)
    return END


async def rent_in_private(front: Front, place: Place, offer: object) -> None:
    """Renting continues in the private chat: a deep link there, never a secret here."""
    try:
        link = keyboards.rent_link(front.username, int(str(offer).lstrip("#")))
        label = f"Rent offer #{int(str(offer).lstrip('#'))} in our private chat"
    except (TypeError, ValueError):
        link, label = f"https://t.me/{front.username}", "Open our private chat"
    await front.sender.bot.send_message(
        place.chat_id, f"{render.escape(place.user_name)}: renting happens in our private chat (the payment and "
        "your login are yours alone). Continue there:", message_thread_id=place.thread_id,
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]]))


async def on_private_text(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in the private chat outside any question: say how to talk to the bot."""
    await update.effective_message.reply_text("I answer commands: send /help to see them, or /offers to browse.")
