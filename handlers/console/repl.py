"""Read commands from a terminal or a script, print replies and the notices other people get.

`/as <name>` switches who is typing (a new name is a new user). In a script, a line starting
with `!` is expected to be refused; any other refusal, and any internal error, makes the run
fail (exit status 1), so a demo script doubles as a smoke test.
"""
from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import Awaitable, Callable, Iterable, TextIO

from bot.app import App
from bot.chat import Action, Attachment, Invocation, message
from bot.chat.invocation import console
from bot.commands import Reply
from bot.commands.binding import command_text
from bot.commands.reply import error_reply
from bot.commands.router import INTERNAL_ERROR
from bot.domain.errors import UserError
from bot.services import Actor
from bot.services.views import Notice
from handlers.console.delivery import ConsoleDelivery

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class ConsoleFrontend:
    def __init__(self, app: App, out: TextIO = sys.stdout, *, echo: bool = False,
                 redact: Callable[[str], str] | None = None,
                 on_notice: Callable[[Notice], None] | None = None,
                 tick: Callable[[], Awaitable[object]] | None = None) -> None:
        """`app` is an App or a Runtime (anything with .services and .router); `tick` runs the
        periodic work before each command (default: the app's housekeeping)."""
        self.app = app
        self.tick = tick or app.services.housekeeping
        self.out = out
        self.echo = echo
        self.redact = redact            # applied to every printed line (the demo hides key blocks)
        self.on_notice = on_notice      # called with each notice as it is shown
        self.actor: Actor | None = None
        self.invocation: Invocation | None = None
        self.failures = 0
        self._names: dict[int, str] = {}
        self.delivery = ConsoleDelivery(app.services, lambda line: self._print(line), self._names, on_notice)

    async def switch_user(self, name: str) -> None:
        if not _NAME_RE.fullmatch(name):
            raise UserError("names are 1-32 letters, digits, '.', '_' or '-'")
        self.invocation = console(name)
        self.actor = await self.app.services.places.actor(self.invocation)
        self._names[self.actor.user_id] = name

    async def run_line(self, line: str) -> bool:
        """Run one line; returns True when it went as expected."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        expect_refusal = text.startswith("!")
        reply = await self.command(text.lstrip("!").strip())
        return reply is not None and reply.ok != expect_refusal

    async def command(self, text: str) -> Reply | None:
        """Run one command as the current user: echo it (if echoing), show the reply and the notices
        it caused; returns the reply, or None after an internal error."""
        if self.echo:
            self._print(f"{self._prompt()}{text}")
        try:
            if text.startswith("/as ") or text == "/as":
                await self.switch_user(text[3:].strip())
                self._print(f"(now typing as {self.actor.name})")
                return Reply("console.as", message(f"now typing as {self.actor.name}"))
            if self.actor is None:
                await self.switch_user("guest")
            await self.tick()
            reply = await self.app.router.handle_text(self.invocation, text)
        except UserError as exc:
            reply = error_reply(exc.message)
        except Exception:  # an internal error: say so without a traceback, keep the details in the log
            log.exception("command failed: %s", text.split()[0][:20])
            reply = None
        if reply is None or reply.kind == INTERNAL_ERROR:
            self._print("Internal error: the command failed; nothing was changed. See the log for details.")
            return None
        self._show(reply)
        await self.deliver_notices()
        return reply

    async def run_lines(self, lines: Iterable[str]) -> int:
        """Run a script; returns the number of lines that did not go as expected."""
        for line in lines:
            if not await self.run_line(line):
                self.failures += 1
        return self.failures

    async def interactive(self, stdin: TextIO = sys.stdin, *, background_every_s: float = 2.0) -> None:
        """A REPL; meanwhile the periodic work runs and notices (DMs, listings) are printed as
        they come, so a deposit confirmed on chain shows up without typing anything."""
        self._print("gpuflow console — /help for commands, /as <name> to switch user, Ctrl-D to quit")
        background = asyncio.create_task(self._background(background_every_s))
        try:
            while True:
                self.out.write(self._prompt())
                self.out.flush()
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    self._print("")
                    return
                await self.run_line(line)
        finally:
            background.cancel()

    async def _background(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.tick()
                await self.deliver_notices()
            except Exception:  # keep the REPL alive; details go to the log
                log.exception("background work failed")

    async def deliver_notices(self) -> None:
        """Show what the bot would post: listings, support threads, DMs (by name only)."""
        await self.delivery.deliver()

    def _show(self, reply: Reply) -> None:
        """The plain text, then what a chat would show as buttons and files."""
        for line in reply.text.splitlines() or [""]:
            self._print(f"  {line}")
        buttons = [self._button(a) for a in reply.message.actions]
        if buttons:
            self._print("  [buttons] " + " | ".join(buttons))
        for item in reply.attachments:
            self._print(f"  {self._attachment(item)}")

    @staticmethod
    def _button(action: Action) -> str:
        if action.url is not None:
            return f"{action.label} (opens a link)"
        return f"{action.label}: {command_text(action.command, action.args)}"

    @staticmethod
    def _attachment(item: Attachment) -> str:
        what = "image" if item.is_image else "file"
        head = f"[attached {what} {item.filename}, {len(item.data)} bytes" + (f": {item.description}]" if item.description else "]")
        if item.sensitive and not item.is_image:   # the console is the person's own terminal
            return head + " (keep it private)\n" + item.data.decode(errors="replace").rstrip()
        return head

    def _prompt(self) -> str:
        return f"{self.actor.name if self.actor else 'guest'}> "

    def _print(self, text: str) -> None:
        if self.redact is not None:
            text = self.redact(text)
        self.out.write(text + "\n")
        self.out.flush()
