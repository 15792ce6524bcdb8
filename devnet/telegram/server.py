"""The emulator on loopback HTTP, laid out like api.telegram.org.

`{base}/bot<token>/<method>` (GET or POST; query, urlencoded, JSON or multipart) answers
`{"ok": true, "result": ...}` or an error body with the same HTTP status; a wrong token is 401
"Unauthorized", a malformed one 404 "Not Found". Files the bot sent are downloadable under
`{base}/file/bot<token>/<file_path>` (the path getFile returned).
"""
from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .decode import read_params, typed_params
from .emulator import TelegramEmulator

_TOKEN_SHAPE = r"[0-9]+:[A-Za-z0-9_-]+"


class EmulatorServer:
    def __init__(self, emu: TelegramEmulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emu, self.host, self.port = emu, host, port
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """What `ApplicationBuilder().base_url(...)` takes (the token is appended)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token}/{method}", self._method)
        app.router.add_get(r"/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.emu.updates.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _method(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token != self.emu.token:
            shaped = re.fullmatch(_TOKEN_SHAPE, token) is not None
            status, text = (401, "Unauthorized") if shaped else (404, "Not Found")
            return _json(status, {"ok": False, "error_code": status, "description": text})
        method_raw = request.match_info["method"]
        try:
            raw, files = await read_params(request)
        except (ValueError, json.JSONDecodeError) as exc:
            self.emu.note(f"{method_raw}: unreadable request body ({exc})")
            return _json(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid request body"})
        method = self.emu.spec.method_name(method_raw)
        params = typed_params(self.emu.spec, method, raw, files) if method else raw
        status, body = await self.emu.call(method_raw, params)
        return _json(status, body)

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.emu.token:
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        path = request.match_info["path"]
        stored = next((f for f in self.emu.world.files.values() if f.path == path), None)
        if stored is None:
            return _json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return web.Response(body=stored.content, content_type=stored.mime_type)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
