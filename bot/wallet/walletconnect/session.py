"""The settled session as data: what must survive a restart, and nothing else."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Session:
    """A settled WalletConnect session. `sym_key` is secret: keep it out of logs (repr hides it)."""

    topic: str
    sym_key: bytes
    peer_public_key: str
    peer_metadata: dict[str, Any]
    namespaces: dict[str, Any]
    expiry: int
    pairing_topic: str = ""
    last_chain: str | None = None          # from a wc_sessionEvent chainChanged, if any
    created_at: int = field(default_factory=lambda: int(time.time()))

    def __repr__(self) -> str:
        return f"Session(topic={self.topic[:12]}…, accounts={self.accounts}, expiry={self.expiry})"

    @property
    def accounts(self) -> list[str]:
        """CAIP-10 accounts, e.g. 'eip155:1:0xabc…'."""
        out: list[str] = []
        for ns in self.namespaces.values():
            out.extend(ns.get("accounts", []))
        return out

    @property
    def chains(self) -> list[str]:
        chains: list[str] = []
        for name, ns in self.namespaces.items():
            chains.extend(ns.get("chains") or [])
            if ":" in name and name not in chains:  # "eip155:1" style keys
                chains.append(name)
        for acc in self.accounts:
            chain = acc.rsplit(":", 1)[0]
            if chain not in chains:
                chains.append(chain)
        return chains

    def methods(self, chain: str) -> set[str]:
        found: set[str] = set()
        for name, ns in self.namespaces.items():
            if name == chain.split(":")[0] or name == chain:
                found.update(ns.get("methods", []))
        return found

    def addresses(self, chain_id: int | None = None) -> list[str]:
        """EVM addresses of the session, optionally only those on one chain id."""
        out: list[str] = []
        for acc in self.accounts:
            ns, ref, addr = acc.split(":", 2)
            if ns == "eip155" and (chain_id is None or ref == str(chain_id)) and addr not in out:
                out.append(addr)
        return out

    @property
    def current_chain_id(self) -> int | None:
        """The EVM chain the wallet last announced (chainChanged), if it announced one."""
        if self.last_chain and self.last_chain.startswith("eip155:"):
            return int(self.last_chain.split(":")[1])
        return None

    def apply_wallet_change(self, method: str, params: dict[str, Any]) -> bool:
        """Take a wallet's wc_sessionUpdate / Extend / chainChanged event; True if anything changed."""
        if method == "wc_sessionUpdate" and isinstance(params.get("namespaces"), dict):
            self.namespaces = params["namespaces"]
        elif method == "wc_sessionExtend" and isinstance(params.get("expiry"), int):
            self.expiry = params["expiry"]
        elif method == "wc_sessionEvent" and (params.get("event") or {}).get("name") == "chainChanged":
            data = params["event"].get("data")   # a chain id (1) or a CAIP-2 reference ("eip155:1")
            self.last_chain = (str(data) if ":" in str(data) else f"eip155:{int(data)}") if data is not None \
                else params.get("chainId")
        else:
            return False
        return True

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expiry

    def to_record(self) -> dict[str, Any]:
        return {"v": 1, "topic": self.topic, "sym_key": self.sym_key.hex(), "peer_public_key": self.peer_public_key,
                "peer_metadata": self.peer_metadata, "namespaces": self.namespaces, "expiry": self.expiry,
                "pairing_topic": self.pairing_topic, "last_chain": self.last_chain, "created_at": self.created_at}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Session":
        return cls(topic=rec["topic"], sym_key=bytes.fromhex(rec["sym_key"]), peer_public_key=rec["peer_public_key"],
                   peer_metadata=rec.get("peer_metadata") or {}, namespaces=rec["namespaces"],
                   expiry=int(rec["expiry"]), pairing_topic=rec.get("pairing_topic", ""),
                   last_chain=rec.get("last_chain"), created_at=int(rec.get("created_at", 0)))
