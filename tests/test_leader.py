"""One back office per database: PostgreSQL elects a leader among processes (a standby takes over
when the leader is SIGKILLed); SQLite refuses a second process with a plain message."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.leader import AnotherProcessRunning, SqliteProcessLock, leadership_for

ROOT = Path(__file__).resolve().parents[1]


def _spawn(database_url: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.support.leader_child", database_url], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _read(proc: subprocess.Popen, seconds: float, until: str | None = None) -> list[str]:
    """Lines the process printed within `seconds`, stopping early at one starting with `until`."""
    out, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line.strip())
        if until and line.startswith(until):
            break
    return out


def _wait_for_tick(proc: subprocess.Popen, seconds: float) -> float | None:
    lines = _read(proc, seconds, until="TICK ")
    return time.monotonic() if lines and lines[-1].startswith("TICK ") else None


PG_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)   # SQLite: the process lock


@PG_ONLY
def test_standby_takes_over_when_the_leader_is_killed(database_url):
    from bot.app import migrate_database
    from bot.config import Settings
    import asyncio

    asyncio.run(migrate_database(Settings(database_url=database_url)))
    first = _spawn(database_url)
    second = None
    try:
        assert _wait_for_tick(first, 30) is not None, "the first process never led"
        second = _spawn(database_url)
        started = _read(second, 60, until="READY")      # start-up is slow on a loaded machine
        assert started and started[-1].startswith("READY"), started
        standby = _read(second, 2.0)                     # it stands by: no tick while the leader lives
        assert not any(line.startswith("TICK") for line in started + standby), "two processes led at once"
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        took_over = _wait_for_tick(second, 20)
        assert took_over is not None, "the standby never took over"
        assert took_over - killed < 10      # retry_s is 0.2 s: seconds, even on a loaded machine
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


@PG_ONLY
def test_two_leaderships_in_one_schema_never_both_lead(database_url):
    import asyncio

    async def scenario() -> None:
        a, _ = leadership_for(database_url)
        b, _ = leadership_for(database_url)
        try:
            assert await a.check() is True
            b.retry_s = 0
            assert await b.check() is False
            assert await a.check() is True      # still leading: one cheap query
            await a.close()                     # the leader goes away; the server frees its lock soon after
            for _ in range(50):
                if await b.check():
                    break
                await asyncio.sleep(0.1)
            assert b.is_leader
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_sqlite_refuses_a_second_process(tmp_path):
    db = tmp_path / "gpuflow.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from bot.leader import SqliteProcessLock\n"
        f"SqliteProcessLock(Path({str(db)!r})).acquire(); print('held', flush=True); time.sleep(60)")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AnotherProcessRunning, match=rf"pid {holder.pid}\).*PostgreSQL"):
            SqliteProcessLock(db).acquire()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GPUFLOW_DATA_DIR": str(tmp_path),
               "GPUFLOW_CHAIN__ESCROW_ADDRESS": "0x" + "11" * 20}
        run = subprocess.run([sys.executable, "-m", "handlers.cli", "run", "--only", "worker"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 1
        assert "another gpuflow-bot process" in run.stderr and "Traceback" not in run.stderr
    finally:
        holder.kill()
        holder.wait()
    lock = SqliteProcessLock(db)        # the holder is gone: the lock is free again
    lock.acquire()
    assert (db.with_name("gpuflow.db.lock").stat().st_mode & 0o777) == 0o600
    lock.release()


@PG_ONLY
def test_processes_starting_together_migrate_one_at_a_time(database_url):
    """Three processes (worker, discord, telegram) migrating an empty schema at once all succeed."""
    code = ("import asyncio, sys; from bot.app import migrate_database; from bot.config import Settings\n"
            "print(asyncio.run(migrate_database(Settings(database_url=sys.argv[1]))))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, database_url], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-400:] for _, err in results]
    heads = {out.strip() for out, _ in results}
    assert len(heads) == 1 and None not in heads
