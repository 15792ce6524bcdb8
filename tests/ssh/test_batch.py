"""Many account changes on one host in one helper call, against the real sshd and helper."""
from __future__ import annotations

import pwd
import secrets
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from bot.ssh import (AccountChange, BadProviderOutput, ExtendRequest, GpuSpec, HelperRefused, ProvisionRequest,
                     SshPool, apply_changes, extend_many, generate_keypair, provision_many, revoke_many)
from bot.ssh.batch import _parse_answers
from tests.ssh.conftest import RTX4090, in_hours, write_key
from tests.support.sshd import SshdServer

KEY = " ".join(generate_keypair().public.split()[:2])


def users(n: int, prefix: str = "r_b") -> list[str]:
    return [prefix + secrets.token_hex(4) for _ in range(n)]


class CallCounter:
    """Counts the commands a pool sends (the real pool does the work)."""

    def __init__(self, pool: SshPool) -> None:
        self.commands: list[list[str]] = []
        self._run = pool.run
        pool.run = self.run  # type: ignore[method-assign]

    async def run(self, target, argv, stdin=None, timeout=None):
        self.commands.append(list(argv))
        return await self._run(target, argv, stdin, timeout)


async def test_twenty_rentals_in_one_helper_call(sshd: SshdServer, pool: SshPool, tmp_path: Path) -> None:
    names = users(20)
    own = generate_keypair()
    requests = [ProvisionRequest(u, in_hours(1), RTX4090) for u in names[:19]]
    requests.append(ProvisionRequest(names[19], in_hours(2), RTX4090, renter_public_key=own.public))
    calls = CallCounter(pool)
    results = await provision_many(pool, sshd.target(), requests)
    try:
        assert [r.ok for r in results] == [True] * 20, [r.reason for r in results if not r.ok]
        assert [r.user for r in results] == names
        assert sorted(c[3] for c in calls.commands) == ["batch", "gpuinfo"]  # one create batch, one GPU read
        assert len({pwd.getpwnam(u).pw_uid for u in names}) == 20
        assert results[19].credentials.private_key is None and results[19].credentials.ends_at == requests[19].ends_at
        for r in (results[0], results[19]):
            key = write_key(tmp_path, r.user, r.credentials.private_key or own.private_openssh)
            assert sshd.ssh(r.user, key, "id -un").stdout.decode().strip() == r.user
    finally:
        gone = await revoke_many(pool, sshd.target(), names)
    assert [(g.user, g.ok, g.outcome) for g in gone] == [(u, True, "revoked") for u in names]
    assert not any(sshd.user_exists(u) for u in names)


async def test_each_rental_is_checked_against_its_own_spec(sshd: SshdServer, pool: SshPool) -> None:
    ok_user, wrong_user = users(2)
    results = await provision_many(pool, sshd.target(), [
        ProvisionRequest(ok_user, in_hours(1), RTX4090),
        ProvisionRequest(wrong_user, in_hours(1), GpuSpec("A100", 1, 80))])
    try:
        assert results[0].ok and not results[1].ok and "GPU check failed" in results[1].reason
        assert results[1].revoked and not sshd.user_exists(wrong_user) and sshd.user_exists(ok_user)
    finally:
        await revoke_many(pool, sshd.target(), [ok_user])


async def test_one_bad_item_does_not_stop_the_others(sshd: SshdServer, pool: SshPool) -> None:
    notours = "r_nb" + secrets.token_hex(4)
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", notours], check=True, capture_output=True)
    keep, gone, absent = users(3)
    try:
        assert (await apply_changes(pool, sshd.target(), [AccountChange.create(gone, in_hours(1), KEY)]))[0].ok
        results = await apply_changes(pool, sshd.target(), [
            AccountChange.create(keep, in_hours(1), KEY), AccountChange.create(notours, in_hours(1), KEY),
            AccountChange.revoke(gone), AccountChange.revoke(absent)])
        assert [(r.user, r.ok, r.outcome) for r in results] == [
            (keep, True, "created"), (notours, False, ""), (gone, True, "revoked"), (absent, True, "absent")]
        assert "not a gpuflow renter account" in results[1].reason
        assert sshd.user_exists(keep) and not sshd.user_exists(gone) and sshd.user_exists(notours)
    finally:
        subprocess.run(["userdel", "-f", notours], capture_output=True)
        await revoke_many(pool, sshd.target(), [keep])


