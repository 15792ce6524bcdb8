"""Route table of the emulated REST API: templates as in Discord's OpenAPI file."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from devnet.discord.emulator import DiscordEmulator


@dataclass
class Upload:
    index: int
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class Call:
    """One request as a route sees it."""
    emu: DiscordEmulator
    method: str
    path: str                      # below /api/v10
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any = None
    files: list[Upload] = field(default_factory=list)

    def int_param(self, name: str) -> int:
        from devnet.discord.errors import DiscordError

        try:
            return int(self.params[name])
        except ValueError:
            raise DiscordError(404, 0, "404: Not Found") from None


@dataclass
class Reply:
    status: int = 200
    body: Any = None


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool                    # bot token required (webhook-token routes carry theirs in the URL)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            regex = re.sub(r"\\\{([a-z_0-9]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            self.routes.append(Route(method, template, re.compile(f"^{regex}$"), handler, auth))
            self.routes.sort(key=lambda r: r.template.count("{"))
            return handler
        return register

    def include(self, other: Router) -> None:
        for route in other.routes:
            self.routes.append(route)
        self.routes.sort(key=lambda r: r.template.count("{"))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found:
                    return route, found.groupdict()
        return None
