"""Hostile input in every field: refused by the Python side before anything is sent, and
refused again by the helper itself when called directly (as root) or raw over SSH."""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from bot.ssh import HelperRefused, HostTarget, SshPool, generate_keypair, provision, revoke
from bot.ssh.helper import create_account
from tests.ssh.conftest import RTX4090, in_hours
from tests.support.sshd import SshdServer

BAD_USERS = ["root", "r_abcd;id", "r_abcd id", "-r_abcd", "--help", "r_abcd\n", "r_ABCD", "r_abc", "r_abcd$(id)",
             "r_../../etc", "r_abcd\x00", "r_" + "a" * 25, "r_abcd`id`", "r_abcé", "", "r_abcd'"]
GOOD_KEY = " ".join(generate_keypair().public.split()[:2])
BAD_KEYS = [
    f'command="touch /tmp/pwned" {GOOD_KEY}',
    f"{GOOD_KEY}\n{GOOD_KEY}",
    f"{GOOD_KEY}\nr_abcd ALL=(ALL) NOPASSWD: ALL",
    "ssh-ed25519 AAAA$(touch /tmp/pwned)AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "ssh-dss AAAAB3NzaC1kc3MAAACBAPY8ZOHY2yFSJA6XYC9HRwNHxaehvx5wOJ0rzZdzoSOXxbET",
    "",
    "-oProxyCommand=id",
]
BAD_EXPIRIES = ["2030-01-01", "2030-01-01T00:00", "2030-13-01T00:00Z", "2030-02-30T00:00Z", "1999-01-01T00:00Z",
                "-e 2030-01-01T00:00Z", "2030-01-01T00:00Z;id", "now", "9999-01-01T00:00Z", "2030-01-01T00:00Z\n"]


def future() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")


@pytest.mark.parametrize("user", BAD_USERS)
async def test_python_side_rejects_bad_user_before_connecting(sshd: SshdServer, pool: SshPool, user: str) -> None:
    with pytest.raises(ValueError):
        await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    with pytest.raises(ValueError):
        await revoke(pool, sshd.target(), user)
    assert pool.connects == 0


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_python_side_rejects_bad_keys(sshd: SshdServer, pool: SshPool, key: str) -> None:
    with pytest.raises(ValueError):
        await provision(pool, sshd.target(), user="r_inject01", ends_at=in_hours(1), expected=RTX4090,
                        renter_public_key=key)
    assert pool.connects == 0 and not sshd.user_exists("r_inject01")


@pytest.mark.parametrize("address,port,login,helper", [
    ("-oProxyCommand=id", 22, "gpuflow", "/usr/local/sbin/gpuflow-helper"),
    ("host;id", 22, "gpuflow", "/usr/local/sbin/gpuflow-helper"),
    ("host", 0, "gpuflow", "/usr/local/sbin/gpuflow-helper"),
    ("host", 22, "-oProxyCommand=id", "/usr/local/sbin/gpuflow-helper"),
    ("host", 22, "gpuflow", "gpuflow-helper; id"),
    ("host", 22, "gpuflow", "/usr/local/../../bin/sh"),
])
def test_host_target_rejects_bad_fields(sshd: SshdServer, address: str, port: int, login: str, helper: str) -> None:
    with pytest.raises(ValueError):
        HostTarget(address, port, login, sshd.target().private_key, sshd.host_key, helper)


async def test_python_side_rejects_naive_end_time(sshd: SshdServer, pool: SshPool) -> None:
    with pytest.raises(ValueError):
        await provision(pool, sshd.target(), user="r_inject02", ends_at=datetime(2030, 1, 1), expected=RTX4090)


@pytest.mark.parametrize("user", [u for u in BAD_USERS if "\x00" not in u])  # argv cannot hold NUL
def test_helper_rejects_bad_user(sshd: SshdServer, user: str) -> None:
    before = sshd.renters()
    for args in (["create", user, future()], ["revoke", user]):
        out = sshd.run_helper(*args, stdin=GOOD_KEY.encode() + b"\n")
        assert out.returncode != 0 and b"USER must match" in out.stderr, (args, out)
    assert sshd.renters() == before


@pytest.mark.parametrize("expiry", BAD_EXPIRIES)
def test_helper_rejects_bad_expiry(sshd: SshdServer, expiry: str) -> None:
    out = sshd.run_helper("create", "r_inject03", expiry, stdin=GOOD_KEY.encode())
    assert out.returncode != 0 and not sshd.user_exists("r_inject03")


@pytest.mark.parametrize("key", BAD_KEYS + ["x" * 5000, "ssh-ed25519 \xff\xfe".encode("latin-1").decode("latin-1")])
def test_helper_rejects_bad_key_on_stdin(sshd: SshdServer, key: str) -> None:
    out = sshd.run_helper("create", "r_inject04", future(), stdin=key.encode("latin-1"))
    assert out.returncode != 0 and not sshd.user_exists("r_inject04")
    assert not (sshd.key_dir / "r_inject04").exists()


@pytest.mark.parametrize("args", [[], ["create"], ["create", "r_inject05"], ["revoke"], ["gpuinfo", "-x"],
                                  ["list", "extra"], ["shell"], ["--help"], ["create", "r_inject05", future(), "x"],
                                  ["revoke", "r_inject05", "r_inject06"]])
def test_helper_rejects_other_command_lines(sshd: SshdServer, args: list[str]) -> None:
    out = sshd.run_helper(*args, stdin=GOOD_KEY.encode())
    assert out.returncode != 0 and b"usage" in out.stderr
    assert not sshd.user_exists("r_inject05")


def test_helper_never_touches_accounts_it_did_not_make(sshd: SshdServer) -> None:
    name = "r_notours01"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        for args in (["revoke", name], ["create", name, future()]):
            out = sshd.run_helper(*args, stdin=GOOD_KEY.encode())
            assert out.returncode != 0 and b"not a gpuflow renter" in out.stderr
        assert sshd.user_exists(name) and name not in sshd.renters()
    finally:
        subprocess.run(["userdel", "-f", name], capture_output=True)


async def test_helper_rejects_raw_hostile_argv_sent_over_ssh(sshd: SshdServer, pool: SshPool) -> None:
    """Bypass the Python validators: the host still refuses, and shlex.join keeps ';' inert."""
    target = sshd.target()
    for argv in (["create", "r_inject07;touch /tmp/gpuflow-pwned", future()], ["create", "-ou0", future()],
                 ["revoke", "$(touch /tmp/gpuflow-pwned)"]):
        result = await pool.run(target, ["sudo", "-n", target.helper, *argv], stdin=GOOD_KEY.encode())
        assert result.exit_status != 0
    assert not os.path.exists("/tmp/gpuflow-pwned")


async def test_provider_cannot_sudo_anything_else(sshd: SshdServer, pool: SshPool) -> None:
    result = await pool.run(sshd.target(), ["sudo", "-n", "/bin/sh", "-c", "id"])
    assert result.exit_status != 0 and b"uid=0" not in result.stdout


async def test_helper_error_reaches_caller_escaped(sshd: SshdServer, pool: SshPool) -> None:
    # a key the Python side would accept but whose expiry the helper refuses (over 400 days away)
    with pytest.raises(HelperRefused) as info:
        await create_account(pool, sshd.target(), "r_inject08", in_hours(24 * 500), GOOD_KEY)
    assert "EXPIRY must be" in info.value.detail and "\n" not in str(info.value)
