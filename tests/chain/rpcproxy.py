"""A JSON-RPC HTTP proxy in front of anvil that counts calls per method and can misbehave on purpose:
black-hole (never answer) the next N calls of a method, answer them with an HTTP status (429) or a
JSON-RPC error ("nonce too low"), deliver every log of eth_getLogs twice, or go away entirely
(connection refused) and come back on the same port. Used by the watcher and worker tests and by
bench/chain_watcher.py to count RPC calls honestly (on the wire)."""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.anvil import free_port

ANY = "*"     # a key of blackhole/http_status/rpc_error that matches every method


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.blackhole: Counter[str] = Counter()   # method -> how many more calls to swallow
        self.blackhole_s = 3.0
        self.http_status: dict[str, tuple[int, int]] = {}    # method -> (status, how many more calls)
        self.rpc_error: dict[str, tuple[str, int]] = {}      # method -> (message, how many more calls)
        self.duplicate_logs = False
        self.port = free_port()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _take(self, table: dict, methods: list[str]):
        for m in methods:
            for key in (m, ANY):
                if key in table and table[key][1] > 0:
                    value, left = table[key]
                    table[key] = (value, left - 1)
                    return value
        return None

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                methods = [r["method"] for r in request] if isinstance(request, list) else [request["method"]]
                swallow = False
                with proxy._lock:
                    proxy.calls.update(methods)
                    for m in methods:
                        for key in (m, ANY):
                            if proxy.blackhole[key] > 0:
                                proxy.blackhole[key] -= 1
                                swallow = True
                                break
                    status = proxy._take(proxy.http_status, methods)
                    error = proxy._take(proxy.rpc_error, methods)
                if swallow:
                    time.sleep(proxy.blackhole_s)
                    self.close_connection = True
                    return
                if status is not None:
                    self._answer(status, b'{"error": "too many requests"}')
                    return
                if error is not None and not isinstance(request, list):
                    self._answer(200, json.dumps({"jsonrpc": "2.0", "id": request.get("id"),
                                                  "error": {"code": -32000, "message": error}}).encode())
                    return
                req = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    answer = resp.read()
                if proxy.duplicate_logs and methods == ["eth_getLogs"]:
                    parsed = json.loads(answer)
                    if isinstance(parsed.get("result"), list):
                        parsed["result"] = [x for log in parsed["result"] for x in (log, log)]
                        answer = json.dumps(parsed).encode()
                self._answer(200, answer)

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def up(self) -> None:
        """Listen (again) on the proxy's port."""
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: every call gets "connection refused" until up()."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> "RpcProxy":
        self.up()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.down()
