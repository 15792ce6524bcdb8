"""Persistence of sessions and of the client identity, sealed at rest.

Why a tiny protocol: the bot's database layer provides its own SessionStore; this package only
needs `load_all`, `save` and `delete` of JSON-able records keyed by a string.
"""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Record = dict[str, Any]


@runtime_checkable
class SessionStore(Protocol):
    """Where WalletConnect state lives between restarts. Records hold secrets: seal them."""

    async def load_all(self) -> dict[str, Record]: ...

    async def save(self, key: str, record: Record) -> None: ...

    async def delete(self, key: str) -> None: ...


class Sealer(Protocol):
    """What bot.crypto.SecretBox offers; anything with the same two methods works."""

    def seal(self, plaintext: bytes, purpose: str) -> str: ...

    def open(self, token: str, purpose: str) -> bytes: ...


class KeyValueBackend(Protocol):
    """A plain string-to-string store (a file, a DB table, redis...)."""

    async def items(self) -> dict[str, str]: ...

    async def put(self, key: str, value: str) -> None: ...

    async def remove(self, key: str) -> None: ...


class MemoryBackend:
    """For tests and short-lived processes."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def items(self) -> dict[str, str]:
        return dict(self.data)

    async def put(self, key: str, value: str) -> None:
        self.data[key] = value

    async def remove(self, key: str) -> None:
        self.data.pop(key, None)


class FileBackend:
    """One JSON file, rewritten atomically (temp file + rename), mode 0600."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    def _read(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".wc-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def items(self) -> dict[str, str]:
        async with self._lock:
            return await asyncio.to_thread(self._read)

    async def put(self, key: str, value: str) -> None:
        async with self._lock:
            data = await asyncio.to_thread(self._read)
            data[key] = value
            await asyncio.to_thread(self._write, data)

    async def remove(self, key: str) -> None:
        async with self._lock:
            data = await asyncio.to_thread(self._read)
            if data.pop(key, None) is not None:
                await asyncio.to_thread(self._write, data)


class SealedStore:
    """A SessionStore that seals each record (bound to its key) before it reaches the backend."""

    PURPOSE = "walletconnect:"

    def __init__(self, sealer: Sealer, backend: KeyValueBackend) -> None:
        self._sealer = sealer
        self._backend = backend

    async def load_all(self) -> dict[str, Record]:
        out: dict[str, Record] = {}
        for key, token in (await self._backend.items()).items():
            out[key] = json.loads(self._sealer.open(token, self.PURPOSE + key))
        return out

    async def save(self, key: str, record: Record) -> None:
        token = self._sealer.seal(json.dumps(record, separators=(",", ":")).encode(), self.PURPOSE + key)
        await self._backend.put(key, token)

    async def delete(self, key: str) -> None:
        await self._backend.remove(key)
