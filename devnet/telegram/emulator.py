"""The emulated Bot API: one call, from parameters to answer, checked on the way in and out.

Pipeline of a call: canonical method name (case-insensitive; unknown: 404 "Not Found"), typed
parameters checked against api.json (a missing or mistyped one: 400 and a violation; an unknown
one: a violation, ignored as Telegram ignores it), injected faults, flood limits, the method, and
its result checked against the spec's return type (a mismatch is the emulator's own bug, also a
violation). `violations` collects everything a correct bot would never cause; tests assert it is
empty at teardown.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from . import api_chats, api_messages
from .errors import ApiError, bad_request
from .limits import Faults, FloodControl, RateLimits
from .spec import ApiSpec
from .updates import Updates
from .world import User, World

log = logging.getLogger(__name__)
Handler = Callable[["TelegramEmulator", dict[str, Any]], Awaitable[Any]]


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None

    def expired(self, timeout: float) -> bool:
        return asyncio.get_running_loop().time() - self.created > timeout


@dataclass
class Call:
    """One request as the bot made it, and how it was answered (for tests to read)."""
    method: str
    params: dict[str, Any]
    status: int
    description: str = ""
    result: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Seq:
    value: int = 0
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)


class TelegramEmulator:
    """State and method dispatch; `server.serve` puts it on HTTP, `scenario` drives it as people."""

    def __init__(self, token: str = "123456789:AAEmulatedTelegramBotTokenForTests00",
                 bot_username: str = "gpuflow_test_bot", spec: ApiSpec | None = None,
                 limits: RateLimits | None = None) -> None:
        self.token = token
        self.spec = spec or ApiSpec.load()
        self.bot = User(int(token.split(":")[0]), "GPUFlow", bot_username, is_bot=True, language_code=None)
        self.world = World(self.spec, self.bot)
        self.updates = Updates(self)
        self.flood = FloodControl(limits or RateLimits())
        self.faults = Faults()
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.deleted: list[tuple[int, dict[str, Any]]] = []
        self.violations: list[str] = []
        self.calls: list[Call] = []
        self.privacy_mode = True          # in groups the bot sees commands, replies to it and mentions
        self.callback_timeout = 15.0      # seconds to answer a callback query
        self.webhook_retry_delay = 0.2
        self.seq = Seq()
        self.changed_at: dict[tuple[int, int], int] = {}
        self.scenario_marks: dict[int, int] = {}      # chat id -> seq at the last scenario action there
        self._handlers: dict[str, Handler] = {
            **api_messages.HANDLERS, **api_chats.HANDLERS,
            "getUpdates": lambda emu, p: emu.updates.get_updates(p),
            "setWebhook": lambda emu, p: emu.updates.set_webhook(p),
            "deleteWebhook": lambda emu, p: emu.updates.delete_webhook(p),
            "getWebhookInfo": lambda emu, p: emu.updates.webhook_info(p),
            "logOut": _true, "close": _true,
        }

    # -- bookkeeping -----------------------------------------------------------------------------
    def note(self, problem: str) -> None:
        """Record something a correct bot never causes; the test fixture fails on it."""
        log.warning("Telegram emulator violation: %s", problem)
        self.violations.append(problem)

    def take_violations(self) -> list[str]:
        """The violations so far, cleared (negative tests expect some)."""
        out, self.violations = self.violations, []
        return out

    def self_check(self, type_name: str, value: Any) -> None:
        for problem in self.spec.check_value((type_name,), value, type_name):
            self.note(f"emulator produced an invalid {type_name}: {problem}")

    def changed(self, chat: Any, message_id: int | None, new: bool) -> None:
        """Stamp the change and wake whoever waits for what the bot shows (scenario.wait_for)."""
        self.seq.value += 1
        if chat is not None and message_id is not None:
            self.changed_at[(chat.id, message_id)] = self.seq.value

        async def notify() -> None:
            async with self.seq.cond:
                self.seq.cond.notify_all()
        asyncio.get_running_loop().create_task(notify())

    # -- the pipeline ------------------------------------------------------------------------------
    async def call(self, method_raw: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one method call: (HTTP status, body)."""
        method = self.spec.method_name(method_raw)
        if method is None:
            self.note(f"{method_raw}: no such Bot API method")
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        record = Call(method, params, 200)
        self.calls.append(record)
        try:
            result = await self._run(method, params)
        except ApiError as err:
            record.status, record.description = err.code, err.description
            if err.violation:
                self.note(f"{method}: {err.description}")
            return err.code, err.body()
        except Exception as exc:  # an emulator bug must not look like Telegram's answer
            log.exception("emulator failed on %s", method)
            self.note(f"{method}: emulator error {type(exc).__name__}: {exc}")
            record.status, record.description = 500, "Internal Server Error"
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        record.result = result
        for problem in self.spec.check_result(method, result):
            self.note(f"emulator answered an invalid {method} result: {problem}")
        return 200, {"ok": True, "result": result}

    async def _run(self, method: str, params: dict[str, Any]) -> Any:
        problems = self.spec.check_call(method, params)
        unknown = [p for p in problems if p.endswith("not a field of " + method)]
        for problem in unknown:
            self.note(f"{method} sent {problem}")
        serious = [p for p in problems if p not in unknown]
        if serious:
            raise bad_request(_telegram_words(serious[0], method))
        known = {k: v for k, v in params.items() if k in self.spec.fields(method)}
        fault = self.faults.take(method, after=False)
        if fault:
            raise fault
        handler = self._handlers.get(method)
        if handler is None:
            raise bad_request(f"method {method} is not emulated")
        chat = self.world.chat(known["chat_id"]) if "chat_id" in known else None
        self.flood.admit(method, chat.id if chat else None, bool(chat and chat.is_group))
        result = await handler(self, known)
        fault = self.faults.take(method, after=True)
        if fault:
            raise fault
        return result


def _telegram_words(problem: str, method: str) -> str:
    """'sendMessage.text: required by sendMessage, missing' -> 'text is empty' (Telegram's phrase)."""
    path, _, what = problem.partition(": ")
    name = path.split(".", 1)[1] if "." in path else path
    if what.startswith("required"):
        return "message text is empty" if name == "text" else f"{name} is empty"
    return f"can't parse {name}: {what}"


async def _true(emu: TelegramEmulator, p: dict[str, Any]) -> bool:
    return True
