"""What the front-end does after certain replies: a resolved dispute closes its forum topic."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram.error import TelegramError

from .replies import Place
from .sender import Sent

if TYPE_CHECKING:
    from bot.commands.reply import Reply

    from .front import Front

log = logging.getLogger(__name__)


async def after_reply(front: "Front", place: Place, reply: "Reply", sent: Sent | None) -> None:
    if reply.kind == "dispute.resolved" and reply.ok and place.thread_id is not None:
        try:
            await front.bot.close_forum_topic(place.chat_id, place.thread_id)
        except TelegramError as exc:      # the outcome stands; an open topic is only untidy
            log.warning("could not close the dispute topic: %s", type(exc).__name__)
