"""Provision -> log in with OpenSSH -> revoke -> refused, against a real sshd."""
from __future__ import annotations

import logging
import os
import pwd
import secrets
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.ssh import (GpuSpec, HelperRefused, HostKeyMismatch, HostTarget, HostUnreachable, SshLimits, SshPool,
                     extend, fingerprint, generate_keypair, provision, revoke, verify_host)
from bot.ssh.names import expiry_arg
from bot.ssh.provision import DEFAULT_GRACE
from bot.ssh.helper import gpuinfo_raw
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.support.sshd import SshdServer


def new_user() -> str:
    return "r_" + secrets.token_hex(5)


async def test_verify_host_shows_and_pins_the_host_key(sshd: SshdServer, pool: SshPool) -> None:
    result = await verify_host(pool, sshd.target(host_key=False))
    assert result.host_key == sshd.host_key
    keygen = subprocess.run(["ssh-keygen", "-lf", str(sshd.base / "ssh_host_ed25519_key.pub")],
                            capture_output=True, text=True, check=True)
    assert result.fingerprint == keygen.stdout.split()[1]
    assert [g.name for g in result.gpus] == ["NVIDIA GeForce RTX 4090"]


async def test_provision_with_generated_key_then_revoke(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    user, ends = new_user(), in_hours(2)
    result = await provision(pool, sshd.target(), user=user, ends_at=ends, expected=RTX4090)
    assert result.ok, result.reason
    creds = result.credentials
    assert creds.user == user and creds.port == sshd.port and creds.ends_at == ends
    assert creds.ssh_command == f"ssh -i gpuflow-{user}.key -p {sshd.port} {user}@127.0.0.1"
    assert creds.private_key is not None and b"PRIVATE KEY" not in repr(result).encode()
    key = write_key(tmp_path, creds.key_filename, creds.private_key)

    login = sshd.ssh(user, key, "id -un; pwd; test -w ~ && echo writable")
    assert login.returncode == 0, login.stderr
    assert login.stdout.decode().split() == [user, str(sshd.base / "home" / user), "writable"]
    # backstops: the key expires by itself, and the account a day later
    key_line = (sshd.key_dir / user).read_text()
    options, key_type, key_body = key_line.split()
    assert 'expiry-time="' in options and fingerprint(f"{key_type} {key_body}") == creds.key_fingerprint
    assert int(shadow(user)[7]) >= int(ends.timestamp() // 86400)
    assert shadow(user)[1] == "*"  # usable-but-unset: not locked without PAM

    await revoke(pool, sshd.target(), user)
    refused = sshd.ssh(user, key, "true")
    assert refused.returncode == 255
    assert not sshd.user_exists(user)
    assert not (sshd.key_dir / user).exists() and not (sshd.base / "home" / user).exists()
    await revoke(pool, sshd.target(), user)  # idempotent


async def test_provision_with_the_renters_own_key(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    user, own = new_user(), generate_keypair("renter@laptop'; rm -rf / #")
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090,
                             renter_public_key=own.public)
    try:
        assert result.ok and result.credentials.private_key is None
        assert result.credentials.ssh_command == f"ssh -p {sshd.port} {user}@127.0.0.1"
        assert result.credentials.key_fingerprint == own.fingerprint
        assert "laptop" not in (sshd.key_dir / user).read_text()  # the renter's comment is not carried
        login = sshd.ssh(user, write_key(tmp_path, "own", own.private_openssh), "echo in")
        assert login.stdout == b"in\n", login.stderr
        other = generate_keypair()
        assert sshd.ssh(user, write_key(tmp_path, "other", other.private_openssh), "true").returncode == 255
    finally:
        await revoke(pool, sshd.target(), user)


async def test_revoke_kills_a_running_session(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    user = new_user()
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    key = write_key(tmp_path, "k", result.credentials.private_key)
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={sshd.known_hosts}",
            "-o", "IdentitiesOnly=yes", "-i", str(key), "-p", str(sshd.port), f"{user}@127.0.0.1",
            "echo started; sleep 300"]
    session = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert session.stdout.readline() == b"started\n"
        await revoke(pool, sshd.target(), user)
        assert session.wait(timeout=10) != 0  # the session died with the account
    finally:
        session.kill()
        session.wait()
    assert not sshd.user_exists(user)


@pytest.mark.parametrize("report,expected,why", [
    ("NVIDIA GeForce RTX 3090, 24576 MiB\n", RTX4090, "not a rtx4090"),
    ("NVIDIA GeForce RTX 4090, 24564 MiB\n", GpuSpec("RTX 4090", 2, 24), "expected 2 GPU"),
    ("NVIDIA GeForce RTX 4090, 12282 MiB\n", RTX4090, "12282 MiB"),
    ("NVIDIA GeForce RTX 4090 D, 24564 MiB\n", RTX4090, "not a rtx4090"),
    ("No devices were found\n", RTX4090, "not 'name, N MiB'"),
    ("", RTX4090, "empty"),
])
async def test_gpu_mismatch_is_detected_and_the_account_revoked(sshd: SshdServer, pool: SshPool, report: str,
                                                                expected: GpuSpec, why: str) -> None:
    sshd.set_gpus(report)
    user = new_user()
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=expected)
    assert not result.ok and result.credentials is None
    assert why in result.reason
    assert result.revoked and not sshd.user_exists(user) and not (sshd.key_dir / user).exists()


async def test_wrong_host_key_is_refused(sshd: SshdServer, pool: SshPool) -> None:
    impostor = " ".join(generate_keypair().public.split()[:2])
    target = sshd.target(host_key=impostor)
    with pytest.raises(HostKeyMismatch):
        await gpuinfo_raw(pool, target)
    with pytest.raises(HostKeyMismatch):
        await verify_host(pool, target)
    user = new_user()
    result = await provision(pool, target, user=user, ends_at=in_hours(1), expected=RTX4090)
    assert not result.ok and "different host key" in result.reason and not sshd.user_exists(user)
    assert pool.connects == 0


async def test_host_key_of_another_type_is_refused(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(tmp_path / "ec")], check=True)
    ecdsa = " ".join((tmp_path / "ec.pub").read_text().split()[:2])
    with pytest.raises(HostKeyMismatch):
        await gpuinfo_raw(pool, sshd.target(host_key=ecdsa))


