"""Many account changes on one host in one helper call (`gpuflow-helper batch`).

The helper makes account changes one at a time per host (useradd/userdel lock /etc/passwd), so
twenty rentals starting together cost twenty SSH round trips and twenty sudo starts in a row.
Sent as one batch they cost one of each: the helper reads a bounded, strictly checked list on
stdin and answers one line per item, so one account's failure never hides the others' results.

`provision_many` is `provision` for several rentals on one host (one batch create, one GPU
read, one batch revoke of those that failed); `extend_many` and `revoke_many` likewise.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.ssh.errors import BadProviderOutput, CommandTimeout, HostUnreachable, SshError
from bot.ssh.escape import chat_escape
from bot.ssh.gpu import GpuSpec, check_gpus, parse_gpuinfo
from bot.ssh.helper import PORT_FORWARDING, check_result, gpuinfo_raw
from bot.ssh.names import backstop, check_public_key, check_user, expiry_arg
from bot.ssh.pool import SshPool
from bot.ssh.provision import DEFAULT_GRACE, ProvisionResult, credentials_for, renter_key
from bot.ssh.target import HostTarget

log = logging.getLogger(__name__)
MAX_BATCH = 200              # the helper's own bound; longer lists go in several calls
SECONDS_PER_ITEM = 2.0       # added to the pool's command timeout: a revoke kills and deletes
_ANSWER_RE = re.compile(r"(r_[a-z0-9]{4,24}) (?:ok (created|revoked|absent)|error (.{1,300}))")


@dataclass(frozen=True)
class AccountChange:
    """Create, or extend (the same call with a later expiry), when `public_key` is set; else revoke."""
    user: str
    expires: datetime | None = None      # when the key stops working and the host ends the sessions
    public_key: str | None = None
    port_forwarding: bool = False

    @classmethod
    def create(cls, user: str, expires: datetime, public_key: str, port_forwarding: bool = False) -> AccountChange:
        return cls(user, expires, public_key, port_forwarding)

    @classmethod
    def revoke(cls, user: str) -> AccountChange:
        return cls(user)

    def line(self) -> str:
        """The item as the helper reads it; every field checked here and again on the host."""
        user = check_user(self.user)
        if self.public_key is None:
            return f"revoke {user}"
        if self.expires is None:
            raise ValueError("a create needs an expiry")
        flag = f" {PORT_FORWARDING}" if self.port_forwarding else ""
        return f"create {user} {expiry_arg(self.expires)} {check_public_key(self.public_key)}{flag}"


@dataclass(frozen=True)
class ChangeResult:
    user: str
    ok: bool
    outcome: str = ""          # "created", "revoked" or "absent" when ok
    reason: str = ""           # why not: the helper's words, escaped (safe to show)


@dataclass(frozen=True)
class ProvisionRequest:
    """One rental to provision; the same fields as `provision`'s keyword arguments."""
    user: str
    ends_at: datetime
    expected: GpuSpec
    renter_public_key: str | None = None
    grace: timedelta = DEFAULT_GRACE
    port_forwarding: bool = False


@dataclass(frozen=True)
class ExtendRequest:
    user: str
    ends_at: datetime
    public_key: str
    grace: timedelta = DEFAULT_GRACE
    port_forwarding: bool = False   # as at provisioning: the key line is rewritten whole


@dataclass(frozen=True)
class ExtendResult:
    user: str
    ok: bool
    expires: datetime | None = None   # the key's new expiry when ok
    reason: str = ""


async def apply_changes(pool: SshPool, target: HostTarget, changes: Sequence[AccountChange]) -> list[ChangeResult]:
    """Apply `changes` (each user at most once) in as few helper calls as the helper's bound
    allows; results in the same order. Raises ValueError for bad input before anything is
    sent, SshError when the host did not answer or refused the batch as a whole (the outcome
    of that call is then unknown; every change is idempotent, so sending it again is safe)."""
    lines = [c.line() for c in changes]
    users = [c.user for c in changes]
    if len(set(users)) != len(users):
        raise ValueError("each user may appear once per batch")
    results: list[ChangeResult] = []
    for start in range(0, len(lines), MAX_BATCH):
        chunk, chunk_users = lines[start:start + MAX_BATCH], users[start:start + MAX_BATCH]
        timeout = pool.limits.command_timeout + SECONDS_PER_ITEM * len(chunk)
        out = check_result(await pool.run(target, ["sudo", "-n", target.helper, "batch"],
                                          stdin=("\n".join(chunk) + "\n").encode(), timeout=timeout), "batch")
        results += _parse_answers(out, chunk_users)
    return results


