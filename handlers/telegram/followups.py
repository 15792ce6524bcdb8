"""What the front-end does after certain replies: the message that showed a deposit request is
remembered (the rental's progress is edited into it); a resolved dispute closes its forum topic."""
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


PROGRESS_KINDS = ("rental.created",)


async def after_reply(front: "Front", place: Place, reply: "Reply", sent: Sent | None) -> None:
    if reply.kind in PROGRESS_KINDS and reply.ok and sent is not None and sent.main is not None:
        from bot.delivery.refs import PlatformRef
        from bot.services.views import RentalView

        rental = reply.view(RentalView)
        if rental is not None:
            await front.services.refs.remember_progress(rental.id, "telegram", PlatformRef(
                chat_id=str(sent.main.chat.id), message_id=str(sent.main.message_id)))
    if reply.kind == "dispute.resolved" and reply.ok and place.thread_id is not None:
        try:
            await front.bot.close_forum_topic(place.chat_id, place.thread_id)
        except TelegramError as exc:      # the outcome stands; an open topic is only untidy
            log.warning("could not close the dispute topic: %s", type(exc).__name__)

