"""What the rental flow asks of a host: verify it, provision a renter, extend a renter's expiry,
revoke one, and reconcile accounts against active rentals. Plain data in, plain results out."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.ssh.errors import BadProviderOutput, CommandTimeout, HostUnreachable, SshError, UnsafeLogin
from bot.ssh.gpu import Gpu, GpuSpec, check_gpus, parse_gpuinfo
from bot.ssh.helper import create_account, gpuinfo_raw, list_accounts, revoke_account
from bot.ssh.keys import KeyPair, fingerprint, generate_keypair
from bot.ssh.names import MIN_LOGIN_UID, backstop, check_public_key, check_user
from bot.ssh.pool import SshPool
from bot.ssh.target import HostTarget

log = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class HostVerification:
    host_key: str          # "type base64": store it as the pin
    fingerprint: str       # "SHA256:...": show it to the provider
    gpus: tuple[Gpu, ...]


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    user: str
    ends_at: datetime
    ssh_command: str
    key_fingerprint: str
    public_key: str        # "type base64" as installed: what `extend` needs to rewrite the key line
    key_expires_at: datetime   # when the key stops working by itself (ends_at + grace)
    private_key: bytes | None = field(default=None, repr=False)  # only when the bot made the key: DM it, then drop it

    @property
    def key_filename(self) -> str:
        return f"gpuflow-{self.user}.key"


@dataclass(frozen=True)
class ProvisionResult:
    ok: bool
    user: str
    gpus: tuple[Gpu, ...] = ()
    reason: str = ""                      # why not ok; safe to show (our words, escaped provider text)
    credentials: Credentials | None = None
    revoked: bool = False                 # not ok: the account was removed again (else reconcile will)
    transient: bool = False               # not ok because the host did not answer (worth another try later)


async def verify_host(pool: SshPool, target: HostTarget) -> HostVerification:
    """First contact: take the key the host presents (if none is pinned yet), then log in with
    that key pinned and read the GPUs. A pinned key that does not match is refused."""
    host_key = target.host_key or await pool.fetch_host_key(target.address, target.port)
    pinned = HostTarget(target.address, target.port, target.login_user, target.private_key, host_key, target.helper)
    await check_login_is_unprivileged(pool, pinned)
    gpus = parse_gpuinfo(await gpuinfo_raw(pool, pinned))
    return HostVerification(host_key=host_key, fingerprint=fingerprint(host_key), gpus=gpus)


async def check_login_is_unprivileged(pool: SshPool, target: HostTarget) -> None:
    """Refuse a login that is root or a system account (UID below 1000) or that may run anything
    but the helper as root: the bot must never hold the keys to the whole host. `sudo -l CMD`
    only asks the policy; it runs nothing."""
    who = await pool.run(target, ["id", "-u"])
    text = who.stdout.decode("ascii", "replace").strip()
    if who.exit_status != 0 or not text.isdigit():
        raise BadProviderOutput("`id -u` on the host did not print a UID")
    if int(text) < MIN_LOGIN_UID:
        raise UnsafeLogin(f"{target.login_user} is root or a system account (UID {int(text)}) on the host; "
                          "make an ordinary account for the bot (see the /host add instructions)")
    anything = await pool.run(target, ["sudo", "-n", "-l", "/bin/sh"])
    if anything.exit_status == 0:
        raise UnsafeLogin(f"{target.login_user} may run anything as root through sudo; allow it only "
                          "gpuflow-helper (see the /host add instructions)")


def ssh_command(target: HostTarget, user: str, key_file: str | None) -> str:
    port = [] if target.port == 22 else [f"-p {target.port}"]
    ident = [f"-i {key_file}"] if key_file else []
    return " ".join(["ssh", *ident, *port, f"{user}@{target.address}"])


async def provision(pool: SshPool, target: HostTarget, *, user: str, ends_at: datetime, expected: GpuSpec,
                    renter_public_key: str | None = None, grace: timedelta = DEFAULT_GRACE,
                    port_forwarding: bool = False) -> ProvisionResult:
    """Create `user` with the renter's key (or a fresh pair), check the GPUs, and hand back
    credentials. Never raises for host trouble: a result with ok=False means "refund".
    The key allows a shell with a pty and nothing else unless `port_forwarding` (the offer's call)."""
    check_user(user)
    if ends_at.tzinfo is None:
        raise ValueError("ends_at must be timezone-aware")
    public, pair = renter_key(renter_public_key)
    created, info = await asyncio.gather(create_account(pool, target, user, backstop(ends_at, grace), public,
                                                        port_forwarding=port_forwarding),
                                         gpuinfo_raw(pool, target), return_exceptions=True)
    failure = next((r for r in (created, info) if isinstance(r, BaseException)), None)
    if failure is None:
        try:
            check = check_gpus(parse_gpuinfo(info), expected)
        except SshError as exc:
            failure = exc
    if failure is not None or not check.ok:
        if failure is not None and not isinstance(failure, SshError):
            await _revoke_quietly(pool, target, user)
            raise failure
        reason = str(failure) if failure is not None else f"GPU check failed: {check.reason}"
        gpus = () if failure is not None else check.found
        transient = isinstance(failure, (HostUnreachable, CommandTimeout))
        return ProvisionResult(False, user, gpus, reason, None, await _revoke_quietly(pool, target, user),
                               transient=transient)
    return ProvisionResult(True, user, check.found, "", credentials_for(target, user, ends_at, public, pair, grace))


def renter_key(renter_public_key: str | None) -> tuple[str, KeyPair | None]:
    """The key line to install ("type base64") and, when the renter brought none, the fresh pair."""
    if renter_public_key is not None:
        return check_public_key(renter_public_key), None
    pair = generate_keypair()
    return pair.public, pair


def credentials_for(target: HostTarget, user: str, ends_at: datetime, public: str, pair: KeyPair | None,
                    grace: timedelta) -> Credentials:
    key_file = pair and f"gpuflow-{user}.key"
    return Credentials(host=target.address, port=target.port, user=user, ends_at=ends_at,
                       ssh_command=ssh_command(target, user, key_file), key_fingerprint=fingerprint(public),
                       public_key=public, key_expires_at=backstop(ends_at, grace),
                       private_key=pair.private_openssh if pair else None)


async def extend(pool: SshPool, target: HostTarget, *, user: str, ends_at: datetime, public_key: str,
                 grace: timedelta = DEFAULT_GRACE, port_forwarding: bool = False) -> datetime:
    """Push out the expiry of `user`'s key (and the account's backstop a day later) to the new
    `ends_at` + grace by re-running the helper's create with the same key; returns the key's new
    expiry. An account that is gone is made again (empty). Pass the same `port_forwarding` as at
    provisioning (the key line is rewritten whole). Raises SshError."""
    check_user(user)
    if ends_at.tzinfo is None:
        raise ValueError("ends_at must be timezone-aware")
    expires = backstop(ends_at, grace)
    await create_account(pool, target, user, expires, check_public_key(public_key), port_forwarding=port_forwarding)
    return expires


async def _revoke_quietly(pool: SshPool, target: HostTarget, user: str) -> bool:
    try:
        await revoke_account(pool, target, user)
        return True
    except SshError as exc:
        log.warning("revoke of %s on %s failed, reconcile will retry: %s", user, target.address, exc)
        return False


async def revoke(pool: SshPool, target: HostTarget, user: str) -> None:
    """Remove the renter's key, processes, account and files. Idempotent; raises SshError."""
    await revoke_account(pool, target, user)


async def reconcile(pool: SshPool, target: HostTarget, expected_users: Collection[str]) -> list[str]:
    """Revoke every r_* account on the host that no active rental explains; returns those removed."""
    keep = {check_user(u) for u in expected_users}
    stray = [u for u in await list_accounts(pool, target) if u not in keep]
    removed = []
    for user in stray:
        await revoke_account(pool, target, user)
        removed.append(user)
    return removed