async def test_extend_many_moves_every_expiry(sshd: SshdServer, pool: SshPool) -> None:
    names = users(3)
    made = await provision_many(pool, sshd.target(), [ProvisionRequest(u, in_hours(1), RTX4090) for u in names])
    try:
        later = in_hours(30)
        done = await extend_many(pool, sshd.target(), [
            ExtendRequest(r.user, later, r.credentials.public_key) for r in made])
        assert all(d.ok and d.expires == later + timedelta(minutes=10) for d in done)
        stamp = (later + timedelta(minutes=10)).strftime("%Y%m%d%H")
        assert all(f'expiry-time="{stamp}' in (sshd.key_dir / u).read_text() for u in names)
    finally:
        await revoke_many(pool, sshd.target(), names)


@pytest.mark.parametrize("body", [
    "create r_batch01 {exp} " + KEY + "\nrevoke r_batch01\n",   # the same user twice
    "revoke r_batch01\nrevoke r_batch02;id\n",                 # a bad user in line 2
    "revoke r_batch01\nrevoke r_batch02 extra\n",
    "create r_batch01 {exp} " + KEY + " agent-forwarding\n",
    "create r_batch01 {exp} command=\"id\" " + KEY + "\n",
    "create r_batch01 {exp} " + KEY + "\n\n",                   # an empty line
    "create r_batch01 tomorrow " + KEY + "\n",
    "create r_batch01 2099-01-01T00:00Z " + KEY + "\n",
    "shell r_batch01\n",
    "revoke r_batch01\r\n",
    "".join(f"revoke r_batch{i:03d}\n" for i in range(200)),   # 201 items with the good one
    "revoke r_b\xe9tch01\n",
])
def test_helper_refuses_a_malformed_batch_whole(sshd: SshdServer, body: str) -> None:
    exp = in_hours(1).strftime("%Y-%m-%dT%H:%MZ")
    good = f"create r_batch09 {exp} {KEY}\n"
    out = sshd.run_helper("batch", stdin=(good + body.replace("{exp}", exp)).encode("latin-1"))
    assert out.returncode != 0 and out.stdout == b"" and b"batch" in out.stderr, out
    assert not sshd.user_exists("r_batch09") and not sshd.user_exists("r_batch01")


def test_helper_refuses_an_empty_batch(sshd: SshdServer) -> None:
    out = sshd.run_helper("batch", stdin=b"")
    assert out.returncode != 0 and b"1 to 200 lines" in out.stderr


async def test_python_side_checks_every_item_before_sending(sshd: SshdServer, pool: SshPool) -> None:
    for bad in ([AccountChange.revoke("root")], [AccountChange.create("r_okay01", in_hours(1), "ssh-dss AAAA")],
                [AccountChange.revoke("r_okay01"), AccountChange.revoke("r_okay01")]):
        with pytest.raises(ValueError):
            await apply_changes(pool, sshd.target(), bad)
    assert pool.connects == 0


def test_answers_that_do_not_match_the_items_are_refused() -> None:
    for out in (b"r_aaaa01 ok created\n", b"r_aaaa01 ok created\nr_zzzz99 ok revoked\n",
                b"r_aaaa01 ok created\nr_bbbb02 fine\n", b"r_aaaa01 ok created\nr_bbbb02 ok \xff\n"):
        with pytest.raises(BadProviderOutput):
            _parse_answers(out, ["r_aaaa01", "r_bbbb02"])
    [a, b] = _parse_answers(b"r_aaaa01 ok created\nr_bbbb02 error <@everyone> **x**\n", ["r_aaaa01", "r_bbbb02"])
    assert a.ok and not b.ok and "@everyone" not in b.reason


async def test_a_refused_batch_raises(sshd: SshdServer, pool: SshPool) -> None:
    far = in_hours(24 * 500)  # the Python side takes it; the helper refuses expiries over 400 days
    with pytest.raises(HelperRefused, match="batch line 1"):
        await apply_changes(pool, sshd.target(), [AccountChange.create("r_far0001", far, KEY)])
