"""WalletConnect v2 key agreement and envelopes, byte-compatible with @walletconnect/utils.

Why a module of its own: every message on the relay is one of these envelopes, and the
interoperability of the whole client rests on getting these few bytes exactly right.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

TYPE_0 = 0
TYPE_1 = 1
IV_LENGTH = 12
KEY_LENGTH = 32


class EnvelopeError(Exception):
    """An envelope could not be opened: malformed, tampered with, or sealed under another key."""


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair; `private_key` is secret and never printed."""

    private_key: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"KeyPair(public_key={self.public_key.hex()!r}, private_key=<hidden>)"

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()


def generate_key_pair() -> KeyPair:
    private = X25519PrivateKey.generate()
    return KeyPair(
        private_key=private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def generate_sym_key() -> bytes:
    return os.urandom(KEY_LENGTH)


def derive_sym_key(private_key: bytes, peer_public_key: bytes) -> bytes:
    """X25519 then HKDF-SHA256 (no salt, no info), as deriveSymKey in the JS SDK."""
    shared = X25519PrivateKey.from_private_bytes(private_key).exchange(
        X25519PublicKey.from_public_bytes(peer_public_key)
    )
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=None, info=None).derive(shared)


def topic_for(sym_key: bytes) -> str:
    """The relay topic of a symmetric key: hex(sha256(symKey))."""
    return hashlib.sha256(sym_key).hexdigest()


def encrypt(sym_key: bytes, message: str, *, sender_public_key: bytes | None = None,
            iv: bytes | None = None) -> str:
    """Seal a JSON text into a base64 envelope (type 1 when a sender public key is given)."""
    iv = iv if iv is not None else os.urandom(IV_LENGTH)
    sealed = ChaCha20Poly1305(sym_key).encrypt(iv, message.encode("utf-8"), None)
    if sender_public_key is None:
        raw = bytes([TYPE_0]) + iv + sealed
    else:
        raw = bytes([TYPE_1]) + sender_public_key + iv + sealed
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Envelope:
    """A parsed, still-sealed envelope."""

    type: int
    iv: bytes
    sealed: bytes
    sender_public_key: bytes | None = None


def parse_envelope(encoded: str) -> Envelope:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("envelope is not valid base64") from exc
    if not raw:
        raise EnvelopeError("empty envelope")
    kind = raw[0]
    if kind == TYPE_0:
        body = raw[1:]
        sender = None
    elif kind == TYPE_1:
        sender, body = raw[1:1 + KEY_LENGTH], raw[1 + KEY_LENGTH:]
        if len(sender) != KEY_LENGTH:
            raise EnvelopeError("type 1 envelope too short")
    else:
        raise EnvelopeError(f"unsupported envelope type {kind}")
    if len(body) < IV_LENGTH + 16:
        raise EnvelopeError("envelope too short")
    return Envelope(type=kind, iv=body[:IV_LENGTH], sealed=body[IV_LENGTH:], sender_public_key=sender)


def decrypt(sym_key: bytes, encoded: str) -> str:
    """Open an envelope; raises EnvelopeError (without key material) if it does not authenticate."""
    env = parse_envelope(encoded)
    try:
        plain = ChaCha20Poly1305(sym_key).decrypt(env.iv, env.sealed, None)
    except InvalidTag as exc:
        raise EnvelopeError("envelope failed authentication (tampered or wrong key)") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError("envelope plaintext is not UTF-8") from exc
