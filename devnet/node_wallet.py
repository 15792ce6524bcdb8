"""Drive devnet/wallet.mjs (the official WalletKit) as a subprocess and read its JSON events.

It plays a person's phone wallet in the tests and the demo; node resolves @reown/walletkit from
the repository's node_modules (`npm ci`).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]          # the repository, whose node_modules the script uses
SCRIPT = Path(__file__).with_name("wallet.mjs")


class NodeWallet:
    """One running wallet process; every stdout line is a JSON event."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.stderr_tail: list[str] = []
        self._err_reader = asyncio.create_task(self._read_err())

    @classmethod
    async def start(cls, config: dict[str, Any], tmp_dir: Path) -> "NodeWallet":
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        env = {**os.environ, "HOME": str(tmp_dir), "TMPDIR": str(tmp_dir)}
        proc = await asyncio.create_subprocess_exec(
            node, str(SCRIPT), json.dumps(config), cwd=str(tmp_dir), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout
        async for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "event" in event:
                    self.events.append(event)
                    self._queue.put_nowait(event)

    async def _read_err(self) -> None:
        assert self.proc.stderr
        async for line in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + [line.decode(errors="replace").rstrip()])[-40:]

    async def wait_for(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """The next event called `name` (earlier events of other names are skipped, kept in .events)."""
        async def _next() -> dict[str, Any]:
            while True:
                event = await self._queue.get()
                if event["event"] == name:
                    return event
        try:
            return await asyncio.wait_for(_next(), timeout)
        except TimeoutError:
            raise AssertionError(f"wallet never sent {name!r}; events={self.events} "
                                 f"stderr={self.stderr_tail[-10:]}") from None

    async def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in (self._reader, self._err_reader):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
