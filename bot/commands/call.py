"""One command call as a handler sees it: who, from where, with which validated arguments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat import Invocation
from bot.services import Actor

if TYPE_CHECKING:
    from bot.commands.spec import Command
    from bot.services import Services


@dataclass(frozen=True)
class Call:
    services: "Services"
    command: "Command"
    invocation: Invocation
    actor: Actor
    args: dict[str, int | str]

    def int(self, name: str) -> int:
        return int(self.args[name])

    def str(self, name: str, default: str = "") -> str:
        value = self.args.get(name)
        return default if value is None else str(value)

    def opt(self, name: str):
        return self.args.get(name)
