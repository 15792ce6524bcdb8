"""Plain explanations when the connected wallet is on the wrong chain or uses another account."""
from __future__ import annotations

from collections.abc import Sequence

CHAIN_NAMES = {1: "Ethereum", 10: "OP Mainnet", 56: "BNB Smart Chain", 137: "Polygon", 8453: "Base",
               42161: "Arbitrum One", 11155111: "Sepolia", 84532: "Base Sepolia", 31337: "a local test chain"}


def chain_name(chain_id: int) -> str:
    name = CHAIN_NAMES.get(chain_id)
    return f"{name} ({chain_id})" if name else f"chain {chain_id}"


def _parse(accounts: Sequence[str]) -> list[tuple[int, str]]:
    out = []
    for acc in accounts:
        parts = acc.split(":")
        if len(parts) == 3 and parts[0] == "eip155" and parts[1].isdigit():
            out.append((int(parts[1]), parts[2]))
    return out


def explain_mismatch(accounts: Sequence[str], chain_id: int, linked_address: str | None = None,
                     current_chain: int | None = None) -> str | None:
    """None when the session can pay on `chain_id` from `linked_address`; otherwise what to fix.

    `accounts` are the session's CAIP-10 accounts; `current_chain` is the wallet's last
    chainChanged event, if it sent one.
    """
    parsed = _parse(accounts)
    if not parsed:
        return "your wallet shared no Ethereum account; link it again with /wallet link"
    chains = sorted({c for c, _ in parsed})
    if chain_id not in chains:
        where = current_chain if current_chain is not None else chains[0]
        return (f"your wallet is on {chain_name(where)}, switch it to {chain_name(chain_id)} "
                "and link it again with /wallet link")
    if current_chain is not None and current_chain != chain_id:
        return f"your wallet is on {chain_name(current_chain)}, switch it to {chain_name(chain_id)}"
    on_chain = [a for c, a in parsed if c == chain_id]
    if linked_address and linked_address.lower() not in {a.lower() for a in on_chain}:
        return (f"this wallet's account {on_chain[0]} differs from your linked {linked_address}; "
                "switch account in your wallet or link this one with /wallet link")
    return None
