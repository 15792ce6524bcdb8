"""What the SSH layer needs to reach one provider host: plain data, no database rows."""
from __future__ import annotations

from dataclasses import dataclass, field

import paramiko

from bot.crypto import SecretBox
from bot.ssh.keys import open_sealed_key
from bot.ssh.names import HELPER_PATH_RE, check_host

DEFAULT_HELPER = "/usr/local/sbin/gpuflow-helper"


@dataclass(frozen=True)
class HostTarget:
    address: str
    port: int
    login_user: str
    private_key: paramiko.PKey = field(repr=False)
    host_key: str | None = None  # pinned "type base64"; None only for the first /host verify
    helper: str = DEFAULT_HELPER

    def __post_init__(self) -> None:
        check_host(self.address, self.port, self.login_user)
        if not HELPER_PATH_RE.fullmatch(self.helper) or ".." in self.helper:
            raise ValueError("helper must be an absolute path")

    @classmethod
    def from_sealed(cls, *, address: str, port: int, login_user: str, sealed_key: str, box: SecretBox,
                    purpose: str, host_key: str | None, helper: str = DEFAULT_HELPER) -> HostTarget:
        """Build from stored columns: the private key is opened here and kept only in memory."""
        return cls(address, port, login_user, open_sealed_key(box, sealed_key, purpose), host_key, helper)

    @property
    def pool_key(self) -> tuple[str, int, str, str | None, str]:
        return (self.address, self.port, self.login_user, self.host_key, self.private_key.fingerprint)
