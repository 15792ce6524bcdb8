"""A core Reply (or a delivery's Message) as what Discord shows: an embed (or, when it does not
fit, 2,000-character messages split between lines), files, and buttons for the actions."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import discord

from bot.chat import Attachment, Message
from bot.chat.plain import split_lines
from handlers.discord.escape import render_line

CONTENT_MAX = 2000
DESCRIPTION_MAX = 4096
TITLE_MAX = 256
OK_COLOUR = discord.Colour.blurple()
ERROR_KINDS = {"error", "internal-error"}


@dataclass
class Outgoing:
    """One reply, ready to send; `files()` makes fresh File objects (each can be sent once)."""
    content: str | None = None
    embed: discord.Embed | None = None
    more: list[str] = field(default_factory=list)           # further messages (a long reply)
    attachments: list[Attachment] = field(default_factory=list)

    def files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(a.data), filename=a.filename, description=a.description[:1024] or None)
                for a in self.attachments]

    @property
    def embeds(self) -> list[discord.Embed]:
        return [self.embed] if self.embed is not None else []


def outgoing(msg: Message, kind: str, *, include_sensitive: bool = False) -> Outgoing:
    """`include_sensitive`: only where a secret may go (a DM); elsewhere such files are left out."""
    files = [a for a in msg.attachments if include_sensitive or not a.sensitive]
    lines = [render_line(line) for line in msg.lines]
    title = discord.utils.escape_markdown(msg.title)[:TITLE_MAX] if msg.title else None
    body = "\n".join(lines)
    if kind not in ERROR_KINDS and len(body) <= DESCRIPTION_MAX:
        embed = discord.Embed(title=title, description=body or None, colour=OK_COLOUR)
        image = next((a for a in files if a.is_image), None)
        if image is not None:
            embed.set_image(url=f"attachment://{image.filename}")
        return Outgoing(embed=embed, attachments=files)
    if title:
        lines.insert(0, f"**{title}**")
    chunks = split_lines(lines, CONTENT_MAX)
    return Outgoing(content=chunks[0], more=chunks[1:], attachments=files)


def plain_text(text: str) -> Outgoing:
    """Our own short words (a notice that something went privately, a dismissal)."""
    return Outgoing(content=discord.utils.escape_markdown(text)[:CONTENT_MAX])
