"""Isolation between renters and what a revoked renter leaves (issue 8, item 6), with the real
sshd and helper: private homes, leftovers outside the home, UIDs never handed out twice."""
from __future__ import annotations

import os
import pwd
import secrets
import time
from pathlib import Path

from bot.ssh import SshPool, provision, revoke
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.ssh.test_revocation import kill_uid_as_root
from tests.support.sshd import SshdServer


async def rent(sshd: SshdServer, pool: SshPool, tmp_path: Path, prefix: str = "r_") -> tuple[str, Path]:
    user = prefix + secrets.token_hex(5)
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    assert result.ok, result.reason
    return user, write_key(tmp_path, user, result.credentials.private_key)


async def test_one_renter_cannot_read_another_renters_home(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    (alice, alice_key), (bob, bob_key) = [await rent(sshd, pool, tmp_path) for _ in range(2)]
    try:
        assert sshd.ssh(alice, alice_key, "umask 022; echo model-weights > ~/notes").returncode == 0
        home = sshd.base / "home" / alice
        assert home.stat().st_mode & 0o777 == 0o700
        peek = sshd.ssh(bob, bob_key, f"cat {home}/notes; ls {home}")
        assert b"model-weights" not in peek.stdout and b"notes" not in peek.stdout
        assert b"Permission denied" in peek.stderr
    finally:
        for user in (alice, bob):
            await revoke(pool, sshd.target(), user)


async def test_revoke_removes_leftovers_outside_the_home(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    user, key = await rent(sshd, pool, tmp_path)
    uid, tag = pwd.getpwnam(user).pw_uid, secrets.token_hex(4)
    left = [Path(f"/run/lock/gf-{tag}"), Path(f"/dev/shm/gf-{tag}"), Path(f"/var/tmp/gf-{tag}")]
    made = sshd.ssh(user, key, " && ".join(f"echo x > {p}" for p in left) + " && ipcmk -M 4096")
    assert made.returncode == 0, made.stderr
    shm_id = made.stdout.decode().split()[-1]
    assert shm_id.isdigit() and shm_id in _sysv_shm_of(uid)
    # sudo's timestamp file is root's, named after the user: only its name ties it to the renter
    ts = Path("/run/sudo/ts") / user
    ts.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    ts.write_bytes(b"")
    # a file of the renter's somewhere else on the root file system (as a world-writable dir would let it)
    elsewhere = Path("/var/lib") / f"gpuflow-test-{tag}"
    elsewhere.mkdir(mode=0o755)
    stray = elsewhere / "stray"
    stray.write_text("x")
    os.chown(stray, uid, uid)
    try:
        await revoke(pool, sshd.target(), user)
        for path in left + [ts]:
            assert not path.exists(), path
        assert _sysv_shm_of(uid) == []
        # the whole-disk sweep runs in the helper's reaper, after the revoke has answered
        deadline = time.monotonic() + 120   # the test host sweeps at most every 30 s
        while stray.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not stray.exists(), "the reaper did not sweep the revoked UID's files"
        assert elsewhere.exists()  # what is not the renter's stays
    finally:
        kill_uid_as_root(uid)
        for path in left + [ts, stray]:
            path.unlink(missing_ok=True)
        elsewhere.rmdir()


async def test_a_lost_uid_counter_never_hands_out_an_old_uid(sshd: SshdServer, pool: SshPool,
                                                             tmp_path: Path) -> None:
    first, _ = await rent(sshd, pool, tmp_path)
    old_uid = pwd.getpwnam(first).pw_uid
    await revoke(pool, sshd.target(), first)
    # the counter file is lost (a state dir on tmpfs after a reboot, a restore from an old backup)
    (sshd.base / "state" / "next_uid").unlink()
    second, _ = await rent(sshd, pool, tmp_path)
    try:
        assert pwd.getpwnam(second).pw_uid > old_uid
    finally:
        await revoke(pool, sshd.target(), second)


def _sysv_shm_of(uid: int) -> list[str]:
    head, *rows = [line.split() for line in Path("/proc/sysvipc/shm").read_text().splitlines()]
    return [row[head.index("shmid")] for row in rows if row[head.index("uid")] == str(uid)]
