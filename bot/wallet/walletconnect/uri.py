"""Pairing URIs (`wc:<topic>@2?...`), formatted as formatUri/parseUri in @walletconnect/utils."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from .crypto import topic_for


class PairingUriError(ValueError):
    """Not a usable WalletConnect v2 pairing URI."""


@dataclass(frozen=True)
class PairingUri:
    topic: str
    sym_key: bytes
    expiry_timestamp: int
    relay_protocol: str = "irn"
    methods: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the URI itself carries the key: never print it whole
        return f"PairingUri(topic={self.topic!r}, expiry_timestamp={self.expiry_timestamp})"

    def format(self) -> str:
        """Query keys sorted, like the SDK, so URIs are byte-identical to what it builds."""
        params = {"expiryTimestamp": str(self.expiry_timestamp), "relay-protocol": self.relay_protocol,
                  "symKey": self.sym_key.hex()}
        if self.methods:
            params["methods"] = ",".join(self.methods)
        return f"wc:{self.topic}@2?" + urlencode(sorted(params.items()))

    @classmethod
    def parse(cls, uri: str) -> "PairingUri":
        match = re.fullmatch(r"wc:(?://)?([0-9a-f]{64})@(\d+)\?(.*)", uri.strip())
        if not match:
            raise PairingUriError("not a WalletConnect pairing URI")
        topic, version, query = match.groups()
        if version != "2":
            raise PairingUriError(f"unsupported WalletConnect version {version}")
        params = dict(parse_qsl(query))
        try:
            sym_key = bytes.fromhex(params["symKey"])
        except (KeyError, ValueError) as exc:
            raise PairingUriError("pairing URI has no valid symKey") from exc
        if len(sym_key) != 32 or topic_for(sym_key) != topic:
            raise PairingUriError("pairing URI symKey does not match its topic")
        methods = tuple(m for m in params.get("methods", "").split(",") if m)
        return cls(topic=topic, sym_key=sym_key, expiry_timestamp=int(params.get("expiryTimestamp", "0")),
                   relay_protocol=params.get("relay-protocol", "irn"), methods=methods)
