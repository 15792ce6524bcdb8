"""Read commands from a terminal or a script, print replies and the notices other people get.

`/as <name>` switches who is typing (a new name is a new user). In a script, a line starting
with `!` is expected to be refused; any other refusal, and any internal error, makes the run
fail (exit status 1), so a demo script doubles as a smoke test.
"""
from __future__ import annotations

import logging
import re
import sys
from typing import Iterable, TextIO

from bot.app import App
from bot.commands import Reply
from bot.domain.errors import UserError
from bot.services import Actor

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class ConsoleFrontend:
    def __init__(self, app: App, out: TextIO = sys.stdout, *, echo: bool = False) -> None:
        self.app = app
        self.out = out
        self.echo = echo
        self.actor: Actor | None = None
        self.failures = 0
        self._names: dict[int, str] = {}

    async def switch_user(self, name: str) -> None:
        if not _NAME_RE.fullmatch(name):
            raise UserError("names are 1-32 letters, digits, '.', '_' or '-'")
        self.actor = await self.app.services.users.identify("console", name.lower(), name)
        self._names[self.actor.user_id] = name

    async def run_line(self, line: str) -> bool:
        """Run one line; returns True when it went as expected."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        expect_refusal = text.startswith("!")
        text = text.lstrip("!").strip()
        if self.echo:
            self._print(f"{self._prompt()}{text}")
        try:
            if text.startswith("/as ") or text == "/as":
                await self.switch_user(text[3:].strip())
                self._print(f"(now typing as {self.actor.name})")
                return True
            if self.actor is None:
                await self.switch_user("guest")
            await self.app.services.housekeeping()
            reply = await self.app.router.handle(self.actor, text)
        except UserError as exc:
            reply = Reply(f"Sorry: {exc.message}", ok=False)
        except Exception:  # an internal error: say so without a traceback, keep the details in the log
            log.exception("command failed: %s", text.split()[0][:20])
            self._print("Internal error: the command failed; nothing was changed. See the log for details.")
            return False
        self._show(reply)
        await self.deliver_notices()
        return reply.ok != expect_refusal

    async def run_lines(self, lines: Iterable[str]) -> int:
        """Run a script; returns the number of lines that did not go as expected."""
        for line in lines:
            if not await self.run_line(line):
                self.failures += 1
        return self.failures

    async def interactive(self, stdin: TextIO = sys.stdin) -> None:
        self._print("gpuflow console — /help for commands, /as <name> to switch user, Ctrl-D to quit")
        while True:
            self.out.write(self._prompt())
            self.out.flush()
            line = stdin.readline()
            if not line:
                self._print("")
                return
            await self.run_line(line)

    async def deliver_notices(self) -> None:
        """Show what the bot would post: listings, support threads, DMs (by name only)."""
        outbox = self.app.services.outbox
        for notice in await outbox.pending():
            if not await outbox.mark_sent(notice.id):
                continue
            if notice.target == "dm":
                who = self._names.get(notice.user_id or -1, f"user {notice.user_id}")
                self._print(f"  [direct message to {who}] {notice.body}")
            else:
                self._print(f"  [#{notice.target}] {notice.body}")

    def _show(self, reply: Reply) -> None:
        for line in reply.text.splitlines() or [""]:
            self._print(f"  {line}")

    def _prompt(self) -> str:
        return f"{self.actor.name if self.actor else 'guest'}> "

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
