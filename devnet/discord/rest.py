"""The REST half of the emulator: one aiohttp handler in front of the route table.

Per request: record it, check the bot token, decode JSON or multipart (payload_json + files[n]),
validate against Discord's OpenAPI file, apply injected faults and rate-limit buckets, run the
route, validate the answer, and answer with exactly `Content-Type: application/json` (discord.py
compares that header literally) plus the rate-limit headers and `Via` (discord.py treats a 429
without `Via` as a Cloudflare ban, not a rate limit).
"""
from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devnet.discord.errors import (ALREADY_ACKNOWLEDGED, EMPTY_MESSAGE, INVALID_FORM_BODY, DiscordError,
                                   invalid_body)
from devnet.discord.faults import rate_limited
from devnet.discord.router import Call, Reply, Router, Upload
from devnet.discord.spec import PREFIX

if TYPE_CHECKING:
    from devnet.discord.emulator import DiscordEmulator

# Errors that mean the bot sent something Discord refuses as malformed: each is a violation.
VIOLATION_CODES = {INVALID_FORM_BODY, EMPTY_MESSAGE, ALREADY_ACKNOWLEDGED}
MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "application_id", "interaction_id")


class RestApi:
    def __init__(self, emu: DiscordEmulator, router: Router) -> None:
        self.emu = emu
        self.router = router

    async def handle(self, request: web.Request) -> web.StreamResponse:
        emu = self.emu
        method, path = request.method, request.path[len(PREFIX):]
        query = dict(request.query)
        req_headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        emu.requests.append((method, path))
        found = self.router.match(method, path)
        if found is None:
            if emu.spec.operation(method, path) is not None:
                emu.violation("unimplemented", method, path, "route exists at Discord but not in the emulator")
            return _json(404, {"message": "404: Not Found", "code": 0})
        route, params = found
        if route.auth and request.headers.get("Authorization") != f"Bot {emu.state.token}":
            return _json(401, {"message": "401: Unauthorized", "code": 0})
        try:
            body, files = await _read_body(request)
        except DiscordError as exc:
            emu.violation("body", method, path, exc.message)
            return _json(exc.status, exc.body())
        problems = emu.spec.check_request(method, path, query, req_headers, body)
        if problems:
            emu.violation("spec-request", method, path, "; ".join(map(str, problems)))
            return _json(400, invalid_body(problems).body())

        major = next((params[p] for p in MAJOR_PARAMS if p in params), "")
        if "webhook_token" in params:      # interaction webhooks: a bucket per token, not per application
            major = f"{major}:{params['webhook_token']}"
        route_key = f"{method} {route.template}"
        fault = emu.faults.take(method, path)
        if fault is not None and fault.status == 429:
            bucket_body, hdrs = rate_limited(fault.retry_after, fault.scope, "fault")
            return _json(429, bucket_body, hdrs)
        allowed, hdrs, retry_after = emu.buckets.spend(route_key, major)
        if not allowed:
            bucket_body, limited_hdrs = rate_limited(round(retry_after, 3), "user", hdrs["X-RateLimit-Bucket"])
            return _json(429, bucket_body, limited_hdrs)
        if fault is not None and not fault.after_commit:
            return _json(fault.status, {"message": f"{fault.status}: Internal Server Error", "code": 0})

        call = Call(emu, method, path, route.template, params, query, body, files)
        try:
            reply = await route.handler(call)
        except DiscordError as exc:
            if exc.code in VIOLATION_CODES:
                emu.violation(f"refused-{exc.code}", method, path, json.dumps(exc.body())[:800])
            reply = Reply(exc.status, exc.body())
        if fault is not None:
            return _json(fault.status, {"message": f"{fault.status}: Internal Server Error", "code": 0})

        checked = _spec_view(reply)
        problems = emu.spec.check_response(method, path, query, req_headers, body, reply.status, hdrs, checked)
        if problems:
            emu.violation("spec-response", method, path, "; ".join(map(str, problems)))
        if reply.status == 204:
            return web.Response(status=204, headers={**hdrs, "Via": "1.1 google"})
        return _json(reply.status, reply.body, hdrs)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    hdrs = {**(headers or {}), "Content-Type": "application/json", "Via": "1.1 google"}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=hdrs)


def _spec_view(reply: Reply) -> Any:
    """The spec types a field error's `code` as an integer; Discord sends strings such as
    "BASE_TYPE_MAX_LENGTH". Error bodies are checked with those codes set to 0 (a spec quirk)."""
    if reply.status < 400 or not isinstance(reply.body, dict) or "errors" not in reply.body:
        return reply.body
    body = copy.deepcopy(reply.body)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for item in node.get("_errors", []):
                item["code"] = 0
            for key, value in node.items():
                if key != "_errors":
                    walk(value)

    walk(body["errors"])
    return body


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    ctype = request.headers.get("Content-Type", "")
    if not request.can_read_body:
        return None, []
    if ctype.startswith("multipart/form-data"):
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return None, []
    if not ctype.startswith("application/json"):
        raise DiscordError(400, 50035, f"Unsupported content type {ctype!r}")
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None


async def _read_multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    reader = await request.multipart()
    payload: Any = None
    files: list[Upload] = []
    while True:
        part = await reader.next()
        if part is None:
            break
        name = part.name or ""       # type: ignore[union-attr]
        data = await part.read(decode=False)   # type: ignore[union-attr]
        if name == "payload_json":
            try:
                payload = json.loads(data)
            except ValueError:
                raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
        elif name.startswith("files[") and name.endswith("]"):
            try:
                index = int(name[6:-1])
            except ValueError:
                raise DiscordError(400, INVALID_FORM_BODY, f"bad file field {name!r}") from None
            files.append(Upload(index, part.filename or "file", bytes(data),   # type: ignore[union-attr]
                                part.headers.get("Content-Type")))            # type: ignore[union-attr]
        else:
            raise DiscordError(400, INVALID_FORM_BODY, f"unexpected multipart field {name!r}")
    return payload, files

