"""The python-telegram-bot Application of the front-end: handlers, flood limiter, polling or webhook.

One ConversationHandler holds every command and button (entry points), so a command missing an
input can ask for it and the answers land in the same place; `/cancel` and the timeout end a
question. Updates arrive by long polling unless `telegram.webhook_url` is set: then PTB's own
webhook server listens on `webhook_listen:webhook_port` and checks the secret token
(GPUFLOW_TELEGRAM_WEBHOOK_SECRET) on every update. `telegram.base_url` points at a self-hosted
Bot API server.
"""
from __future__ import annotations

import logging
import warnings
from urllib.parse import urlsplit

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          ConversationHandler, Defaults, MessageHandler, TypeHandler, filters)
from telegram.warnings import PTBUserWarning

from . import asking, buttons, dispatch, menu
from .front import Front
from .ratelimit import TelegramFloodLimiter
from .updates import PerChatInOrder

log = logging.getLogger(__name__)


def build_application(settings, token: str, limiter: TelegramFloodLimiter | None = None) -> Application:
    t = settings.telegram
    defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
    app = (ApplicationBuilder().token(token).base_url(t.base_url).base_file_url(t.base_file_url)
           .defaults(defaults).rate_limiter(limiter or TelegramFloodLimiter()).concurrent_updates(PerChatInOrder())
           .build())
    command = MessageHandler(filters.COMMAND, dispatch.on_command)
    button = CallbackQueryHandler(buttons.on_button)
    with warnings.catch_warnings():      # per_message=False is meant: one question at a time per person
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[command, button],
            states={
                asking.ASKING: [CallbackQueryHandler(asking.on_button, pattern=f"^{asking.ANSWER}"),
                                MessageHandler(filters.TEXT & ~filters.COMMAND, asking.on_text)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, asking.timed_out)],
            },
            fallbacks=[CommandHandler("cancel", asking.cancel, filters=_no_args), command, button],
            conversation_timeout=t.conversation_timeout_s, name="questions")
    app.add_handler(conversation)
    app.add_handler(MessageHandler(filters.TEXT & filters.ChatType.PRIVATE & ~filters.COMMAND,
                                   dispatch.on_private_text), group=1)
    return app


class _NoArgs(filters.MessageFilter):
    def filter(self, message) -> bool:
        return len((message.text or "").split()) == 1


_no_args = _NoArgs()


async def start_application(app: Application, runtime, settings) -> Front:
    """Initialise, register the menus, start receiving updates; returns the shared Front."""
    await app.initialize()
    t = settings.telegram
    front = Front(runtime, app.bot, username=app.bot.username or "", support_chat_id=t.support_chat_id,
                  listings_chat_id=t.listings_chat_id)
    app.bot_data["front"] = front
    await menu.register(app.bot, t.support_chat_id)
    if t.webhook_url:
        secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
        await app.updater.start_webhook(listen=t.webhook_listen, port=t.webhook_port,
                                        url_path=urlsplit(t.webhook_url).path.lstrip("/"),
                                        webhook_url=t.webhook_url, secret_token=secret,
                                        allowed_updates=["message", "callback_query"])
    else:
        await app.updater.start_polling(allowed_updates=["message", "callback_query"])
    await app.start()
    return front


async def stop_application(app: Application) -> None:
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
