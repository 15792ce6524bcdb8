"""Keep secrets out of every log line: URLs lose their credentials, paths and queries, and the
configured secrets (tokens, keys, the RPC URL's key) are masked wherever they appear.

Why a filter on the records and not care at each call site: the leaks come from libraries.
web3 logs the full RPC URL at DEBUG/INFO ("Making request HTTP. URI: https://host/v3/KEY"),
aiohttp puts it in its exception text (`429, message='Too Many Requests', url='https://host/v3/KEY'`),
and python-telegram-bot's HTTP client logs request URLs, which hold the bot token.
"""
from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
_MIN_SECRET = 8
# scheme://[userinfo@]host[:port][/path][?query][#fragment]; stops at spaces, quotes, brackets, commas
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{1,15}://)(?P<userinfo>[^\s/@'\"<>,]*@)?"
                  r"(?P<host>[^\s/?#'\"<>,)\]}]*)(?P<rest>[^\s'\"<>,)\]}]*)")
# credentials in an Authorization header's repr (aiohttp's errors carry the request headers)
_AUTH = re.compile(r"\b(Basic|Bearer|Bot)\s+[A-Za-z0-9+/=._~:-]{8,}")
_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None


def _url_repl(m: re.Match[str]) -> str:
    rest = m.group("rest")
    tail = "" if rest in ("", "/") else "/…"
    return m.group("scheme") + (MASK + "@" if m.group("userinfo") else "") + m.group("host") + tail


def register_secret(value: str | None) -> None:
    """Mask `value` in every later log line (too short a value would mask ordinary words: ignored)."""
    global _secret_re
    if not value or len(value) < _MIN_SECRET:
        return
    variants = {value, value.removeprefix("0x")}
    with _lock:
        if variants <= _secrets:
            return
        _secrets.update(v for v in variants if len(v) >= _MIN_SECRET)
        ordered = sorted(_secrets, key=len, reverse=True)     # longest first: no partial masks
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE)


def register_url(url: str | None, *, path_is_secret: bool = True) -> None:
    """A configured URL's password, and its path and query where they may hold a key (an RPC
    provider's URL: https://host/v3/KEY), are secrets too."""
    if not url:
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_secret(parts.password)
        register_secret(base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode())
    if not path_is_secret:
        return
    tail = parts.path + (("?" + parts.query) if parts.query else "")
    if len(tail.strip("/")) >= _MIN_SECRET:
        register_secret(tail.rstrip("/"))
    for segment in re.split(r"[/?&=]", tail):
        if len(segment) >= 16:           # API keys are long; "v3" or "rpc" are not secrets
            register_secret(segment)


def forget_secrets() -> None:
    """For tests: start again from no registered secrets."""
    global _secret_re
    with _lock:
        _secrets.clear()
        _secret_re = None


def redact(text: str) -> str:
    """The text with registered secrets and Authorization credentials masked, and every URL cut
    to scheme://host[:port]."""
    text = _URL.sub(_url_repl, text)        # first, so a URL keeps its host: http://host:port/…
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _AUTH.sub(lambda m: f"{m.group(1)} {MASK}", text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the message with its args, and the exception and stack text, then redact all three.

    After this the record holds only redacted text (args are gone, exc_text is set, so a formatter
    never formats the exception itself again); doing it twice is harmless and cheap.
    """
    if getattr(record, "_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:   # a bad format string: keep the raw template, still redacted
        message = f"{record.msg} {record.args!r}" if record.args else str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True   # type: ignore[attr-defined]
    return record


class RedactingFilter(logging.Filter):
    """A handler filter: every record it passes has been redacted (see redact_record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_FILTER = RedactingFilter()
_factory_installed = False


def install(handlers: Iterable[logging.Handler] = ()) -> None:
    """Put the filter on these handlers and on every handler the logging tree has now, and redact
    at record creation too, so a handler a library adds later (discord.py, pytest) gets clean records."""
    global _factory_installed
    seen = list(handlers) + list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            seen += logger.handlers
    for handler in seen:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    with _lock:
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs) -> logging.LogRecord:
                return redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _factory_installed = True
