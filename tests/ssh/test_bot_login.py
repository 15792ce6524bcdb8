"""The bot's own login on a provider host is never root, a system account or an all-powerful
sudoer (issue 8, item 12): refused at /host add, in the setup text, and at /host verify."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bot.ssh import SshPool, UnsafeLogin, generate_keypair, host_setup_text, verify_host
from tests.helpers import person, snapshot
from tests.support.sshd import SshdServer


@pytest.mark.parametrize("login", ["root", "daemon", "bin", "sys", "nobody", "www-data", "sshd",
                                   "systemd-network", "_apt", "ubuntu", "ec2-user"])
async def test_host_add_refuses_root_and_system_accounts(app, login: str) -> None:
    prov = await person(app, "prov")
    before = await snapshot(app)
    reply = await app.router.handle(prov, f"/host add rig 1.2.3.4 22 {login}")
    assert not reply.ok and reply.text.startswith("Sorry: ") and "Traceback" not in reply.text
    assert f"{login} is" in reply.text and "own ordinary account" in reply.text and "gpuflow" in reply.text
    assert await snapshot(app) == before


async def test_host_add_with_an_ordinary_account_is_accepted(app) -> None:
    prov = await person(app, "prov")
    reply = await app.router.handle(prov, "/host add rig 1.2.3.4 22 gpuflow")
    assert reply.ok, reply.text
    assert "~gpuflow/.ssh/authorized_keys" in reply.text
    assert "~root" not in reply.text and "/root/" not in reply.text


def test_setup_text_is_never_written_for_root() -> None:
    key = generate_keypair().public
    for login in ("root", "daemon", "ubuntu"):
        with pytest.raises(ValueError, match="own ordinary account"):
            host_setup_text("rig", login, key)


async def test_verify_refuses_a_login_that_may_sudo_anything(sshd: SshdServer, pool: SshPool) -> None:
    sudoers = Path(f"/etc/sudoers.d/gpuflow_test_all_{sshd.port}")
    sudoers.write_text(f"{sshd.provider_user} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    try:
        with pytest.raises(UnsafeLogin, match="may run anything as root"):
            await verify_host(pool, sshd.target(host_key=False))
    finally:
        sudoers.unlink()
    assert (await verify_host(pool, sshd.target(host_key=False))).gpus


async def test_verify_refuses_a_system_account(sshd: SshdServer) -> None:
    pool = SshPool()
    uid = subprocess.run(["id", "-u", sshd.provider_user], capture_output=True, text=True, check=True).stdout.strip()
    free = next(u for u in range(999, 100, -1)
                if subprocess.run(["getent", "passwd", str(u)], capture_output=True).returncode != 0)
    set_uid(sshd.provider_user, uid, str(free))
    try:
        with pytest.raises(UnsafeLogin, match=f"system account \\(UID {free}\\)"):
            await verify_host(pool, sshd.target(host_key=False))
    finally:
        await pool.aclose()
        set_uid(sshd.provider_user, str(free), uid)


def set_uid(login: str, old: str, new: str) -> None:
    for _ in range(50):  # usermod refuses while a process of the account lives (sshd's, going away)
        subprocess.run(["pkill", "-KILL", "-u", old], capture_output=True)
        if subprocess.run(["usermod", "-u", new, login], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    assert subprocess.run(["id", "-u", login], capture_output=True, text=True).stdout.strip() == new
