"""Connections to provider hosts.

One SSH connection per host is kept and reused (a handshake costs more than the command);
at most `per_host` commands run on it at once, below sshd's default MaxSessions of 10.
paramiko blocks, so every call runs in this pool's own thread pool, never on the event loop.
Connection failures are retried with exponential backoff; a host-key mismatch or a refused
login is not. A connection that failed half-way is always closed.
"""
from __future__ import annotations

import asyncio
import shlex
import socket
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import paramiko
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from bot.observability import metrics
from bot.ssh.errors import CommandTimeout, HostKeyMismatch, HostUnreachable
from bot.ssh.keys import host_key_line, parse_host_key
from bot.ssh.target import HostTarget


@dataclass(frozen=True)
class SshLimits:
    per_host: int = 8             # concurrent commands per host (sshd MaxSessions default: 10)
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    max_output: int = 1 << 20
    threads: int = 32


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: bytes
    stderr: bytes


class _Transient(Exception):
    """A failure worth another try (network, sshd busy); becomes HostUnreachable at the end."""


class _PinnedOnly(paramiko.RejectPolicy):
    """RejectPolicy that says why: the host offered no key matching the pinned one."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyMismatch(f"{hostname} offered a {key.get_name()} host key that is not the pinned one")


class _Host:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: paramiko.SSHClient | None = None
        self.sems: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class SshPool:
    """Run commands on provider hosts; share one pool for the whole bot."""

    def __init__(self, limits: SshLimits | None = None) -> None:
        self.limits = limits or SshLimits()
        self._executor = ThreadPoolExecutor(max_workers=self.limits.threads, thread_name_prefix="ssh")
        self._hosts: dict[tuple, _Host] = {}
        self._hosts_lock = threading.Lock()
        self.connects = 0  # handshakes made (for tests and the bench: shows reuse)

    async def run(self, target: HostTarget, argv: Sequence[str], stdin: bytes | None = None,
                  timeout: float | None = None) -> CommandResult:
        """Run argv (quoted with shlex.join, never interpolated) on the host.

        Cancelling the caller does not stop a command already sent; every helper command is
        idempotent, so a retry or a later revoke/reconcile is always safe."""
        command = shlex.join(argv)
        host = self._host(target)
        loop = asyncio.get_running_loop()
        sem = host.sems.get(loop)
        if sem is None:
            sem = host.sems[loop] = asyncio.Semaphore(self.limits.per_host)
        async with sem:
            with metrics.ssh_timer():
                return await loop.run_in_executor(self._executor, self._run_retrying, host, target, command, stdin,
                                                  timeout or self.limits.command_timeout)

    async def fetch_host_key(self, address: str, port: int) -> str:
        """The host key the server presents, as "type base64", without logging in (first contact)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch_host_key, address, port)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.close)
        self._executor.shutdown(wait=False)

    def close(self) -> None:
        with self._hosts_lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            with host.lock:
                self._drop(host)

    def _host(self, target: HostTarget) -> _Host:
        with self._hosts_lock:
            return self._hosts.setdefault(target.pool_key, _Host())

    def _run_retrying(self, host: _Host, target: HostTarget, command: str, stdin: bytes | None,
                      timeout: float) -> CommandResult:
        lim = self.limits
        retrying = Retrying(stop=stop_after_attempt(lim.attempts),
                            wait=wait_exponential_jitter(multiplier=lim.backoff_initial, max=lim.backoff_max,
                                                         jitter=lim.backoff_initial),
                            retry=retry_if_exception_type(_Transient), reraise=True)
        try:
            return retrying(self._run_once, host, target, command, stdin, timeout)
        except _Transient as exc:
            raise HostUnreachable(f"{target.address}:{target.port}: {exc}") from None

    def _run_once(self, host: _Host, target: HostTarget, command: str, stdin: bytes | None,
                  timeout: float) -> CommandResult:
        client = self._client(host, target)
        try:
            chan = client.get_transport().open_session(timeout=self.limits.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            with host.lock:
                if host.client is client and not (client.get_transport() and client.get_transport().is_active()):
                    self._drop(host)
            raise _Transient(f"could not open a session ({type(exc).__name__})") from None
        try:
            return self._exec(chan, command, stdin, timeout)
        except (paramiko.SSHException, EOFError, ConnectionError) as exc:
            raise _Transient(f"session failed ({type(exc).__name__})") from None
        finally:
            chan.close()

    def _exec(self, chan: paramiko.Channel, command: str, stdin: bytes | None, timeout: float) -> CommandResult:
        deadline = time.monotonic() + timeout
        chan.exec_command(command)
        if stdin:
            chan.settimeout(timeout)
            chan.sendall(stdin)
        chan.shutdown_write()
        out = self._read(chan.recv, chan, deadline)
        err = self._read(chan.recv_stderr, chan, deadline)
        if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
            raise CommandTimeout("remote command did not finish in time")
        return CommandResult(chan.recv_exit_status(), out, err)

    def _read(self, recv, chan: paramiko.Channel, deadline: float) -> bytes:
        buf = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandTimeout("remote command did not finish in time")
            chan.settimeout(left)
            try:
                chunk = recv(65536)
            except socket.timeout:
                raise CommandTimeout("remote command did not finish in time") from None
            if not chunk:
                return bytes(buf)
            if len(buf) < self.limits.max_output:
                buf += chunk[: self.limits.max_output - len(buf)]

    def _client(self, host: _Host, target: HostTarget) -> paramiko.SSHClient:
        with host.lock:
            c = host.client
            if c is not None and c.get_transport() is not None and c.get_transport().is_active():
                return c
            self._drop(host)
            host.client = self._connect(target)
            return host.client

    def _connect(self, target: HostTarget) -> paramiko.SSHClient:
        if target.host_key is None:
            raise HostKeyMismatch("no pinned host key: verify the host first")
        pinned = parse_host_key(target.host_key)
        client = paramiko.SSHClient()
        try:
            client.set_missing_host_key_policy(_PinnedOnly())
            client.get_host_keys().add(_known_hosts_name(target.address, target.port), pinned.get_name(), pinned)
            t = self.limits.connect_timeout
            client.connect(target.address, target.port, username=target.login_user, pkey=target.private_key,
                           timeout=t, banner_timeout=t, auth_timeout=t, channel_timeout=t,
                           allow_agent=False, look_for_keys=False)
            client.get_transport().set_keepalive(30)
            self.connects += 1
            return client
        except paramiko.BadHostKeyException:
            client.close()
            raise HostKeyMismatch(f"{target.address}:{target.port} presented a different host key "
                                  "than the pinned one") from None
        except paramiko.AuthenticationException:
            client.close()
            raise HostUnreachable(f"{target.address}:{target.port} refused the bot's key "
                                  f"for {target.login_user}") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise _Transient(f"connect failed ({type(exc).__name__}: {str(exc)[:120]})") from None
        except BaseException:
            client.close()
            raise

    @staticmethod
    def _drop(host: _Host) -> None:
        if host.client is not None:
            host.client.close()
            host.client = None

    def _fetch_host_key(self, address: str, port: int) -> str:
        t = self.limits.connect_timeout
        try:
            sock = socket.create_connection((address, port), timeout=t)
        except OSError as exc:
            raise HostUnreachable(f"{address}:{port}: cannot connect ({type(exc).__name__})") from None
        transport = None
        try:
            transport = paramiko.Transport(sock)
            transport.banner_timeout = t
            transport.start_client(timeout=t)
            return host_key_line(transport.get_remote_server_key())
        except (paramiko.SSHException, EOFError) as exc:
            raise HostUnreachable(f"{address}:{port}: no SSH handshake ({type(exc).__name__})") from None
        finally:
            if transport is not None:
                transport.close()
            sock.close()
