"""The emulator's fast validator (jsonschema validators compiled from the OpenAPI file) and
openapi-core give the same verdict on the same traffic: valid and broken requests and answers."""
from __future__ import annotations

import pytest

from devnet.discord.spec import ApiSpec, SPEC_PATH

AUTH = {"Authorization": "Bot x", "Content-Type": "application/json"}
USER = {"id": "1", "username": "b", "avatar": None, "discriminator": "0", "public_flags": 0, "flags": 0,
        "global_name": None, "primary_guild": None}
MESSAGE = {"id": "1", "channel_id": "2", "type": 0, "content": "x", "author": USER, "mentions": [],
           "mention_roles": [], "mention_everyone": False, "attachments": [], "embeds": [], "components": [],
           "timestamp": "2026-12-01T10:00:00+00:00", "edited_timestamp": None, "flags": 0, "pinned": False,
           "tts": False}

REQUESTS = [
    ("post", "/channels/12/messages", {}, {"content": "hi", "nonce": "k1", "enforce_nonce": True}, True),
    ("post", "/channels/12/messages", {}, {"content": "hi", "embeds": [{"title": "t" * 257}]}, False),
    ("post", "/channels/12/messages", {}, {"content": "hi", "embeds": [{"color": "red"}]}, False),
    ("post", "/channels/12/messages", {}, {"components": [{"type": 1, "components": [
        {"type": 2, "style": 1, "label": "b", "custom_id": "x" * 101}]}]}, False),
    ("post", "/channels/12/messages", {}, {"attachments": [{"id": 0, "filename": "a.txt"}], "content": "f"}, True),
    ("post", "/users/@me/channels", {}, {"recipient_id": 1234567890123}, True),
    ("post", "/interactions/123/tok/callback", {"with_response": "1"}, {"type": 5, "data": {"flags": 64}}, True),
    ("post", "/interactions/123/tok/callback", {"with_response": "1"}, {"type": 99}, False),
    ("post", "/interactions/abc/tok/callback", {}, {"type": 5}, False),
    ("put", "/applications/1/guilds/2/commands", {}, [{"name": "ping", "description": "p", "type": 1}], True),
    ("patch", "/channels/5", {}, {"archived": True, "locked": True}, True),
    ("get", "/users/@me", {}, None, True),
]

RESPONSES = [
    ("post", "/channels/12/messages", 200, MESSAGE, True),
    ("post", "/channels/12/messages", 200, {**MESSAGE, "timestamp": "yesterday"}, False),
    ("post", "/channels/12/messages", 200, {"id": "1"}, False),
    ("post", "/channels/12/messages", 429, {"code": 0, "message": "slow", "retry_after": 1, "global": False}, True),
    ("post", "/channels/12/messages", 429, {"message": "slow", "retry_after": 1}, False),
    ("post", "/interactions/123/tok/callback", 200, {"interaction": {"id": "1", "type": 2}}, True),
    ("post", "/interactions/123/tok/callback", 200, {"interaction": {"id": "1"}}, False),
]


@pytest.fixture(scope="module")
def engines():
    return ApiSpec(SPEC_PATH, engine="jsonschema"), ApiSpec(SPEC_PATH, engine="openapi-core")


@pytest.mark.parametrize("method, path, query, body, valid", REQUESTS)
def test_requests_get_the_same_verdict(engines, method, path, query, body, valid):
    fast, reference = engines
    verdicts = [not e.check_request(method, path, query, AUTH, body) for e in engines]
    assert verdicts == [valid, valid], (fast.check_request(method, path, query, AUTH, body),
                                        reference.check_request(method, path, query, AUTH, body))


@pytest.mark.parametrize("method, path, status, body, valid", RESPONSES)
def test_answers_get_the_same_verdict(engines, method, path, status, body, valid):
    verdicts = [not e.check_response(method, path, {}, AUTH, {"content": "x"}, status, {"X-RateLimit-Limit": "5"},
                                     body) for e in engines]
    assert verdicts == [valid, valid]
