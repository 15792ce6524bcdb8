"""Typed escrow events, their decoding from raw logs, and the handler protocol the store implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy.ext.asyncio import AsyncSession
from web3 import AsyncWeb3

from bot.chain.artifact import load_artifact


@dataclass(frozen=True)
class EscrowEvent:
    """One decoded escrow log.

    args: the event's arguments by name; uints as int, addresses as checksum str, bytes32 as
    "0x" + 64 lowercase hex. rental_id is args["id"] (None for Withdrawn and TokenAllowed).
    """

    name: str
    rental_id: str | None
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    chain_id: int = field(default=0, compare=False)
    contract: str = field(default="", compare=False)


class EscrowEventHandler(Protocol):
    """Implemented by the services layer. Both calls run inside the watcher's database transaction,
    which also records the event and advances the checkpoint: write effects with `session` only and
    do not commit. Raising aborts the whole block range (retried on the next poll), so report
    business problems (an unexpected amount, an unknown rental) as data, not as exceptions."""

    async def apply(self, session: AsyncSession, event: EscrowEvent) -> None: ...

    async def revert(self, session: AsyncSession, event: EscrowEvent) -> None: ...

    # optional: `async def peek(session, event)` sees Deposited events of blocks not confirmed yet
    # (when the watcher is made with peek_unconfirmed); advisory, possibly reorged away later


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


class EventDecoder:
    """Turns the escrow's raw logs into EscrowEvents (and back from stored JSON args)."""

    def __init__(self, w3: AsyncWeb3, address: str, chain_id: int) -> None:
        abi = load_artifact().abi
        self.contract = w3.eth.contract(address=address, abi=abi)
        self.chain_id = chain_id
        self.address = self.contract.address
        self._by_topic = {"0x" + keccak(text=_signature(e)).hex(): e for e in abi if e["type"] == "event"}
        self._by_name = {e["name"]: e for e in self._by_topic.values()}

    def topic_of(self, name: str) -> str:
        """topic0 of one escrow event, as a hex string."""
        return next(topic for topic, item in self._by_topic.items() if item["name"] == name)

    @property
    def topics(self) -> list[str]:
        """topic0 of every escrow event, as hex strings (web3 needs strings, not bytes, in filters)."""
        return sorted(self._by_topic)

    def decode(self, log: Any) -> EscrowEvent | None:
        """None for a log that is not one of the escrow's events."""
        topic0 = HexBytes(log["topics"][0]).to_0x_hex() if log["topics"] else ""
        item = self._by_topic.get(topic0)
        if item is None:
            return None
        decoded = getattr(self.contract.events, item["name"])().process_log(log)
        args = {k: ("0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in decoded["args"].items()}
        return EscrowEvent(name=item["name"], rental_id=args.get("id"), args=args,
                           block_number=log["blockNumber"], block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
                           tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(), log_index=log["logIndex"],
                           chain_id=self.chain_id, contract=self.address)

    @staticmethod
    def args_to_json(args: dict[str, Any]) -> dict[str, Any]:
        """Integers become decimal strings: uint256 does not fit JSON numbers everywhere."""
        return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in args.items()}

    def args_from_json(self, name: str, stored: dict[str, Any]) -> dict[str, Any]:
        types = {i["name"]: i["type"] for i in self._by_name[name]["inputs"]}
        return {k: (int(v) if types.get(k, "").startswith(("uint", "int")) else v) for k, v in stored.items()}
