"""Discord's official OpenAPI description as a validator for the emulator's traffic.

Every request the bot sends and every answer the emulator gives is checked with openapi-core
against `/work/shared/specs/discord/openapi.json` (or `GPUFLOW_DISCORD_SPEC`). Two quirks are
handled here, as the specs README says: discord.py sends some snowflakes as JSON integers while
the spec types every snowflake as a string, so integers are coerced to strings exactly where the
schema allows a snowflake (schema-guided: a component's integer `id` stays an integer); and the
spec's custom formats (`snowflake`, `nonce`) get format checkers. Multipart bodies are checked as
the JSON their `payload_json` part carries, which is how Discord reads them.
"""
from __future__ import annotations

import functools
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_PATH = Path(os.environ.get("GPUFLOW_DISCORD_SPEC", "/work/shared/specs/discord/openapi.json"))
SERVER = "https://discord.com"
PREFIX = "/api/v10"
_SNOWFLAKE_REF = "#/components/schemas/SnowflakeType"
_COMBINERS = ("oneOf", "anyOf", "allOf")


@dataclass(frozen=True)
class Operation:
    template: str          # "/channels/{channel_id}/messages"
    method: str            # "post"
    body_schema: dict[str, Any] | None
    params: dict[str, str]  # path parameters as written in the URL


def _is_snowflake_str(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]*", value) is not None


