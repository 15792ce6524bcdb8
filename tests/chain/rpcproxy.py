"""A JSON-RPC HTTP proxy in front of anvil that counts calls per method and can misbehave on purpose:
black-hole (never answer) the next N calls of a method, or deliver every log of eth_getLogs twice.
Used by the watcher tests and by bench/chain_watcher.py to count RPC calls honestly (on the wire)."""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.anvil import free_port


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.blackhole: Counter[str] = Counter()   # method -> how many more calls to swallow
        self.blackhole_s = 3.0
        self.duplicate_logs = False
        self.port = free_port()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                methods = [r["method"] for r in request] if isinstance(request, list) else [request["method"]]
                swallow = False
                with proxy._lock:
                    proxy.calls.update(methods)
                    for m in methods:
                        if proxy.blackhole[m] > 0:
                            proxy.blackhole[m] -= 1
                            swallow = True
                if swallow:
                    time.sleep(proxy.blackhole_s)
                    self.close_connection = True
                    return
                req = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    answer = resp.read()
                if proxy.duplicate_logs and methods == ["eth_getLogs"]:
                    parsed = json.loads(answer)
                    if isinstance(parsed.get("result"), list):
                        parsed["result"] = [x for log in parsed["result"] for x in (log, log)]
                        answer = json.dumps(parsed).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def __enter__(self) -> "RpcProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
