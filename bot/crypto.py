"""Secrets at rest: AES-256-GCM under the operator's master key.

Why not a KMS: operators run this on one box; the master key comes from the environment
(or a file it names) and never touches the database, so a leaked database alone reveals nothing.
Each value is bound to what it is (the `purpose`, used as associated data), so a ciphertext
copied from one column or row to another fails to open instead of silently decrypting.
"""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class SecretBoxError(Exception):
    """A sealed value could not be opened (wrong key, tampering, or wrong purpose)."""


def parse_master_key(text: str) -> bytes:
    """Accept 32 bytes as 64 hex digits or standard/urlsafe base64."""
    text = text.strip()
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise ValueError("the master key must be 32 bytes, written as 64 hex digits or base64")


def generate_master_key() -> str:
    return os.urandom(32).hex()


class SecretBox:
    """Seal and open small secrets (private keys, session keys, tokens)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("master key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:  # never show key material
        return "SecretBox(<hidden>)"

    def seal(self, plaintext: bytes, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, token: str, purpose: str) -> bytes:
        if not token.startswith(_PREFIX):
            raise SecretBoxError("unknown secret format")
        try:
            raw = base64.b64decode(token[len(_PREFIX):], validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise SecretBoxError("secret could not be opened (wrong master key or altered value)") from exc