class ApiSpec:
    """Loaded once per process (`load_spec()`). Two engines give the same verdicts: compiled
    jsonschema validators (default, ~1 ms a request) and openapi-core (`engine="openapi-core"`
    or GPUFLOW_DISCORD_SPEC_ENGINE=openapi-core), kept as the reference the first is checked against."""

    def __init__(self, path: Path = SPEC_PATH, engine: str | None = None) -> None:
        from devnet.discord.schemas import CompiledSpec

        self.raw: dict[str, Any] = json.loads(path.read_text())
        self.engine = engine or os.environ.get("GPUFLOW_DISCORD_SPEC_ENGINE", "jsonschema")
        self.compiled = CompiledSpec(self.raw)
        self._api: Any = None
        self._routes = self._compile_routes()
        self._branch_cache: dict[int, list[dict[str, Any]]] = {}

    @property
    def api(self) -> Any:
        """openapi-core's view of the file, built on first use."""
        if self._api is None:
            from openapi_core import Config, OpenAPI

            formats = {"snowflake": _is_snowflake_str, "nonce": lambda v: isinstance(v, str) and len(v) <= 25}
            # The spec itself is not re-validated (4 s) on every load: it is Discord's published file.
            self._api = OpenAPI.from_dict(self.raw, config=Config(spec_validator_cls=None,
                                                                  extra_format_validators=formats))
        return self._api

    # -- routing ------------------------------------------------------------------------------
    def _compile_routes(self) -> list[tuple[re.Pattern[str], str]]:
        routes = []
        for template in self.raw["paths"]:
            pattern = re.sub(r"\\\{([a-z_0-9]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            routes.append((re.compile(f"^{pattern}$"), template))
        # literal segments (/users/@me) win over parameters (/users/{user_id})
        routes.sort(key=lambda r: r[1].count("{"))
        return routes

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template in self._routes:
            found = pattern.match(path)
            if found:
                op = self.raw["paths"][template].get(method.lower())
                if op is None:
                    return None
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
                return Operation(template, method.lower(), body.get("schema"), found.groupdict())
        return None

    # -- snowflake coercion ---------------------------------------------------------------------
    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            ref = schema["$ref"]
            if ref == _SNOWFLAKE_REF:
                return schema
            node: Any = self.raw
            for part in ref.lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def _branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The schema and every oneOf/anyOf/allOf alternative under it (the file never changes,
        so this is memoised by the schema object's identity)."""
        cached = self._branch_cache.get(id(schema))
        if cached is not None:
            return cached
        resolved = self._resolve(schema)
        out = [resolved]
        for key in _COMBINERS:
            for sub in resolved.get(key, []):
                out.extend(self._branches(sub))
        self._branch_cache[id(schema)] = out
        return out

    def _allows_snowflake(self, branches: list[dict[str, Any]]) -> bool:
        return any(b.get("$ref") == _SNOWFLAKE_REF or b.get("format") == "snowflake" for b in branches)

    def coerce(self, schema: dict[str, Any] | None, value: Any, depth: int = 0) -> Any:
        """Integer snowflakes to strings, only where the schema expects a snowflake."""
        if schema is None or depth > 40:
            return value
        branches = self._branches(schema)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value) if self._allows_snowflake(branches) else value
        if isinstance(value, list):
            items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
            return [self._coerce_any(items, v, depth) for v in value]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                props = [b["properties"][key] for b in branches if key in b.get("properties", {})]
                props += [b["additionalProperties"] for b in branches
                          if isinstance(b.get("additionalProperties"), dict)]
                out[key] = self._coerce_any(props, item, depth)
            return out
        return value

    def _coerce_any(self, schemas: list[dict[str, Any]], value: Any, depth: int) -> Any:
        """The first candidate schema whose coercion changes anything wins."""
        for schema in schemas:
            coerced = self.coerce(schema, value, depth + 1)
            if coerced != value:
                return coerced
        return value

    # -- validation -----------------------------------------------------------------------------
    def check_request(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                      body: Any | None) -> list[Problem]:
        """`path` is below /api/v10; `body` is the decoded JSON (or the multipart payload_json)."""
        if self.engine == "openapi-core":
            request = self._request(method, path, query, headers, body)
            return _errors(lambda: self.api.validate_request(request))
        op = self.operation(method, path)
        if op is None:
            return [Problem((), "path", f"{method.upper()} {path} is not an operation of the API")]
        coerced = None if body is None else self.coerce(op.body_schema, body)
        return _from_jsonschema(self.compiled.request_errors(op.template, op.method, op.params, query, coerced))

    def check_response(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                       body: Any | None, status: int, response_headers: dict[str, str],
                       response_body: Any | None) -> list[Problem]:
        if self.engine == "openapi-core":
            from openapi_core.testing import MockResponse

            request = self._request(method, path, query, headers, body)
            data = b"" if response_body is None else json.dumps(response_body).encode()
            response = MockResponse(data, status_code=status, headers=response_headers,
                                    content_type="application/json")
            return _errors(lambda: self.api.validate_response(request, response))
        op = self.operation(method, path)
        if op is None:
            return [Problem((), "path", f"{method.upper()} {path} is not an operation of the API")]
        return _from_jsonschema(self.compiled.response_errors(op.template, op.method, status, response_headers,
                                                              response_body))

    def _request(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: Any | None) -> Any:
        from openapi_core.testing import MockRequest

        op = self.operation(method, path)
        if body is not None and op is not None:
            body = self.coerce(op.body_schema, body)
        data = None if body is None else json.dumps(body).encode()
        return MockRequest(SERVER, method.lower(), PREFIX + path, args=query, headers=headers, data=data,
                           content_type="application/json")

    def check_schema(self, name: str, instance: Any) -> list[str]:
        """Validate an object (e.g. a message inside a gateway event) against a named schema."""
        validator = _schema_validator(self, name)
        return [f"{name}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
                for e in validator.iter_errors(instance)]


@dataclass(frozen=True)
class Problem:
    """One way a body breaks the spec: where (field path), which rule, and the validator's words."""
    path: tuple[str | int, ...]
    rule: str
    message: str

    def __str__(self) -> str:
        where = ".".join(map(str, self.path)) or "<root>"
        return f"{where}: [{self.rule}] {self.message}"


def _errors(call: Any) -> list[Problem]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # "Unsupported scheme type" for the OAuth2 alternative
        try:
            call()
        except Exception as exc:      # openapi-core raises one error type per failure kind
            return _problems(exc)
    return []


_WEAK = {"required", "enum", "const", "type", "oneOf", "anyOf"}


def _closest(errors: list[Any]) -> Any:
    """Among a oneOf's branch errors, the branch that matched the most: the deepest error that is
    not a mere type/enum mismatch (a button is checked against every component schema)."""
    def score(err: Any) -> tuple[bool, int]:
        if err.context:
            return max(score(sub) for sub in err.context)
        return err.validator not in _WEAK, len(err.absolute_path)
    return max(errors, key=score)


def _from_jsonschema(errors: list[tuple[tuple, Any]]) -> list[Problem]:
    out = []
    for prefix, err in errors[:5]:
        while err.context:
            err = _closest(err.context)
        out.append(Problem(tuple(prefix) + tuple(err.absolute_path), str(err.validator), _short(err.message)))
    return out


def _problems(exc: BaseException) -> list[Problem]:
    found: list[Problem] = []
    cause: BaseException | None = exc
    while cause is not None:
        for err in list(getattr(cause, "schema_errors", None) or [])[:5]:
            while err.context:                  # oneOf/anyOf: the branch that came closest
                err = _closest(err.context)
            found.append(Problem(tuple(err.absolute_path), str(err.validator), _short(err.message)))
        cause = cause.__cause__
    return found or [Problem((), type(exc).__name__, _short(f"{exc} ({exc.__cause__!r})"))]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


@functools.lru_cache(maxsize=None)
def _schema_validator(spec: ApiSpec, name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:discord", DRAFT202012.create_resource(spec.raw))
    schema = {"$ref": f"urn:discord#/components/schemas/{name}"}
    checker = Draft202012Validator.FORMAT_CHECKER
    return Draft202012Validator(schema, registry=registry, format_checker=checker)


@functools.lru_cache(maxsize=1)
def load_spec() -> ApiSpec:
    return ApiSpec()