def _parse_answers(out: bytes, users: list[str]) -> list[ChangeResult]:
    try:
        lines = out.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise BadProviderOutput("batch answer is not ASCII") from None
    if len(lines) != len(users):
        raise BadProviderOutput(f"batch answer has {len(lines)} lines for {len(users)} items")
    results = []
    for user, line in zip(users, lines):
        m = _ANSWER_RE.fullmatch(line)
        if not m or m.group(1) != user:
            raise BadProviderOutput("batch answer does not match the items sent")
        if m.group(2):
            results.append(ChangeResult(user, True, m.group(2)))
        else:
            results.append(ChangeResult(user, False, reason=chat_escape(m.group(3), 200, style="plain")))
    return results


async def provision_many(pool: SshPool, target: HostTarget,
                         requests: Sequence[ProvisionRequest]) -> list[ProvisionResult]:
    """`provision` for several rentals on one host, in order: one batch create and one GPU read
    at once, each rental checked against its own spec, the failed ones revoked in one batch.
    Never raises for host trouble: a result with ok=False means "refund" (or, with
    `transient`, "the host did not answer: try again later")."""
    for r in requests:
        check_user(r.user)
        if r.ends_at.tzinfo is None:
            raise ValueError("ends_at must be timezone-aware")
    if not requests:
        return []
    keys = [renter_key(r.renter_public_key) for r in requests]
    changes = [AccountChange.create(r.user, backstop(r.ends_at, r.grace), public, r.port_forwarding)
               for r, (public, _) in zip(requests, keys)]
    created, info = await asyncio.gather(apply_changes(pool, target, changes), gpuinfo_raw(pool, target),
                                         return_exceptions=True)
    failure = next((r for r in (created, info) if isinstance(r, BaseException)), None)
    gpus = None
    if failure is None:
        try:
            gpus = parse_gpuinfo(info)
        except SshError as exc:
            failure = exc
    if failure is not None and not isinstance(failure, SshError):
        await _revoke_quietly(pool, target, [r.user for r in requests])
        raise failure
    results: list[ProvisionResult | None] = []
    for i, r in enumerate(requests):
        if failure is not None:
            results.append(ProvisionResult(False, r.user, (), str(failure),
                                           transient=isinstance(failure, (HostUnreachable, CommandTimeout))))
        elif not created[i].ok:
            results.append(ProvisionResult(False, r.user, (), f"account not created: {created[i].reason}"))
        else:
            check = check_gpus(gpus, r.expected)
            if check.ok:
                public, pair = keys[i]
                creds = credentials_for(target, r.user, r.ends_at, public, pair, r.grace)
                results.append(ProvisionResult(True, r.user, check.found, "", creds))
            else:
                results.append(ProvisionResult(False, r.user, check.found, f"GPU check failed: {check.reason}"))
    failed = [res.user for res in results if not res.ok]
    revoked = await _revoke_quietly(pool, target, failed)
    return [res if res.ok else _with_revoked(res, res.user in revoked) for res in results]


def _with_revoked(res: ProvisionResult, revoked: bool) -> ProvisionResult:
    return ProvisionResult(res.ok, res.user, res.gpus, res.reason, res.credentials, revoked, res.transient)


async def extend_many(pool: SshPool, target: HostTarget, requests: Sequence[ExtendRequest]) -> list[ExtendResult]:
    """`extend` for several rentals on one host in one call; per-item results in order.
    Raises SshError when the host did not answer (as `extend` does)."""
    expires = [backstop(r.ends_at, r.grace) for r in requests]
    for r in requests:
        if r.ends_at.tzinfo is None:
            raise ValueError("ends_at must be timezone-aware")
    changes = [AccountChange.create(r.user, e, r.public_key, r.port_forwarding) for r, e in zip(requests, expires)]
    done = await apply_changes(pool, target, changes)
    return [ExtendResult(d.user, d.ok, e if d.ok else None, d.reason) for d, e in zip(done, expires)]


async def revoke_many(pool: SshPool, target: HostTarget, users: Sequence[str]) -> list[ChangeResult]:
    """`revoke` for several accounts on one host in one call. Raises SshError as `revoke` does."""
    return await apply_changes(pool, target, [AccountChange.revoke(u) for u in users])


async def _revoke_quietly(pool: SshPool, target: HostTarget, users: list[str]) -> set[str]:
    """Revoke what a failed provisioning made; what fails here, reconcile removes later."""
    if not users:
        return set()
    try:
        return {r.user for r in await revoke_many(pool, target, users) if r.ok}
    except SshError as exc:
        log.warning("revoke of %d accounts on %s failed, reconcile will retry: %s", len(users), target.address, exc)
        return set()
