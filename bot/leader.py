"""Who may run the back office: exactly one process per database.

Only the leader sends chain transactions, so one operator key is never used by two processes
(their nonces would clash) and no rental is provisioned or settled by two workers at once.

- PostgreSQL: a session-level advisory lock held on one dedicated connection. The server frees it
  the moment that connection dies (a SIGKILLed process's socket closes), so a standby that retries
  every `retry_s` takes over within about that long. Losing the connection loses leadership: the
  holder notices on its next `check()` and stops leading until it wins the lock again.
- SQLite: there is no second process to lead. An exclusive `flock` on a file beside the database
  makes a second writer process refuse to start with a plain message instead of fighting over
  the file (SQLite is the single-process default).
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
LOCK_KEY = 0x6770_7566_6C6F_77   # "gpuflow": the advisory lock's key, fixed for every deployment


class AnotherProcessRunning(RuntimeError):
    """A second process tried to open a SQLite store another process is using."""


class SqliteProcessLock:
    """Holds an exclusive lock on `<db>.lock` for the life of the process."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise AnotherProcessRunning(
                    f"another gpuflow-bot process (pid {holder}) is using the SQLite database {self.path.parent}; "
                    "SQLite serves one process: stop it first, or use PostgreSQL to run several processes"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)       # closing drops the flock
            self._fd = None


class Leadership:
    """Always the leader (SQLite: the process lock already made this the only process)."""

    is_leader = True

    async def check(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class PostgresLeadership(Leadership):
    """Leader while holding `pg_try_advisory_lock(LOCK_KEY)` on a connection of its own."""

    def __init__(self, dsn: str, *, schema: str | None = None, retry_s: float = 1.0) -> None:
        self.dsn = dsn
        self.schema = schema
        self.retry_s = retry_s
        self.is_leader = False
        self._conn = None
        self._next_try = 0.0

    def _key(self) -> int:
        # one lock per schema, so tests (a schema each) and several deployments on one server never meet
        return LOCK_KEY if not self.schema else stable_hash(f"gpuflow:{self.schema}") & 0x7FFF_FFFF_FFFF_FFFF

    async def check(self) -> bool:
        """True while this process leads. Cheap when nothing changed: one `SELECT 1` on the
        leader's connection; a standby tries for the lock at most every `retry_s`."""
        import asyncpg

        loop = asyncio.get_running_loop()
        if self.is_leader:
            try:
                await self._conn.fetchval("SELECT 1", timeout=5)
                return True
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError, asyncpg.InterfaceError):
                log.warning("lost the leader's database connection; stepping down")
                await self._drop()
        if loop.time() < self._next_try:
            return False
        self._next_try = loop.time() + self.retry_s
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(self.dsn, timeout=5)
            won = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key(), timeout=5)
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError, asyncpg.InterfaceError) as exc:
            log.warning("leader election: database unreachable (%s); retrying", type(exc).__name__)
            await self._drop()
            return False
        if won:
            log.warning("this process now leads the back office (chain transactions, provisioning)")
        self.is_leader = bool(won)
        return self.is_leader

    async def _drop(self) -> None:
        self.is_leader = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 2)    # a clean goodbye frees the lock at once
            except Exception:  # noqa: BLE001 - a dead connection: dropping it is all that is left
                conn.terminate()

    async def close(self) -> None:
        await self._drop()


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (Python's own str hash is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def leadership_for(database_url: str) -> tuple[Leadership, SqliteProcessLock | None]:
    """The leadership for this store, and (SQLite) the process lock to acquire at start."""
    from sqlalchemy import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "gpuflow.db")
        return Leadership(), (SqliteProcessLock(db) if url.database not in (None, "", ":memory:") else None)
    schema = url.query.get("schema")
    plain = url.difference_update_query(["schema"]).set(drivername="postgresql")
    return PostgresLeadership(plain.render_as_string(hide_password=False), schema=schema), None
