"""Logging set-up for every entry point: text or JSON lines on stderr, libraries quiet, no secrets.

JSON lines carry `rental_id` when the record is about one rental: from `extra={"rental_id": N}`,
from `rental_scope(N)` around the work, or read from the message ("rental 12", "rental #12"),
so the operator can follow one rental through the watcher, the worker and the wallet bridge.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TextIO

from bot.observability import redact

if TYPE_CHECKING:
    from bot.config import Settings

# Libraries that log request URLs or chatter at INFO/DEBUG; they speak at WARNING unless asked.
LIBRARIES = ("web3", "aiohttp", "websockets", "asyncio", "urllib3", "httpx", "httpcore", "paramiko",
             "asyncssh", "discord", "telegram", "sqlalchemy", "alembic", "hpack")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_current_rental: contextvars.ContextVar[int | None] = contextvars.ContextVar("rental_id", default=None)
_RENTAL_IN_TEXT = re.compile(r"\brental #?(\d+)\b", re.IGNORECASE)
_MARK = "_gpuflow_handler"


@contextlib.contextmanager
def rental_scope(rental_id: int | None) -> Iterator[None]:
    """Log records made inside carry this rental id."""
    token = _current_rental.set(rental_id)
    try:
        yield
    finally:
        _current_rental.reset(token)


def rental_of(record: logging.LogRecord) -> int | None:
    explicit = getattr(record, "rental_id", None)
    if isinstance(explicit, int):
        return explicit
    scoped = _current_rental.get()
    if scoped is not None:
        return scoped
    found = _RENTAL_IN_TEXT.search(record.getMessage())
    return int(found.group(1)) if found else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, rental_id (when known), exc (when any)."""

    def format(self, record: logging.LogRecord) -> str:
        redact.redact_record(record)
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
        }
        rental_id = rental_of(record)
        if rental_id is not None:
            line["rental_id"] = rental_id
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "WARNING", *, json_lines: bool = False, library_level: str = "WARNING",
                      stream: TextIO | None = None, settings: "Settings | None" = None) -> logging.Handler:
    """(Re)configure the root logger with one stderr handler; safe to call again once the
    configuration is loaded (its secrets are then registered for masking)."""
    if settings is not None:
        register_settings_secrets(settings)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    redact.install([handler])
    return handler


def register_settings_secrets(settings: "Settings") -> None:
    """Every secret the configuration holds, and the RPC and database URLs' keys and passwords."""
    for name in ("master_key", "operator_key", "arbiter_key", "discord_token", "telegram_token"):
        value = getattr(settings, name, None)
        if value is not None:
            redact.register_secret(value.get_secret_value())
    redact.register_url(settings.chain.rpc_url)
    redact.register_url(settings.database_url, path_is_secret=False)
    redact.register_secret(settings.walletconnect.project_id)
