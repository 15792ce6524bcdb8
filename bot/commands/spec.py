"""The command table: every command and subcommand with its typed parameters and its role.

One table drives every front-end: Discord builds its slash commands and options from it,
Telegram its setMyCommands lists and text commands, the console its parsing and /help. The
typed entry point (`CommandRouter.invoke`) validates against it, and text is parsed into the
same typed arguments first, so names, bounds and error messages are the same everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from bot.commands.call import Call
    from bot.commands.reply import Reply


class Role(str, Enum):
    """Who a command is for. `provider` is a grouping only (anyone becomes a provider with
    /host add); `support` and `admin` are checked before the command runs."""

    EVERYONE = "everyone"
    PROVIDER = "provider"
    SUPPORT = "support"
    ADMIN = "admin"


class PType(str, Enum):
    INT = "int"            # a whole number within [min, max]; text may write it as #12
    TEXT = "text"          # a string of at most max_length characters
    CHOICE = "choice"      # one of `choices`
    DECIMAL = "decimal"    # an amount like 0.5, kept as text (exact integer pricing downstream)
    QUERY = "query"        # the offer query language: gpu=rtx4090 vram>=24 sort=price
    CHANNEL = "channel"    # a platform channel / chat id (Discord: a channel picker)
    ROLE = "role"          # a platform role id (Discord: a role picker)


class Autocomplete(str, Enum):
    """Core queries a front-end may call for suggestions (bot.commands.suggest)."""

    GPU_MODEL = "gpu model"          # GPU models listed in active offers
    OFFER = "offer"                  # active offers
    MY_OFFERS = "my offers"          # the caller's own offers
    MY_RENTALS = "my rentals"        # the caller's rentals (as renter or provider)
    MY_HOSTS = "my hosts"            # the caller's registered hosts
    TOKEN = "token"                  # the accepted tokens
    REGION = "region"                # regions of active offers
    OPEN_DISPUTES = "open disputes"  # rentals with an open dispute (support)


@dataclass(frozen=True)
class Param:
    """One parameter of a command.

    Text forms: a positional parameter takes the next word; `keyword` ones are written
    name=value anywhere; `rest` takes the remaining text as it is (a reason, a note, a
    query); `marker` (e.g. "#") makes an optional positional word that must start with it
    (`/resolve #7 60`). `text=False` parameters exist for typed front-ends only (their text
    form is another parameter, e.g. /offers' options are the query language); `typed=False`
    ones for text only (offer create's hours=1-72 shorthand).
    """

    name: str
    type: PType
    description: str
    required: bool = True
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int = 200
    autocomplete: Autocomplete | None = None
    label: str | None = None          # how errors name it ("offer id"); default: the name
    unit: str | None = None           # text may append it to a number: "60%"
    keyword: bool = False
    rest: bool = False
    marker: str | None = None
    implied: str | None = None        # "dispute rental": filled from where the call came from
    text: bool = True
    typed: bool = True
    expand: Callable[[str], dict[str, str]] | None = None   # a text shorthand for other parameters...
    expands_to: tuple[str, ...] = ()                         # ...namely these (usage shows the shorthand)
    hint: str | None = None                                  # the value in usage: hours=<min-max>

    @property
    def what(self) -> str:
        return self.label or self.name.replace("_", " ")

    def usage(self, required: bool | None = None) -> str:
        required = self.required if required is None else required
        if self.keyword:
            body = f"{self.name}=<{self.hint or self.name}>"
        elif self.marker:
            body = f"{self.marker}<{self.name}>"
        else:
            body = f"<{self.name}>" if not self.rest else f"<{self.name}...>"
        return body if required and not self.implied else f"[{body}]"


Handler = Callable[["Call"], Awaitable["Reply"]]


@dataclass(frozen=True)
class Command:
    path: str                          # "offer create", "rent"
    summary: str
    params: tuple[Param, ...]
    handler: Handler
    role: Role = Role.EVERYONE
    private: bool = False              # answer only to the caller (ephemeral / DM) by default
    example: str = ""                  # shown after usage errors: "/rent 12 4"

    @property
    def name(self) -> str:
        """The top-level command ("offer" for "offer create")."""
        return self.path.split(" ", 1)[0]

    @property
    def sub(self) -> str | None:
        parts = self.path.split(" ", 1)
        return parts[1] if len(parts) > 1 else None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def typed_params(self) -> tuple[Param, ...]:
        """What a slash command lists as options."""
        return tuple(p for p in self.params if p.typed)

    @property
    def usage(self) -> str:
        """The text form, e.g. `/rent <offer> <hours>`; a shorthand stands for what it expands to."""
        folded = {name: p for p in self.params if p.text for name in p.expands_to}
        words = [f"/{self.path}"]
        for p in self.params:
            if not p.text or p.name in folded:
                continue
            if p.expands_to:
                words.append(p.usage(required=any(q.required for q in self.params if q.name in p.expands_to)))
            else:
                words.append(p.usage())
        return " ".join(words)


@dataclass(frozen=True)
class Group:
    """A top-level command with subcommands (`/offer create|edit|...`). `default` is the
    subcommand text runs when the first word is not a subcommand name (`/offer 3` is
    `/offer show 3`, `/wallet` is `/wallet show`)."""

    name: str
    summary: str
    default: str | None = None
    role: Role = Role.EVERYONE


TABLE: dict[str, Command] = {}
GROUPS: dict[str, Group] = {}


def group(name: str, summary: str, *, default: str | None = None, role: Role = Role.EVERYONE) -> None:
    GROUPS[name] = Group(name, summary, default, role)


def command(path: str, summary: str, *params: Param, role: Role = Role.EVERYONE, private: bool = False,
            example: str = ""):
    """Register a handler for `path` with its parameters."""
    def register(fn: Handler) -> Handler:
        if path in TABLE:
            raise ValueError(f"command {path!r} is registered twice")
        TABLE[path] = Command(path, summary, tuple(params), fn, role, private, example)
        return fn
    return register


@dataclass(frozen=True)
class TopLevel:
    """One entry of a platform's command list: a plain command or a group of subcommands."""

    name: str
    summary: str
    role: Role
    command: Command | None = None                 # a plain command
    subcommands: tuple[Command, ...] = field(default=())


def top_level() -> list[TopLevel]:
    """The commands as a platform lists them (Discord application commands, Telegram
    setMyCommands), in table order."""
    load()
    out: dict[str, TopLevel] = {}
    for cmd in TABLE.values():
        if cmd.sub is None:
            out[cmd.name] = TopLevel(cmd.name, cmd.summary, cmd.role, command=cmd)
        else:
            g = GROUPS[cmd.name]
            prev = out.get(cmd.name)
            subs = (prev.subcommands if prev else ()) + (cmd,)
            out[cmd.name] = TopLevel(g.name, g.summary, g.role, subcommands=subs)
    return list(out.values())


def get(path: str) -> Command | None:
    load()
    return TABLE.get(" ".join(path.lower().split()))


def load() -> None:
    """Import the modules that register the commands (once)."""
    if not TABLE:
        from bot.commands import cmd_market, cmd_money, cmd_hosts, cmd_support  # noqa: F401
