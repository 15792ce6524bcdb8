"""Envelopes, keys, auth and URIs without the network."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.wallet.walletconnect import PairingUri, crypto
from bot.wallet.walletconnect.auth import ClientIdentity, b58decode, b58encode, public_key_from_did, verify_jwt
from bot.wallet.walletconnect.errors import SessionGone, UnsupportedRequest, UserRejected, WalletError, wallet_error
from bot.wallet.walletconnect.uri import PairingUriError


@settings(max_examples=50, deadline=None)
@given(text=st.text(), with_sender=st.booleans())
def test_envelope_round_trip(text: str, with_sender: bool) -> None:
    key = crypto.generate_sym_key()
    sender = crypto.generate_key_pair().public_key if with_sender else None
    sealed = crypto.encrypt(key, text, sender_public_key=sender)
    env = crypto.parse_envelope(sealed)
    assert env.type == (1 if with_sender else 0) and env.sender_public_key == sender
    assert crypto.decrypt(key, sealed) == text


def test_any_flipped_bit_or_wrong_key_is_refused() -> None:
    key = crypto.generate_sym_key()
    raw = base64.b64decode(crypto.encrypt(key, '{"id":1}'))
    for i in range(1, len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(crypto.EnvelopeError):
            crypto.decrypt(key, base64.b64encode(bytes(bad)).decode())
    with pytest.raises(crypto.EnvelopeError) as info:
        crypto.decrypt(crypto.generate_sym_key(), base64.b64encode(raw).decode())
    assert key.hex() not in str(info.value)
    for junk in ("", "AA==", "Ag" + "A" * 60, "%%%"):
        with pytest.raises(crypto.EnvelopeError):
            crypto.decrypt(key, junk)


def test_shared_key_is_symmetric_and_topic_is_its_hash() -> None:
    a, b = crypto.generate_key_pair(), crypto.generate_key_pair()
    k = crypto.derive_sym_key(a.private_key, b.public_key)
    assert k == crypto.derive_sym_key(b.private_key, a.public_key) and len(k) == 32
    assert crypto.topic_for(bytes(32)) == "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    assert a.private_key.hex() not in repr(a)


def test_did_key_and_jwt() -> None:
    ident = ClientIdentity.generate()
    assert ident.client_id.startswith("did:key:z6Mk")  # the multicodec prefix of every ed25519 did:key
    assert public_key_from_did(ident.client_id) == ident.public_key
    payload = verify_jwt(ident.sign_jwt("wss://relay.example", now=1_700_000_000))
    assert payload["aud"] == "wss://relay.example" and payload["exp"] - payload["iat"] == 86400
    assert len(bytes.fromhex(payload["sub"])) == 32
    head, body, sig = ident.sign_jwt("wss://relay.example").split(".")
    forged = ClientIdentity.generate().sign_jwt("wss://relay.example").split(".")[2]
    with pytest.raises(Exception):
        verify_jwt(f"{head}.{body}.{forged}")
    assert ident.seed.hex() not in repr(ident)
    for data in (b"", b"\0\0abc", bytes(range(40))):
        assert b58decode(b58encode(data)) == data


def test_pairing_uri_round_trip_and_validation() -> None:
    key = crypto.generate_sym_key()
    uri = PairingUri(topic=crypto.topic_for(key), sym_key=key, expiry_timestamp=1_800_000_000)
    text = uri.format()
    assert text == (f"wc:{uri.topic}@2?expiryTimestamp=1800000000&relay-protocol=irn&symKey={key.hex()}")
    assert PairingUri.parse(text) == uri
    assert key.hex() not in repr(uri)
    with pytest.raises(PairingUriError, match="does not match"):
        PairingUri.parse(text.replace(key.hex(), crypto.generate_sym_key().hex()))
    with pytest.raises(PairingUriError):
        PairingUri.parse(text.replace("@2", "@1"))
    with pytest.raises(PairingUriError):
        PairingUri.parse("https://example.org")


@pytest.mark.parametrize(("code", "kind", "text"), [
    (5000, UserRejected, "you rejected the request in your wallet"),
    (4001, UserRejected, "you rejected the request in your wallet"),
    (5100, UnsupportedRequest, "your wallet does not support this request (code 5100)"),
    (6000, SessionGone, "your wallet is disconnected; link it again with /wallet link"),
    (-32000, WalletError, "your wallet could not complete the request (code -32000)"),
])
def test_wallet_errors_are_plain(code: int, kind: type, text: str) -> None:
    err = wallet_error({"code": code, "message": "Internal: stack trace " + json.dumps({"x": 1})})
    assert type(err) is kind and str(err) == text and err.code == code
