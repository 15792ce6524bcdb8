"""Wire details shared by the Sign API client: JSON as the SDK writes it, ids, tags and TTLs.

Why apart: these are facts read from @walletconnect/sign-client (ENGINE_RPC_OPTS, payloadId,
safeJsonParse), not client logic; keeping them together makes them easy to check against the SDK.
"""
from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Iterator
from typing import Any

from . import crypto
from .relay import RelayClient

# (tag, ttl) for requests we send and responses we give, from ENGINE_RPC_OPTS in sign-client.
REQ = {"wc_sessionRequest": (1108, 900), "wc_sessionDelete": (1112, 86400), "wc_sessionPing": (1114, 86400)}
RES = {"wc_sessionSettle": (1103, 300), "wc_sessionUpdate": (1105, 86400), "wc_sessionExtend": (1107, 86400),
       "wc_sessionRequest": (1109, 900), "wc_sessionEvent": (1111, 300), "wc_sessionDelete": (1113, 86400),
       "wc_sessionPing": (1115, 86400), "wc_pairingDelete": (1001, 86400), "wc_pairingPing": (1003, 30)}
# The JS SDK's safeJsonParse quotes every run of 17+ digits followed by , } or ] -- even inside
# strings -- before JSON.parse, which corrupts the payload and the wallet drops it silently.
SDK_UNSAFE_NUMBER = re.compile(r"\d{17,}[,}\]]")


def payload_ids() -> Iterator[int]:
    """JSON-RPC ids like payloadId() in the SDK: milliseconds * 1000 + 3 random digits, increasing."""
    return itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))


def dumps(payload: Any) -> str:
    """Compact JSON, as JSON.stringify writes it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def chain_ref(chain: int | str) -> str:
    """CAIP-2 id: 31337 -> 'eip155:31337'."""
    text = str(chain)
    return text if ":" in text else f"eip155:{int(text)}"


async def respond(relay: RelayClient, topic: str, key: bytes, req_id: int, method: str, *,
                  result: Any = None, error: dict[str, Any] | None = None) -> None:
    """Answer a request from the wallet (with its method's tag and TTL)."""
    tag, ttl = RES.get(method, (1109, 300))
    body: dict[str, Any] = {"id": req_id, "jsonrpc": "2.0"}
    body.update({"error": error} if error is not None else {"result": result})
    await relay.publish(topic, crypto.encrypt(key, dumps(body)), ttl=ttl, tag=tag, correlation_id=req_id)
