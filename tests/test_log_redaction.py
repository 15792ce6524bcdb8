"""No secret reaches a log line (issue 8 #5): RPC keys in URLs, tokens, keys; web3 quiet by default.

Through the real parts: web3 over aiohttp against a closed port and a local server answering
429, and the `gpuflow-bot run` process itself with a keyed RPC URL.
"""
from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bot.chain.rpc import make_web3
from bot.observability import redact
from bot.observability.logs import LIBRARIES, configure_logging, rental_scope
from devnet.anvil import free_port
from tests.conftest import test_settings as settings_for

ROOT = Path(__file__).resolve().parents[1]
KEY = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c"          # looks like an Infura/Alchemy project key
TOKEN = "7012345678:AAHk3x9Qz-SECRET-telegram-token"


class TooManyRequests(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(429)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def limited_rpc() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), TooManyRequests)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The bot's own logging set-up, writing to a buffer; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in LIBRARIES})
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    redact.forget_secrets()


async def test_failing_rpc_calls_never_log_the_key(captured: io.StringIO, limited_rpc: int) -> None:
    configure_logging("DEBUG", library_level="DEBUG", stream=captured)   # web3 as talkative as it gets
    log = logging.getLogger("bot.test")
    for url in (f"http://127.0.0.1:{free_port()}/v3/{KEY}",                      # connection refused
                f"http://user:hunter2pass@127.0.0.1:{limited_rpc}/v3/{KEY}?apikey={KEY}"):   # HTTP 429
        w3 = make_web3(url, timeout_s=5)
        try:
            await w3.eth.block_number
        except Exception as exc:   # what a worker's guard does with it
            log.exception("watcher poll failed: %s", exc)
            log.warning("rpc error %r at %s", exc, url)
        else:
            pytest.fail("the RPC call should have failed")
        finally:
            await w3.provider.disconnect()
    text = captured.getvalue()
    assert "url='http://127.0.0.1:%d/…'" % limited_rpc in text         # aiohttp's 429 text, cut
    assert "Making request HTTP. URI: http://127.0.0.1:" in text          # web3's own DEBUG line, cut
    assert "Traceback" in text                                            # the exception text went through
    assert "'Authorization': 'Basic ***'" in text                       # in the 429 error's repr
    assert KEY not in text and "hunter2pass" not in text and "/v3/" not in text
    assert "dXNlcjpodW50ZXIycGFzcw" not in text                          # base64 of user:hunter2pass


def test_configured_secrets_are_masked_wherever_they_appear(captured: io.StringIO, tmp_path: Path) -> None:
    settings = settings_for(None, data_dir=tmp_path, telegram_token=TOKEN,
                            operator_key="0x" + "ab" * 32, chain={"rpc_url": f"https://rpc.example/v3/{KEY}"})
    configure_logging("INFO", stream=captured, settings=settings)
    log = logging.getLogger("bot.test")
    log.info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info("token %s, key %s, bare key %s", TOKEN, "0x" + "AB" * 32, "ab" * 32)
    log.info("rpc key %s alone", KEY)
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    text = captured.getvalue()
    assert TOKEN not in text and "ab" * 32 not in text.lower() and KEY not in text
    assert "token ***, key ***, bare key ***" in text and "rpc key *** alone" in text
    assert "RuntimeError: bad token ***" in text


def test_json_lines_carry_the_rental_and_no_secret(captured: io.StringIO) -> None:
    configure_logging("INFO", json_lines=True, stream=captured)
    log = logging.getLogger("bot.services.fulfilment")
    log.warning("refund of rental %s not sent: %s", 12, f"url='https://rpc.example/v3/{KEY}'")
    with rental_scope(7):
        log.info("provisioning")
    log.info("other", extra={"rental_id": 9})
    try:
        raise ConnectionError(f"https://rpc.example/v3/{KEY}")
    except ConnectionError:
        log.exception("settle deferred")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line.get("rental_id") for line in lines] == [12, 7, 9, None]
    assert lines[0]["msg"] == "refund of rental 12 not sent: url='https://rpc.example/…'"
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "bot.services.fulfilment"
    assert "ConnectionError: https://rpc.example/…" in lines[3]["exc"]
    assert KEY not in captured.getvalue()


def _run_bot(tmp_path: Path, rpc_url: str, *args: str, env: dict[str, str] | None = None, probe=None) -> str:
    """`gpuflow-bot run` until the watcher has failed a few polls (then `probe()`), then Ctrl-C;
    returns stderr."""
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[chain]\nrpc_url = "{rpc_url}"\npoll_interval_s = 0.2\n'
                   f'escrow_address = "0x{"42" * 20}"\n')
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    full_env.update(env or {}, PYTHONPATH=str(ROOT))
    err = tmp_path / "stderr.txt"
    with err.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "handlers.cli", "--config", str(cfg), *args, "run"],
                                cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=fh)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and err.read_text().count("watcher poll failed") < 3:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        if probe is not None and proc.poll() is None:
            probe()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return err.read_text()


def test_the_running_bot_logs_rpc_failures_without_the_key(tmp_path: Path, limited_rpc: int) -> None:
    url = f"http://127.0.0.1:{limited_rpc}/v3/{KEY}"
    quiet = _run_bot(tmp_path, url, "--log-level", "DEBUG")
    assert "watcher poll failed" in quiet, quiet[-2000:]
    assert "web3." not in quiet                       # web3 is quiet by default, even at --log-level DEBUG
    talkative = _run_bot(tmp_path, url, "--log-level", "DEBUG", env={"GPUFLOW_LOG__LIBRARY_LEVEL": "DEBUG"})
    assert "Making request HTTP. URI: http://127.0.0.1:" in talkative, talkative[-2000:]
    as_json = _run_bot(tmp_path, url, env={"GPUFLOW_LOG__FORMAT": "json", "GPUFLOW_LOG__LIBRARY_LEVEL": "DEBUG",
                                           "GPUFLOW_LOG__LEVEL": "DEBUG"})
    records = [json.loads(line) for line in as_json.splitlines() if line.startswith("{")]
    assert any("watcher poll failed" in r["msg"] for r in records)
    for text in (quiet, talkative, as_json):
        assert KEY not in text and "Traceback" not in text


def test_the_running_bot_serves_its_metrics(tmp_path: Path, limited_rpc: int) -> None:
    import urllib.request

    port = free_port()
    scraped: list[str] = []

    def probe() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            scraped.append(resp.read().decode())

    _run_bot(tmp_path, f"http://127.0.0.1:{limited_rpc}/v3/{KEY}", env={"GPUFLOW_METRICS__PORT": str(port)},
             probe=probe)
    assert scraped, "nothing served /metrics"
    failures = [line for line in scraped[0].splitlines() if line.startswith("gpuflow_rpc_errors_total{")]
    assert failures and all(float(line.rsplit(" ", 1)[1]) >= 1 for line in failures), scraped[0][:2000]
    assert 'gpuflow_rentals{state="active"} 0.0' in scraped[0]
