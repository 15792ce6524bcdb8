"""The official Bot API description (shared/specs/telegram/api.json) turned into checks.

The file is not JSON Schema: every method and type lists its fields with `types` (`Integer`,
`String`, `Array of InlineKeyboardButton`, `InputFile`, another type's name...) and `required`.
Abstract types (`ChatMember`, `BotCommandScope`, `MaybeInaccessibleMessage`) list `subtypes`; the
branch is chosen by the discriminator the description states ("always \"creator\"", "must be
chat") or, when there is none, by the first branch that fits. Every check returns the list of
problems found (empty when the value fits), each naming the path to the offending field.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

_SPEC_REL = Path("shared/specs/telegram/api.json")
_CONST = re.compile(r"(?:always|must be)\s*[\"“]?([a-z_]+)[\"”]?")
SCALARS = ("Integer", "Float", "String", "Boolean", "True")


def find_spec_file() -> Path:
    """api.json: $GPUFLOW_SPECS_DIR, else a `shared/specs` beside the checkout (CI lays shared/
    next to the clone), else the workplace's /work/shared."""
    env = os.environ.get("GPUFLOW_SPECS_DIR")
    candidates = [Path(env) / "telegram/api.json"] if env else []
    here = Path(__file__).resolve()
    candidates += [parent / _SPEC_REL for parent in here.parents]
    candidates.append(Path("/work") / _SPEC_REL)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError("the Telegram Bot API description (shared/specs/telegram/api.json) was not "
                            "found; set GPUFLOW_SPECS_DIR to the folder holding telegram/api.json")


class Upload:
    """A file part of a multipart request (what the spec calls InputFile)."""

    def __init__(self, name: str, filename: str, content: bytes, content_type: str) -> None:
        self.name, self.filename, self.content, self.content_type = name, filename, content, content_type

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {len(self.content)} bytes)"


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str

    @property
    def constant(self) -> str | None:
        """The fixed value of a discriminator field (`type`, `status`, `source`), if stated."""
        if self.name not in ("type", "status", "source"):
            return None
        match = _CONST.search(self.description)
        return match.group(1) if match else None


class ApiSpec:
    """Checks names, required fields and types of method calls and objects against api.json."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.version: str = raw.get("version", "?")
        self._methods = raw["methods"]
        self._types = raw["types"]
        self._by_lower = {name.lower(): name for name in self._methods}

    @classmethod
    def load(cls, path: Path | None = None) -> "ApiSpec":
        return cls(json.loads((path or find_spec_file()).read_text()))

    # -- lookups ---------------------------------------------------------------------------------
    def method_name(self, name: str) -> str | None:
        """Bot API method names are case-insensitive; the canonical spelling, or None."""
        return self._by_lower.get(name.lower())

    def fields(self, owner: str) -> dict[str, Field]:
        """Fields of a method or a concrete type, by name."""
        return self._fields[owner]

    def returns(self, method: str) -> tuple[str, ...]:
        return tuple(self._methods[method]["returns"])

    @cached_property
    def _fields(self) -> dict[str, dict[str, Field]]:
        out: dict[str, dict[str, Field]] = {}
        for name, item in list(self._methods.items()) + list(self._types.items()):
            out[name] = {f["name"]: Field(f["name"], tuple(f["types"]), bool(f["required"]), f["description"])
                         for f in item.get("fields", [])}
        return out

    # -- checks ----------------------------------------------------------------------------------
    def check_call(self, method: str, params: dict[str, Any]) -> list[str]:
        """Problems with a method call: unknown or missing parameters, wrong types."""
        return self._check_fields(method, self.fields(method), params, method)

    def check_result(self, method: str, result: Any) -> list[str]:
        return self.check_value(self.returns(method), result, f"{method}()")

    def check_value(self, types: tuple[str, ...] | list[str], value: Any, path: str) -> list[str]:
        """Problems with a value that may be any of `types` (the best-fitting branch's)."""
        best: list[str] | None = None
        for type_name in types:
            problems = self._check_one(type_name, value, path)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        return best or [f"{path}: no type given"]

    def _check_one(self, type_name: str, value: Any, path: str) -> list[str]:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {type(value).__name__}"]
            inner = type_name[len("Array of "):]
            problems: list[str] = []
            for i, item in enumerate(value):
                problems += self._check_one(inner, item, f"{path}[{i}]")
            return problems
        if type_name in SCALARS:
            return [] if _scalar_fits(type_name, value) else [
                f"{path}: expected {type_name}, got {type(value).__name__} {_short(value)}"]
        if type_name == "InputFile":
            return [] if isinstance(value, Upload) else [f"{path}: expected an uploaded file"]
        spec = self._types.get(type_name)
        if spec is None:
            return [f"{path}: unknown type {type_name}"]
        if "subtypes" in spec:
            return self._check_union(type_name, spec["subtypes"], value, path)
        if not isinstance(value, dict):
            return [f"{path}: expected {type_name} object, got {type(value).__name__} {_short(value)}"]
        return self._check_fields(type_name, self.fields(type_name), value, path)

    def _check_union(self, name: str, subtypes: list[str], value: Any, path: str) -> list[str]:
        if isinstance(value, dict):
            for sub in subtypes:
                fields = self._fields.get(sub, {})
                for f in fields.values():
                    if f.constant is not None and value.get(f.name) == f.constant:
                        return self._check_one(sub, value, path)
        return self.check_value(subtypes, value, f"{path}<{name}>")

    def _check_fields(self, owner: str, fields: dict[str, Field], value: dict[str, Any], path: str) -> list[str]:
        problems = [f"{path}.{key}: not a field of {owner}" for key in value if key not in fields]
        for f in fields.values():
            if f.name not in value or value[f.name] is None:
                if f.required:
                    problems.append(f"{path}.{f.name}: required by {owner}, missing")
                continue
            if f.constant is not None and value[f.name] != f.constant:
                problems.append(f"{path}.{f.name}: must be {f.constant!r}, got {_short(value[f.name])}")
                continue
            problems += self.check_value(f.types, value[f.name], f"{path}.{f.name}")
        return problems


def _scalar_fits(type_name: str, value: Any) -> bool:
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Boolean":
        return isinstance(value, bool)
    return value is True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
