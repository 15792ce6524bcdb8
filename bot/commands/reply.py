"""What every command answers: a kind, the view objects, a platform-neutral message.

Front-ends with rich rendering (Discord embeds, Telegram keyboards) read `kind` and `views`;
every front-end can fall back to `message` (lines of spans, actions, attachments), and the
console and the tests read `text`, its plain rendering.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from bot.chat import Attachment, Line, Message, plain, split_message, user
from bot.chat.plain import render_line_plain


@dataclass
class Reply:
    kind: str                                     # "offers.page", "rental.created", "error", ...
    message: Message
    ok: bool = True
    private: bool = False                         # only for the caller: ephemeral, or a DM
    views: tuple[object, ...] = field(default=())  # OfferPage, RentalView, PaymentRequest, ...

    @property
    def text(self) -> str:
        """The plain-text form (console, logs, tests, a platform's fallback)."""
        return self.message.text()

    @property
    def attachments(self) -> list[Attachment]:
        return self.message.attachments

    @property
    def sensitive(self) -> bool:
        """Carries a secret (a private key file): send it in a DM only, never in a channel."""
        return any(a.sensitive for a in self.message.attachments)

    def view(self, cls: type) -> object | None:
        """The first view of that type, e.g. reply.view(OfferPage)."""
        return next((v for v in self.views if isinstance(v, cls)), None)

    def chunks(self, limit: int, render_line: Callable[[Line], str] = render_line_plain) -> list[str]:
        """The message rendered with a front-end's escaping, split between lines to fit `limit`."""
        return split_message(self.message, limit, render_line)


def error_reply(message: str) -> Reply:
    """A refusal. Its words may echo what the person typed, so they are shown as user text
    (escaped, mentions neutralised) by every front-end."""
    return Reply("error", Message(lines=[(plain("Sorry: "), user(message))]), ok=False)
