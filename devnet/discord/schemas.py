"""Discord's OpenAPI operations compiled into JSON Schema validators, once each.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so each operation's parameters, request body and
responses are checked with `jsonschema` validators built straight from the file (with a
`referencing` registry for its `$ref`s). This is the emulator's default engine: about 6x faster
than openapi-core's per-request resolution, which matters when hundreds of interactions a
second go through it (bench/discord_ack.py); `tests/discord/test_spec_engines.py` checks that
both engines give the same verdicts.
"""
from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

URN = "urn:discord"
_STATUS_FALLBACKS = ("{s}", "{x}XX", "default")


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class CompiledSpec:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.registry = Registry().with_resource(URN, DRAFT202012.create_resource(raw))

    @functools.lru_cache(maxsize=4096)       # noqa: B019 - one instance per process (load_spec)
    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{URN}#{quote(pointer, safe='/~')}"}, registry=self.registry,
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def _errors(self, pointer: str, instance: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[tuple, Any]]:
        return [(prefix, err) for err in self.validator(pointer).iter_errors(instance)]

    def parameters(self, template: str, method: str) -> list[tuple[str, dict[str, Any]]]:
        item = self.raw["paths"][template]
        out = []
        for where, params in (("path-item", item.get("parameters", [])),
                              ("operation", item[method].get("parameters", []))):
            for i, param in enumerate(params):
                base = _pointer("paths", template) + (f"/parameters/{i}" if where == "path-item"
                                                      else _pointer(method, "parameters", str(i)))
                out.append((base, param))
        return out

    def request_errors(self, template: str, method: str, path_params: dict[str, str], query: dict[str, str],
                       body: Any) -> list[tuple[tuple, Any]]:
        found: list[tuple[tuple, Any]] = []
        for base, param in self.parameters(template, method):
            source = path_params if param.get("in") == "path" else query if param.get("in") == "query" else None
            if source is None:
                continue
            name = param["name"]
            if name not in source:
                if param.get("required"):
                    found.append(((name,), _Missing(f"required {param['in']} parameter {name!r} is missing")))
                continue
            value = _cast(self.raw, param.get("schema", {}), source[name])
            found += self._errors(base + "/schema", value, (name,))
        op = self.raw["paths"][template][method]
        content = op.get("requestBody", {}).get("content", {})
        if body is None:
            if op.get("requestBody", {}).get("required"):
                found.append(((), _Missing("a request body is required")))
        elif "application/json" in content:
            found += self._errors(_pointer("paths", template, method, "requestBody", "content", "application/json",
                                           "schema"), body)
        return found

    def response_errors(self, template: str, method: str, status: int, headers: dict[str, str],
                        body: Any) -> list[tuple[tuple, Any]]:
        responses = self.raw["paths"][template][method].get("responses", {})
        key = next((k.format(s=status, x=status // 100) for k in _STATUS_FALLBACKS
                    if k.format(s=status, x=status // 100) in responses), None)
        if key is None:
            return [((), _Missing(f"status {status} is not a documented answer of {method.upper()} {template}"))]
        response = responses[key]
        base = _pointer("paths", template, method, "responses", key)
        while "$ref" in response:        # components/responses/...
            ref = response["$ref"]
            base = ref[1:]
            response = _resolve(self.raw, ref)
        found: list[tuple[tuple, Any]] = []
        for name, header in (response.get("headers") or {}).items():
            if name in headers:
                header_schema = _resolve(self.raw, header["$ref"]) if "$ref" in header else header
                value = _cast(self.raw, header_schema.get("schema", {}), headers[name])
                if isinstance(value, str) and header_schema.get("schema", {}).get("type") in ("integer", "number"):
                    found.append(((name,), _Missing(f"header {name}: {value!r} is not a number")))
        content = response.get("content") or {}
        if "application/json" in content:
            if body is None:
                found.append(((), _Missing("a JSON body is documented for this answer")))
            else:
                found += self._errors(base + _pointer("content", "application/json", "schema"), body)
        elif body is not None:
            found.append(((), _Missing(f"status {status} documents no body")))
        return found


class _Missing:
    """A problem that is not a jsonschema error (missing parameter, undocumented status)."""
    validator = "required"
    absolute_path: tuple = ()
    context: list = []

    def __init__(self, message: str) -> None:
        self.message = message


def _resolve(raw: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = raw
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _cast(raw: dict[str, Any], schema: dict[str, Any], value: str) -> Any:
    """Query, path and header values are text; the schema says what they stand for."""
    if "$ref" in schema:
        schema = _resolve(raw, schema["$ref"])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "boolean" in kinds and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if "integer" in kinds:
        try:
            return int(value)
        except ValueError:
            return value
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            return value
    return value
