"""Validation of everything that travels to a provider host: the helper re-checks the same
patterns, so a bug on either side alone cannot put user text into a root command."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

USER_RE = re.compile(r"r_[a-z0-9]{4,24}")
SHORT_ID_RE = re.compile(r"[a-z0-9]{4,24}")
PUBLIC_KEY_RE = re.compile(
    r"(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]{20,2000}={0,3}")
HOST_RE = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*")
LOGIN_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
HELPER_PATH_RE = re.compile(r"/[A-Za-z0-9._/-]{1,200}")
HOST_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")  # the provider's label for a host
# accounts Debian, Ubuntu and RHEL make below UID 1000 (base-passwd, common services), and the
# cloud images' default admins with passwordless sudo: none may be the bot's login
SYSTEM_LOGINS = frozenset(
    "root toor daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody "
    "adm shutdown halt operator ftp sshd messagebus syslog dnsmasq avahi postfix postgres mysql "
    "uuidd tss polkitd landscape pollinate tcpdump usbmux rtkit lxd chrony ntp colord".split())
ADMIN_LOGINS = frozenset("ubuntu admin ec2-user debian centos fedora azureuser cloud-user opc pi".split())
MIN_LOGIN_UID = 1000  # where ordinary accounts start (login.defs UID_MIN on Debian, Ubuntu, RHEL)


def renter_user(short_id: str | int) -> str:
    """`r_<short id>` for a rental; ints are zero-padded to the pattern's minimum length."""
    sid = f"{short_id:06d}" if isinstance(short_id, int) else short_id
    if not SHORT_ID_RE.fullmatch(sid):
        raise ValueError("short id must be 4-24 lowercase letters or digits")
    return "r_" + sid


def check_user(user: str) -> str:
    if not USER_RE.fullmatch(user):
        raise ValueError("renter user must match r_[a-z0-9]{4,24}")
    return user


def check_public_key(text: str) -> str:
    """One OpenSSH public key, `type base64` only: the comment is renter text and is dropped."""
    parts = text.strip().split()
    key = " ".join(parts[:2])
    if len(parts) < 2 or "\n" in text.strip() or not PUBLIC_KEY_RE.fullmatch(key):
        raise ValueError("not a single OpenSSH public key line")
    return key


def check_host(address: str, port: int, login_user: str) -> None:
    if not HOST_RE.fullmatch(address):
        raise ValueError("host address must be a DNS name or IPv4 address")
    if not 1 <= port <= 65535:
        raise ValueError("port out of range")
    if not LOGIN_RE.fullmatch(login_user):
        raise ValueError("login user must be a Unix login name")


def check_bot_login(login_user: str) -> str:
    """The bot's login must be an ordinary account made for it: never root, a system account
    or a cloud image's admin, whose key in authorized_keys would hand the bot the whole host."""
    if not LOGIN_RE.fullmatch(login_user):
        raise ValueError("user must be a Unix login name, e.g. gpuflow")
    if login_user in SYSTEM_LOGINS or login_user.startswith(("systemd-", "_")):
        raise ValueError(f"{login_user} is root or a system account; the bot needs its own ordinary account "
                         "(e.g. gpuflow), which may run only gpuflow-helper as root")
    if login_user in ADMIN_LOGINS:
        raise ValueError(f"{login_user} is the image's admin account (usually with full sudo); the bot needs its "
                         "own ordinary account (e.g. gpuflow), which may run only gpuflow-helper as root")
    return login_user


def expiry_arg(when: datetime) -> str:
    """UTC minute, rounded up, as the helper's EXPIRY (`2030-01-31T23:59Z`)."""
    if when.tzinfo is None:
        raise ValueError("expiry must be timezone-aware")
    when = when.astimezone(timezone.utc)
    minutes = math.ceil(when.timestamp() / 60)
    rounded = datetime.fromtimestamp(minutes * 60, tz=timezone.utc)
    return rounded.strftime("%Y-%m-%dT%H:%MZ")


def backstop(ends_at: datetime, grace: timedelta) -> datetime:
    """When the key stops working by itself if the bot never revokes it."""
    return ends_at + grace
