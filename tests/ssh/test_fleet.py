"""Many rentals on one host, reconcile, and what an old renter leaves behind."""
from __future__ import annotations

import asyncio
import pwd
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.ssh import SshPool, generate_keypair, provision, reconcile, revoke
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.support.sshd import SshdServer


async def test_twenty_concurrent_rentals_on_one_host(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    users = [f"r_c{secrets.token_hex(4)}" for _ in range(20)]
    results = await asyncio.gather(*(provision(pool, sshd.target(), user=u, ends_at=in_hours(1), expected=RTX4090)
                                     for u in users))
    try:
        assert [r.ok for r in results] == [True] * 20, [r.reason for r in results if not r.ok]
        assert pool.connects == 1  # one reused connection, commands multiplexed on it
        assert len({pwd.getpwnam(u).pw_uid for u in users}) == 20
        keys = [write_key(tmp_path, u, r.credentials.private_key) for u, r in zip(users, results)]
        with ThreadPoolExecutor(20) as ex:  # 20 simultaneous OpenSSH logins (needs MaxStartups > 10)
            logins = list(ex.map(lambda uk: sshd.ssh(uk[0], uk[1], "id -un"), zip(users, keys)))
        assert [lg.stdout.decode().strip() for lg in logins] == users, [lg.stderr for lg in logins]
    finally:
        await asyncio.gather(*(revoke(pool, sshd.target(), u) for u in users))
    assert not any(sshd.user_exists(u) for u in users)


async def test_reconcile_removes_accounts_no_rental_explains(sshd: SshdServer, pool: SshPool) -> None:
    keep, stray = f"r_k{secrets.token_hex(4)}", [f"r_s{secrets.token_hex(4)}" for _ in range(2)]
    for user in (keep, *stray[:1]):
        assert (await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)).ok
    # one made behind the bot's back, straight through the helper
    out = sshd.run_helper("create", stray[1], _soon(),
                          stdin=generate_keypair().public.encode())
    assert out.returncode == 0, out.stderr
    try:
        removed = await reconcile(pool, sshd.target(), [keep])
        assert removed == sorted(stray)
        assert sshd.renters() == [keep] and all(not sshd.user_exists(u) for u in stray)
        assert await reconcile(pool, sshd.target(), [keep]) == []
    finally:
        await revoke(pool, sshd.target(), keep)


def _soon() -> str:
    from datetime import datetime, timedelta, timezone
    return (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")


async def test_new_renter_inherits_nothing_from_an_old_one(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    old, new = f"r_o{secrets.token_hex(4)}", f"r_n{secrets.token_hex(4)}"
    r_old = await provision(pool, sshd.target(), user=old, ends_at=in_hours(1), expected=RTX4090)
    old_key = write_key(tmp_path, "old", r_old.credentials.private_key)
    tag = secrets.token_hex(4)
    leave = (f"echo secret > ~/notes; echo secret > /tmp/gf-{tag}; echo secret > /dev/shm/gf-{tag}; "
             f"mkdir /var/tmp/gf-{tag} && echo secret > /var/tmp/gf-{tag}/x; "
             f"nohup sleep 600 >/dev/null 2>&1 & echo ok")
    assert sshd.ssh(old, old_key, leave).stdout == b"ok\n"
    old_uid = pwd.getpwnam(old).pw_uid
    await revoke(pool, sshd.target(), old)
    for p in (f"/tmp/gf-{tag}", f"/dev/shm/gf-{tag}", f"/var/tmp/gf-{tag}"):
        assert not Path(p).exists(), p
    assert not _processes_of(old_uid)

    r_new = await provision(pool, sshd.target(), user=new, ends_at=in_hours(1), expected=RTX4090)
    try:
        assert pwd.getpwnam(new).pw_uid > old_uid  # UIDs only move forward, never reused
        new_key = write_key(tmp_path, "new", r_new.credentials.private_key)
        look = sshd.ssh(new, new_key, f"cat ~/notes /tmp/gf-{tag} 2>&1; find / -xdev -uid {old_uid} 2>/dev/null | head")
        assert b"secret" not in look.stdout
    finally:
        await revoke(pool, sshd.target(), new)


def _processes_of(uid: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, (p.name for p in Path("/proc").iterdir())):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if str(uid) in fields.get("Uid", "").split() and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(pid))
    return found
