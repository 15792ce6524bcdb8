"""Revocation against a hostile renter (issue 8, items 1 and 6): what the renter runs or leaves
behind must not outlive the account, and the renter must not read another renter's home."""
from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import time
from pathlib import Path

from bot.ssh import SshPool, provision, revoke
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.support.sshd import SshdServer

# parent forks, parent exits, child rewrites the file: no process of the chain lives long (a
# failed fork, at the process cap, is retried as a real attacker would)
FORK_CHAIN = ("import os, time\n"
              "while True:\n"
              "    with open({path!r}, 'w') as f:\n"
              "        f.write(str(time.time_ns()))\n"
              "    try:\n"
              "        if os.fork():\n"
              "            os._exit(0)\n"
              "    except OSError:\n"
              "        time.sleep(0.01)\n")


def live_pids(uid: int) -> list[int]:
    """Processes (not zombies) with `uid` among their ids, seen as root."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if str(uid) in fields.get("Uid", "").split() and fields.get("State", "").split()[:1] not in (["Z"], ["X"]):
            found.append(int(pid))
    return found


def written(path: Path) -> int | None:
    """When the file was last written (None: it is gone)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def kill_uid_as_root(uid: int) -> None:
    """Test cleanup only, so a failed run leaves no fork chain behind."""
    subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "/usr/bin/python3", "-c",
                    "import os, signal\nfor _ in range(2000):\n    os.kill(-1, signal.SIGKILL)"],
                   capture_output=True, timeout=60)


async def rent(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> tuple[str, Path]:
    user = "r_" + secrets.token_hex(5)
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    assert result.ok, result.reason
    return user, write_key(tmp_path, user, result.credentials.private_key)


async def test_a_fork_and_exit_chain_does_not_survive_revoke(sshd: SshdServer, pool: SshPool,
                                                             tmp_path: Path) -> None:
    user, key = await rent(sshd, pool, tmp_path)
    uid = pwd.getpwnam(user).pw_uid
    marker = Path("/var/tmp") / f"gpuflow-chain-{user}"
    script = FORK_CHAIN.format(path=str(marker))
    try:
        started = sshd.ssh(user, key, f"setsid python3 -c \"{script}\" </dev/null >/dev/null 2>&1 &")
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        first = written(marker)
        time.sleep(0.3)
        assert written(marker) != first, "the chain is not running"

        await revoke(pool, sshd.target(), user)
        time.sleep(1.0)
        seen = written(marker)
        time.sleep(1.0)
        assert written(marker) == seen, "the chain still rewrites its file"
        assert live_pids(uid) == []
    finally:
        kill_uid_as_root(uid)
        marker.unlink(missing_ok=True)


async def test_the_renter_cannot_raise_its_process_cap(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    user, key = await rent(sshd, pool, tmp_path)
    try:
        limits = sshd.ssh(user, key, "ulimit -Hu; ulimit -Su; ulimit -Hu unlimited && echo raised")
        assert limits.stdout.decode().split() == [str(sshd.max_procs)] * 2, (limits.stdout, limits.stderr)
        # fork sleepers until the kernel says no: the count stays under the cap
        forks = sshd.ssh(user, key, "python3 -c \"import os, time\nn = 0\ntry:\n    while n < 600:\n"
                                    "        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n"
                                    "        n += 1\nexcept OSError as e:\n    print(n, e.errno, flush=True)\n"
                                    "os.killpg(0, 9)\"", timeout=60)
        count, errno = forks.stdout.decode().split()
        assert int(count) < sshd.max_procs and errno == "11", forks.stdout  # EAGAIN
    finally:
        await revoke(pool, sshd.target(), user)
