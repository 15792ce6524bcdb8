"""Reading a console script: one command per line, and a clear refusal for a file that is not one.

Why not str.splitlines: it also splits on U+2028, U+2029, U+0085, form feed and friends, so a
line that shows as one command in an editor could run as two. A script's lines end at \\n or \\r\\n.
"""
from __future__ import annotations

from pathlib import Path


class ScriptError(Exception):
    """The script cannot be read as text; the message says why, without a traceback."""


def split_script(text: str) -> list[str]:
    """Lines ended by \\n or \\r\\n only; a trailing newline makes no extra empty command."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_script(path: Path) -> list[str]:
    """The commands in the UTF-8 file at `path` (a byte-order mark is accepted)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError(f"console script {path} does not exist") from None
    except IsADirectoryError:
        raise ScriptError(f"console script {path} is a directory, not a file") from None
    except OSError as exc:
        raise ScriptError(f"console script {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScriptError(f"console script {path} is not UTF-8 text (line {line}, byte {exc.start}); "
                          f"save it as UTF-8") from None
    return split_script(text)
