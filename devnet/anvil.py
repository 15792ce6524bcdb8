"""Start a real anvil chain on a free loopback port for tests, benchmarks and the demo.

anvil comes from the pinned npm package (@foundry-rs/anvil-linux-amd64) in node_modules
(`npm ci` at the repository root). It is started with --prune-history so it leaves nothing
behind under ~/.foundry.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]          # the repository (devnet/ is installed editable)
NODE_MODULES = ROOT / "node_modules"
ANVIL_BIN = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"

# anvil's default mnemonic ("test test ... junk") accounts; well-known public test keys.
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Anvil:
    """A running anvil process; use as a context manager or call stop()."""

    port: int
    chain_id: int = 31337
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rpc(self, method: str, params: list | None = None):
        """Plain synchronous JSON-RPC (for fixtures: time travel, snapshots, mining)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
        req = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Anvil":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_anvil(*extra_args: str, chain_id: int = 31337, timeout: float = 10.0) -> Anvil:
    """Start anvil and wait until it answers JSON-RPC."""
    if not ANVIL_BIN.exists():
        raise RuntimeError(f"anvil not found at {ANVIL_BIN}: run `make test` (npm ci) first")
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id),
         "--prune-history", "256", "--silent", *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    node = Anvil(port=port, chain_id=chain_id, proc=proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"anvil exited: {proc.stderr.read().decode(errors='replace')[:500]}")
        try:
            node.rpc("eth_chainId")
            return node
        except OSError:
            time.sleep(0.02)
    node.stop()
    raise RuntimeError("anvil did not answer in time")