async def test_unreachable_host_fails_after_retries_and_leaves_nothing_open(sshd: SshdServer) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    pool = SshPool(SshLimits(attempts=3, backoff_initial=0.01, backoff_max=0.02, connect_timeout=1))
    try:
        target = HostTarget("127.0.0.1", dead_port, sshd.provider_user, sshd.target().private_key, sshd.host_key,
                            helper=sshd.helper)
        before = _open_sockets()
        with pytest.raises(HostUnreachable):
            await gpuinfo_raw(pool, target)
        assert _open_sockets() <= before
        assert pool.connects == 0
    finally:
        await pool.aclose()


async def test_wrong_bot_key_is_refused_without_retry_storm(sshd: SshdServer) -> None:
    pool = SshPool(SshLimits(attempts=3, backoff_initial=0.01, backoff_max=0.02))
    try:
        from bot.ssh import load_private_key
        stranger = load_private_key(generate_keypair().private_openssh)
        target = HostTarget("127.0.0.1", sshd.port, sshd.provider_user, stranger, sshd.host_key, helper=sshd.helper)
        before = _open_sockets()
        with pytest.raises(HostUnreachable, match="refused the bot's key"):
            await gpuinfo_raw(pool, target)
        time.sleep(0.2)
        assert _open_sockets() <= before
    finally:
        await pool.aclose()


