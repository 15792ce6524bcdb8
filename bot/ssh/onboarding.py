"""What the bot tells a provider on `/host add`: the three things to install on the host.
The helper itself is attached as a file (too long for a chat message); its SHA256 is in the text."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files

from bot.ssh.names import HELPER_PATH_RE, HOST_NAME_RE, LOGIN_RE, check_bot_login, check_public_key
from bot.ssh.target import DEFAULT_HELPER

HELPER_SOURCE = files("bot.ssh") / "gpuflow-helper"   # package data: ships in the wheel
HELPER_FILENAME = "gpuflow-helper"
KEY_DIR = "/etc/ssh/gpuflow_keys"


@lru_cache(maxsize=1)
def helper_script() -> bytes:
    """The helper to attach to the /host add answer (bot/ssh/gpuflow-helper)."""
    return HELPER_SOURCE.read_bytes()


def sudoers_line(login_user: str, helper: str = DEFAULT_HELPER) -> str:
    if not LOGIN_RE.fullmatch(login_user):
        raise ValueError("login user must be a Unix login name")
    return f"{login_user} ALL=(root) NOPASSWD: {helper}"


def host_setup_text(name: str, login_user: str, bot_public_key: str, helper: str = DEFAULT_HELPER) -> str:
    """The /host add answer. `bot_public_key` is the host's public key (comment allowed)."""
    key = check_public_key(bot_public_key)
    check_bot_login(login_user)  # never tell anyone to put the bot's key in root's authorized_keys
    if not HOST_NAME_RE.fullmatch(name):
        raise ValueError("host name: lowercase letters, digits and '-'")
    if not HELPER_PATH_RE.fullmatch(helper) or ".." in helper:
        raise ValueError("helper must be an absolute path")
    digest = hashlib.sha256(helper_script()).hexdigest()
    return "\n".join([
        f"Host {name} added. Set it up as root, then run /host verify {name}:",
        "1. Account for the bot (no password; key only, restricted):",
        f"   useradd -m -s /bin/sh -p '*' {login_user}",
        f"   install -d -m 700 -o {login_user} -g {login_user} ~{login_user}/.ssh",
        f"   echo 'restrict {key}' >> ~{login_user}/.ssh/authorized_keys",
        f"   chown {login_user}: ~{login_user}/.ssh/authorized_keys && chmod 600 ~{login_user}/.ssh/authorized_keys",
        f"2. The helper (attached, sha256 {digest}):",
        f"   install -o root -g root -m 755 {HELPER_FILENAME} {helper}",
        "3. Allow exactly that helper through sudo:",
        f"   echo '{sudoers_line(login_user, helper)}' > /etc/sudoers.d/gpuflow",
        "   chmod 440 /etc/sudoers.d/gpuflow && visudo -cf /etc/sudoers.d/gpuflow",
        "4. Renter keys live outside their homes; add to the end of /etc/ssh/sshd_config, then reload sshd:",
        "   Match User r_*",
        f"       AuthorizedKeysFile {KEY_DIR}/%u",
        "       PasswordAuthentication no",
        "The private key stays sealed in the bot; nobody, you included, is shown it. Guide: provider/README.md",
    ])
