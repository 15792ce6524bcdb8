"""Key material: the bot's per-host key (sealed at rest), pinned host keys, renter key pairs.

Private keys live in memory only as paramiko/cryptography objects or in `repr=False` fields,
so they cannot end up in logs or tracebacks by accident.
"""
from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.crypto import SecretBox
from bot.ssh.names import PUBLIC_KEY_RE


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 pair; `private_openssh` is the file a renter gets by DM (then forgotten)."""
    public: str  # "ssh-ed25519 AAAA..."
    private_openssh: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)


def generate_keypair(comment: str = "") -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return KeyPair(public=f"{public} {comment}".strip(), private_openssh=private)


def load_private_key(openssh_pem: bytes) -> paramiko.PKey:
    """Load an unencrypted OpenSSH private key (ed25519, ECDSA or RSA) for paramiko."""
    text = openssh_pem.decode("ascii")
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("unsupported or damaged private key")  # no key text in the message


def open_sealed_key(box: SecretBox, sealed: str, purpose: str) -> paramiko.PKey:
    """Open the bot's host key sealed with `SecretBox.seal(private, purpose)`."""
    return load_private_key(box.open(sealed, purpose))


def host_key_line(key: paramiko.PKey) -> str:
    """A host key as the pinned text form "type base64" (what we store)."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_host_key(line: str) -> paramiko.PKey:
    parts = line.strip().split()
    if len(parts) < 2 or not PUBLIC_KEY_RE.fullmatch(" ".join(parts[:2])):
        raise ValueError("pinned host key must be 'type base64'")
    return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))


def fingerprint(public_line: str) -> str:
    """OpenSSH's SHA256 fingerprint ("SHA256:..."), as `ssh-keygen -lf` prints it."""
    blob = base64.b64decode(public_line.strip().split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