async def test_no_private_key_reaches_the_logs(sshd: SshdServer, pool: SshPool,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = new_user()
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    await revoke(pool, sshd.target(), user)
    secrets_seen = [sshd.bot_key.private_openssh, result.credentials.private_key]
    blob = caplog.text.encode() + repr(result).encode() + repr(sshd.target()).encode()
    for secret in secrets_seen:
        body = b"".join(secret.splitlines()[1:-1])
        assert body[:40] not in blob.replace(b"\n", b"")


def _open_sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def shadow(user: str) -> list[str]:
    """The user's /etc/shadow fields (the spwd module is gone in Python 3.13)."""
    for line in Path("/etc/shadow").read_text().splitlines():
        if line.split(":")[0] == user:
            return line.split(":")
    raise KeyError(user)


def test_provider_account_is_not_locked(sshd: SshdServer) -> None:
    assert shadow(sshd.provider_user)[1] == "*"
    assert pwd.getpwnam(sshd.provider_user).pw_shell == "/bin/sh"


async def test_dropped_connection_is_reopened(sshd: SshdServer, pool: SshPool) -> None:
    target = sshd.target()
    await gpuinfo_raw(pool, target)
    assert pool.connects == 1
    # kill sshd's per-connection process serving the bot: the pooled connection dies under us
    killed = subprocess.run(["pkill", "-KILL", "-u", sshd.provider_user, "-f", f"^sshd: {sshd.provider_user}"],
                            capture_output=True)
    assert killed.returncode == 0
    time.sleep(0.2)
    assert b"RTX 4090" in await gpuinfo_raw(pool, target)
    assert pool.connects == 2


async def test_locked_password_would_block_key_login_without_pam(sshd: SshdServer, pool: SshPool,
                                                                  tmp_path: Path) -> None:
    """Why the helper uses `useradd -p '*'`: sshd with UsePAM no refuses '!'-locked accounts."""
    user = new_user()
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    key = write_key(tmp_path, "k", result.credentials.private_key)
    try:
        subprocess.run(["usermod", "-L", user], check=True, capture_output=True)
        assert sshd.ssh(user, key, "true").returncode == 255
        subprocess.run(["usermod", "-U", user], check=True, capture_output=True)
        assert sshd.ssh(user, key, "true").returncode == 0
    finally:
        await revoke(pool, sshd.target(), user)


async def test_key_file_must_be_readable_by_the_renter(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    """sshd opens AuthorizedKeysFile as the target user: a 0700 root directory locks renters out."""
    user = new_user()
    result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
    key = write_key(tmp_path, "k", result.credentials.private_key)
    try:
        sshd.key_dir.chmod(0o700)
        assert sshd.ssh(user, key, "true").returncode == 255
    finally:
        sshd.key_dir.chmod(0o755)
        await revoke(pool, sshd.target(), user)


async def test_missing_nvidia_smi_is_reported_not_crashed(sshd: SshdServer, pool: SshPool) -> None:
    smi = sshd.base / "bin" / "nvidia-smi"
    smi.rename(smi.with_name("nvidia-smi.off"))
    try:
        with pytest.raises(HelperRefused, match="nvidia-smi not found"):
            await verify_host(pool, sshd.target())
        user = new_user()
        result = await provision(pool, sshd.target(), user=user, ends_at=in_hours(1), expected=RTX4090)
        assert not result.ok and "nvidia-smi not found" in result.reason and result.revoked
        assert "Traceback" not in result.reason and not sshd.user_exists(user)
    finally:
        smi.with_name("nvidia-smi.off").rename(smi)


async def test_extend_rewrites_the_key_expiry_and_keeps_the_account(sshd: SshdServer, pool: SshPool,
                                                                     tmp_path: Path) -> None:
    user, ends = new_user(), in_hours(1)
    result = await provision(pool, sshd.target(), user=user, ends_at=ends, expected=RTX4090)
    assert result.ok, result.reason
    creds = result.credentials
    assert creds.key_expires_at == ends + DEFAULT_GRACE and creds.public_key in (sshd.key_dir / user).read_text()
    key = write_key(tmp_path, "k", creds.private_key)
    try:
        assert sshd.ssh(user, key, "touch ~/work").returncode == 0
        later = ends + timedelta(days=2)
        expires = await extend(pool, sshd.target(), user=user, ends_at=later, public_key=creds.public_key)
        assert expires == later + DEFAULT_GRACE
        options, key_type, key_body = (sshd.key_dir / user).read_text().split()
        assert f'expiry-time="{expiry_arg(expires).replace("-", "").replace("T", "").replace(":", "")}"' in options
        assert f"{key_type} {key_body}" == creds.public_key
        assert int(shadow(user)[7]) == (expires + timedelta(days=1)).date().toordinal() - date(1970, 1, 1).toordinal()
        # the same account, files kept, the same key still logs in
        assert sshd.ssh(user, key, "test -f ~/work && id -un").stdout.decode().strip() == user
    finally:
        await revoke(pool, sshd.target(), user)
