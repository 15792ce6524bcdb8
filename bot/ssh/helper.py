"""Calls to gpuflow-helper on a provider host (through `sudo -n`), one function per command.
Arguments are validated here and again by the helper; the renter's key goes on stdin."""
from __future__ import annotations

from datetime import datetime

from bot.ssh.errors import BadProviderOutput, HelperRefused
from bot.ssh.escape import chat_escape
from bot.ssh.names import USER_RE, check_public_key, check_user, expiry_arg
from bot.ssh.pool import CommandResult, SshPool
from bot.ssh.target import HostTarget


def check_result(result: CommandResult, what: str) -> bytes:
    """The output of a helper command that succeeded; HelperRefused (escaped detail) if it did not."""
    if result.exit_status != 0:
        detail = result.stderr.decode("utf-8", "replace")[-500:]
        shown = chat_escape(detail, 160, style="plain")
        raise HelperRefused(f"{what} failed on the host (exit {result.exit_status}): {shown}", detail)
    return result.stdout


PORT_FORWARDING = "port-forwarding"  # the helper's flag: renter may use ssh -L/-R/-D (off unless the offer allows it)


async def create_account(pool: SshPool, target: HostTarget, user: str, expires: datetime, public_key: str,
                         *, port_forwarding: bool = False) -> None:
    """Create or extend `user`; the host itself ends the account's sessions at `expires`."""
    argv = ["sudo", "-n", target.helper, "create", check_user(user), expiry_arg(expires)]
    if port_forwarding:
        argv.append(PORT_FORWARDING)
    key = check_public_key(public_key)
    check_result(await pool.run(target, argv, stdin=(key + "\n").encode()), "create")


async def revoke_account(pool: SshPool, target: HostTarget, user: str) -> None:
    check_result(await pool.run(target, ["sudo", "-n", target.helper, "revoke", check_user(user)]), "revoke")


async def gpuinfo_raw(pool: SshPool, target: HostTarget) -> bytes:
    return check_result(await pool.run(target, ["sudo", "-n", target.helper, "gpuinfo"]), "gpuinfo")


async def list_accounts(pool: SshPool, target: HostTarget) -> list[str]:
    out = check_result(await pool.run(target, ["sudo", "-n", target.helper, "list"]), "list")
    try:
        lines = out.decode("ascii").split()
    except UnicodeDecodeError:
        raise BadProviderOutput("account list is not ASCII") from None
    if any(not USER_RE.fullmatch(u) for u in lines):
        raise BadProviderOutput("account list holds a name that is not r_*")
    return sorted(set(lines))
