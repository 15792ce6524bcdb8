"""Sealed persistence: records survive a restart, secrets never reach the backend in clear."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.crypto import SecretBox, SecretBoxError
from bot.wallet.walletconnect import FileBackend, MemoryBackend, SealedStore, Session, SessionStore


def make_session() -> Session:
    return Session(topic="ab" * 32, sym_key=os.urandom(32), peer_public_key="cd" * 32,
                   peer_metadata={"name": "w"}, namespaces={"eip155": {"accounts": ["eip155:1:0x" + "11" * 20],
                                                                       "methods": ["personal_sign"], "events": []}},
                   expiry=2_000_000_000)


async def test_file_store_round_trip_is_sealed(tmp_path: Path) -> None:
    box = SecretBox(os.urandom(32))
    path = tmp_path / "wc.json"
    store = SealedStore(box, FileBackend(path))
    assert isinstance(store, SessionStore)
    session = make_session()
    await store.save("session:" + session.topic, session.to_record())
    raw = path.read_text()
    assert session.sym_key.hex() not in raw and "personal_sign" not in raw
    again = await SealedStore(box, FileBackend(path)).load_all()
    assert Session.from_record(again["session:" + session.topic]) == session
    await store.delete("session:" + session.topic)
    assert await store.load_all() == {}


async def test_wrong_master_key_or_moved_record_fails() -> None:
    backend = MemoryBackend()
    await SealedStore(SecretBox(os.urandom(32)), backend).save("session:x", {"a": 1})
    with pytest.raises(SecretBoxError):
        await SealedStore(SecretBox(os.urandom(32)), backend).load_all()
    box = SecretBox(os.urandom(32))
    store = SealedStore(box, backend)
    await store.save("session:x", {"a": 1})
    backend.data["session:y"] = backend.data.pop("session:x")  # a record copied under another key
    with pytest.raises(SecretBoxError):
        await store.load_all()


def test_session_views() -> None:
    s = make_session()
    assert s.chains == ["eip155:1"] and s.addresses(1) == ["0x" + "11" * 20] and s.addresses(5) == []
    assert s.methods("eip155:1") == {"personal_sign"}
    assert s.sym_key.hex() not in repr(s)
