"""EIP-4361 messages: exact text, parsing back, and every verification rule."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from bot.wallet.siwe import SiweError, SiweMessage, build_message, verify

KEY = Account.create()
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def signed(**overrides: object) -> tuple[SiweMessage, str]:
    args = dict(domain="gpuflow.test", address=KEY.address.lower(), uri="https://gpuflow.test/link", chain_id=8453,
                statement="Link this wallet.", nonce="abcDEF123456", now=NOW)
    args.update(overrides)
    msg = build_message(**args)  # type: ignore[arg-type]
    sig = Account.sign_message(encode_defunct(text=msg.to_text()), KEY.key).signature.hex()
    return msg, sig


def test_exact_text_matches_eip_4361() -> None:
    msg, _ = signed()
    assert msg.to_text() == (
        f"gpuflow.test wants you to sign in with your Ethereum account:\n{KEY.address}\n\n"
        "Link this wallet.\n\nURI: https://gpuflow.test/link\nVersion: 1\nChain ID: 8453\n"
        "Nonce: abcDEF123456\nIssued At: 2026-11-24T12:00:00Z\nExpiration Time: 2026-11-24T12:10:00Z")
    assert SiweMessage.parse(msg.to_text()) == msg
    no_statement = build_message(domain="d.test", address=KEY.address, uri="https://d.test", chain_id=1, now=NOW)
    assert "\n\n\nURI:" in no_statement.to_text()
    assert SiweMessage.parse(no_statement.to_text()) == no_statement
    assert bytes.fromhex(msg.personal_sign_params()[0][2:]).decode() == msg.to_text()


def test_verify_from_text_and_signature_alone() -> None:
    msg, sig = signed()
    text = msg.to_text().replace("\n", "\r\n") + "\n"  # as pasted back from a chat client
    assert verify(text, sig, domain="gpuflow.test", nonce="abcDEF123456", chain_id=8453,
                  now=NOW + timedelta(minutes=5)).address == KEY.address


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"domain": "evil.test"}, "made for gpuflow.test"),
    ({"nonce": "otherNONCE99"}, "not the latest one"),
    ({"chain_id": 1}, "for chain 8453"),
    ({"now": NOW + timedelta(hours=1)}, "expired"),
])
def test_verify_refuses(kwargs: dict, error: str) -> None:
    msg, sig = signed()
    args = dict(domain="gpuflow.test", nonce="abcDEF123456", chain_id=8453, now=NOW)
    args.update(kwargs)
    with pytest.raises(SiweError, match=error):
        verify(msg.to_text(), sig, **args)  # type: ignore[arg-type]


def test_signature_from_someone_else_or_garbage() -> None:
    msg, _ = signed()
    other = Account.sign_message(encode_defunct(text=msg.to_text()), Account.create().key).signature.hex()
    with pytest.raises(SiweError, match="does not come from"):
        verify(msg.to_text(), other, domain="gpuflow.test", nonce="abcDEF123456", chain_id=8453, now=NOW)
    with pytest.raises(SiweError, match="not valid"):
        verify(msg.to_text(), "0x1234", domain="gpuflow.test", nonce="abcDEF123456", chain_id=8453, now=NOW)
    edited = msg.to_text().replace("Link this", "Link that")
    _, sig = signed()
    with pytest.raises(SiweError, match="does not come from"):
        verify(edited, sig, domain="gpuflow.test", nonce="abcDEF123456", chain_id=8453, now=NOW)
    with pytest.raises(SiweError):
        SiweMessage.parse("hello")
