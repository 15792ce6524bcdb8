"""Relay authentication: an Ed25519 client identity, its did:key, and the EdDSA JWT the relay wants.

Mirrors @walletconnect/relay-auth: iss = did:key:z<base58btc(0xed01 || pubkey)>.
"""
from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_MULTICODEC = b"\xed\x01"
JWT_TTL_SECONDS = 24 * 3600


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = _B58[rem] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        idx = _B58.find(ch)
        if idx < 0:
            raise ValueError("not base58")
        n = n * 58 + idx
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def did_key(public_key: bytes) -> str:
    return "did:key:z" + b58encode(_ED25519_MULTICODEC + public_key)


def public_key_from_did(did: str) -> bytes:
    prefix = "did:key:z"
    if not did.startswith(prefix):
        raise ValueError("not an ed25519 did:key")
    raw = b58decode(did[len(prefix):])
    if raw[:2] != _ED25519_MULTICODEC or len(raw) != 34:
        raise ValueError("not an ed25519 did:key")
    return raw[2:]


@dataclass(frozen=True)
class ClientIdentity:
    """The bot's long-lived relay identity (its seed is a secret, persisted sealed)."""

    seed: bytes

    @classmethod
    def generate(cls) -> "ClientIdentity":
        return cls(os.urandom(32))

    def __repr__(self) -> str:
        return f"ClientIdentity(client_id={self.client_id!r})"

    @property
    def public_key(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)

    @property
    def client_id(self) -> str:
        return did_key(self.public_key)

    def sign_jwt(self, aud: str, *, ttl: int = JWT_TTL_SECONDS, now: int | None = None) -> str:
        """A relay JWT (EdDSA). `sub` is random (the SDK draws it once per process; the relay only needs it unique)."""
        iat = int(time.time()) if now is None else now
        header = {"alg": "EdDSA", "typ": "JWT"}
        payload = {"iss": self.client_id, "sub": os.urandom(32).hex(), "aud": aud, "iat": iat, "exp": iat + ttl}
        data = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, payload))
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(data.encode())
        return data + "." + b64url(signature)


def verify_jwt(jwt: str) -> dict:
    """Check a relay JWT's signature against its own iss; returns the payload (used by the test relay)."""
    head, body, sig = jwt.split(".")
    header = json.loads(b64url_decode(head))
    if header != {"alg": "EdDSA", "typ": "JWT"}:
        raise ValueError("JWT must use EdDSA")
    payload = json.loads(b64url_decode(body))
    Ed25519PublicKey.from_public_bytes(public_key_from_did(payload["iss"])).verify(
        b64url_decode(sig), f"{head}.{body}".encode())
    return payload
