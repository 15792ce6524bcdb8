"""What a renter's key allows and until when (issue 8, item 7), with the real ssh client, sshd and
helper: a shell with a pty but no forwarding (unless the offer allows it), and sessions that the
host itself ends at the expiry, with the bot gone."""
from __future__ import annotations

import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.ssh import SshPool, provision, revoke
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.support.sshd import SshdServer


@pytest.fixture
def service() -> Iterator[int]:
    """A private service on the host's loopback (a database, say) that answers `hello`."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def ssh_argv(sshd: SshdServer, user: str, key: Path, *extra: str) -> list[str]:
    return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-i", str(key), "-p", str(sshd.port), *extra, f"{user}@127.0.0.1"]


def through_local_forward(sshd: SshdServer, user: str, key: Path, service_port: int) -> bytes:
    """`ssh -N -L` to the service, then one connection through it: what comes back."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    tunnel = subprocess.Popen(ssh_argv(sshd, user, key, "-N", "-L", f"{local}:127.0.0.1:{service_port}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", local), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or tunnel.poll() is not None:
                    raise AssertionError("the tunnel never listened") from None
                time.sleep(0.05)
        with conn:
            try:
                return conn.recv(64)
            except OSError:
                return b""
    finally:
        tunnel.kill()
        tunnel.wait()


async def rent(sshd: SshdServer, pool: SshPool, tmp_path: Path, **kw) -> tuple[str, Path, str]:
    user = "r_" + secrets.token_hex(5)
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090, **kw)
    assert result.ok, result.reason
    return user, write_key(tmp_path, user, result.credentials.private_key), result.credentials.public_key


async def test_a_renter_gets_a_pty_but_no_forwarding(sshd: SshdServer, pool: SshPool, tmp_path: Path,
                                                     service: int) -> None:
    user, key, _ = await rent(sshd, pool, tmp_path)
    try:
        assert through_local_forward(sshd, user, key, service) == b""
        stdio = subprocess.run(ssh_argv(sshd, user, key, "-W", f"127.0.0.1:{service}"), capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=20)
        assert stdio.returncode != 0 and b"hello" not in stdio.stdout
        tty = subprocess.run(ssh_argv(sshd, user, key, "-tt") + ["tty"], capture_output=True,
                             stdin=subprocess.DEVNULL, timeout=20)
        assert tty.stdout.startswith(b"/dev/pts/"), (tty.stdout, tty.stderr)
    finally:
        await revoke(pool, sshd.target(), user)


async def test_an_offer_may_allow_port_forwarding(sshd: SshdServer, pool: SshPool, tmp_path: Path,
                                                  service: int) -> None:
    user, key, _ = await rent(sshd, pool, tmp_path, port_forwarding=True)
    try:
        assert through_local_forward(sshd, user, key, service) == b"hello\n"
    finally:
        await revoke(pool, sshd.target(), user)


def expiry_in(seconds: int) -> str:
    """A helper EXPIRY with seconds (the bot sends whole minutes; the helper takes both)."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_the_host_ends_open_sessions_at_expiry_without_the_bot(sshd: SshdServer, tmp_path: Path) -> None:
    pool = SshPool()
    user, key, public = await rent(sshd, pool, tmp_path)
    await pool.aclose()  # the bot is gone from here on
    session = subprocess.Popen(ssh_argv(sshd, user, key) + ["echo started; sleep 300"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        assert session.stdout.readline() == b"started\n"
        # an expiry that is pushed out again before it comes does not end anything
        for expiry in (expiry_in(3), (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")):
            out = sshd.run_helper("create", user, expiry, stdin=public.encode())
            assert out.returncode == 0, out.stderr
        time.sleep(5)
        assert session.poll() is None, "the session ended at an expiry that had been pushed out"
        out = sshd.run_helper("create", user, expiry_in(3), stdin=public.encode())
        assert out.returncode == 0, out.stderr
        ended = time.monotonic()
        session.wait(timeout=15)
        assert time.monotonic() - ended < 12
        while sshd.user_exists(user) and time.monotonic() - ended < 20:  # the reaper goes on to delete it
            time.sleep(0.1)
        assert not sshd.user_exists(user) and not (sshd.key_dir / user).exists()
        assert sshd.ssh(user, key, "true").returncode == 255
    finally:
        session.kill()
        session.wait()
        sshd.run_helper("revoke", user)
