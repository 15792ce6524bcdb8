"""The escrow from the bot's side: unsigned transactions for renters' wallets, the operator's and
arbiter's own transactions, state reads, and deployment."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, TypedDict

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractCustomError

from bot.chain.artifact import load_artifact
from bot.chain.rpc import wait_for_receipt
from bot.chain.sender import TxSender

NATIVE = "0x0000000000000000000000000000000000000000"
ERC20_APPROVE_ABI = [{
    "type": "function", "name": "approve", "stateMutability": "nonpayable",
    "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
    "outputs": [{"name": "", "type": "bool"}],
}]


class UnsignedTx(TypedDict):
    """What a renter's wallet signs: exactly these fields, nothing chosen by the bot besides them."""

    to: str
    data: str
    value: int
    chainId: int


class Status(enum.IntEnum):
    NONE = 0
    FUNDED = 1
    ACTIVE = 2
    DISPUTED = 3
    SETTLED = 4
    CANCELLED = 5
    RESOLVED = 6


@dataclass(frozen=True)
class RentalRecord:
    """A rental as the contract holds it (timestamps in unix seconds, 0 = not yet)."""

    renter: str
    deposited_at: int
    fee_bps: int
    status: Status
    provider: str
    started_at: int
    token: str
    stopped_at: int
    amount: int
    duration: int
    disputed_at: int


@dataclass(frozen=True)
class TxOutcome:
    tx_hash: str
    block_number: int
    gas_used: int


class EscrowError(RuntimeError):
    """The escrow refused a call; `error` is the contract's custom error name (e.g. "TooLate")."""

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(f"escrow rejected the call: {error}{(' ' + detail) if detail else ''}")
        self.error = error


class TxFailed(RuntimeError):
    """A sent transaction was mined but reverted."""


def rental_id_bytes(rental_id: bytes | str) -> bytes:
    """Accept the store's "0x" + 64 hex form or raw 32 bytes."""
    raw = bytes(HexBytes(rental_id))
    if len(raw) != 32:
        raise ValueError("a rental id is 32 bytes")
    return raw


def rental_ref(rental_id: bytes | str) -> str:
    """The store's form of a rental id ("0x" + 64 lowercase hex): how the journal refers to it."""
    return "0x" + rental_id_bytes(rental_id).hex()


def _token(token: str | None) -> str:
    return NATIVE if token is None else to_checksum_address(token)


def extra_amount_for(record: RentalRecord, extra_duration: int) -> int:
    """The exact top-up for `extra_duration` more seconds at the rental's price per second."""
    if extra_duration <= 0:
        raise ValueError("extra duration must be positive")
    total = extra_duration * record.amount
    if total % record.duration:
        raise ValueError("that extension does not cost a whole number of base units; pick another length")
    return total // record.duration


class EscrowClient:
    """One deployed GpuEscrow on one chain. `operator`/`arbiter` are optional TxSenders."""

    def __init__(self, w3: AsyncWeb3, address: str, chain_id: int, *, operator: TxSender | None = None,
                 arbiter: TxSender | None = None, receipt_wait_s: float = 120.0) -> None:
        self.w3 = w3
        self.receipt_wait_s = receipt_wait_s
        self.address = to_checksum_address(address)
        self.chain_id = chain_id
        self.operator = operator
        self.arbiter = arbiter
        abi = load_artifact().abi
        self.contract = w3.eth.contract(address=self.address, abi=abi)
        self._erc20 = w3.eth.contract(abi=ERC20_APPROVE_ABI)
        self._errors = {
            "0x" + keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4].hex(): e["name"]
            for e in abi if e["type"] == "error"}

    # ------------------------------------------------------------ unsigned txs for renters

    def _tx(self, fn: str, args: list[Any], value: int = 0) -> UnsignedTx:
        return UnsignedTx(to=self.address, data=self.contract.encode_abi(fn, args=args), value=value,
                          chainId=self.chain_id)

    def deposit_txs(self, rental_id: bytes | str, provider: str, token: str | None, amount: int,
                    duration: int) -> list[UnsignedTx]:
        """Native coin: one deposit carrying the value. ERC-20: approve exactly `amount`, then deposit."""
        token = _token(token)
        args = [rental_id_bytes(rental_id), to_checksum_address(provider), token, amount, duration]
        if token == NATIVE:
            return [self._tx("deposit", args, amount)]
        return [self._approve(token, amount), self._tx("deposit", args)]

    def extend_txs(self, rental_id: bytes | str, token: str | None, extra_duration: int,
                   extra_amount: int) -> list[UnsignedTx]:
        """Top up a running rental (compute extra_amount with extra_amount_for)."""
        token = _token(token)
        args = [rental_id_bytes(rental_id), extra_duration, extra_amount]
        if token == NATIVE:
            return [self._tx("extend", args, extra_amount)]
        return [self._approve(token, extra_amount), self._tx("extend", args)]

    async def prepare_extend(self, rental_id: bytes | str, extra_duration: int) -> list[UnsignedTx]:
        """Read the rental and build its extension at the exact same price per second."""
        record = await self.rental(rental_id)
        if record.status != Status.ACTIVE:
            raise ValueError("only a running rental can be extended")
        return self.extend_txs(rental_id, record.token, extra_duration, extra_amount_for(record, extra_duration))

    def withdraw_tx(self, token: str | None) -> UnsignedTx:
        return self._tx("withdraw", [_token(token)])

    def end_early_tx(self, rental_id: bytes | str) -> UnsignedTx:
        return self._tx("endEarly", [rental_id_bytes(rental_id)])

    def dispute_tx(self, rental_id: bytes | str) -> UnsignedTx:
        return self._tx("dispute", [rental_id_bytes(rental_id)])

    def cancel_tx(self, rental_id: bytes | str) -> UnsignedTx:
        """For a renter whose rental never started once the start deadline has passed."""
        return self._tx("cancel", [rental_id_bytes(rental_id)])

    def settle_tx(self, rental_id: bytes | str) -> UnsignedTx:
        return self._tx("settle", [rental_id_bytes(rental_id)])

    def resolve_tx(self, rental_id: bytes | str, renter_bps: int) -> UnsignedTx:
        """For an arbiter whose key the bot does not hold: the exact resolve call to send."""
        if not 0 <= renter_bps <= 10_000:
            raise ValueError("renter_bps must be within 0..10000")
        return self._tx("resolve", [rental_id_bytes(rental_id), renter_bps])

    def _approve(self, token: str, amount: int) -> UnsignedTx:
        return UnsignedTx(to=token, data=self._erc20.encode_abi("approve", args=[self.address, amount]),
                          value=0, chainId=self.chain_id)

    # ------------------------------------------------------------ the bot's own transactions

    async def start(self, rental_id: bytes | str) -> TxOutcome:
        return await self._send(self.operator, "operator", "start", [rental_id_bytes(rental_id)])

    async def cancel(self, rental_id: bytes | str) -> TxOutcome:
        """Refund a rental that could not be provisioned (full amount credited to the renter)."""
        return await self._send(self.operator, "operator", "cancel", [rental_id_bytes(rental_id)])

    async def settle(self, rental_id: bytes | str) -> TxOutcome:
        return await self._send(self.operator, "operator", "settle", [rental_id_bytes(rental_id)])

    async def resolve(self, rental_id: bytes | str, renter_bps: int) -> TxOutcome:
        if not 0 <= renter_bps <= 10_000:
            raise ValueError("renter_bps must be within 0..10000")
        return await self._send(self.arbiter, "arbiter", "resolve", [rental_id_bytes(rental_id), renter_bps])

    async def submit(self, fn: str, rental_id: bytes | str, *extra: Any, role: str = "operator") -> HexBytes:
        """Send one of the bot's own calls for a rental without waiting for it to be mined; the
        journal (when the sender has one) holds it under purpose `fn` and the rental's id."""
        sender = self.operator if role == "operator" else self.arbiter
        if sender is None:
            raise RuntimeError(f"this bot holds no {role} key")
        data = self.contract.encode_abi(fn, args=[rental_id_bytes(rental_id), *extra])
        try:
            return await sender.send(self.address, data, purpose=fn, ref=rental_ref(rental_id))
        except ContractCustomError as exc:
            raise EscrowError(self.error_name(exc), f"({fn})") from None

    async def _send(self, sender: TxSender | None, role: str, fn: str, args: list[Any]) -> TxOutcome:
        if sender is None:
            raise RuntimeError(f"this bot holds no {role} key")
        tx_hash = await self.submit(fn, args[0], *args[1:], role=role)
        receipt = await wait_for_receipt(self.w3, tx_hash, timeout_s=self.receipt_wait_s)
        if receipt["status"] != 1:
            raise TxFailed(f"{fn} transaction {tx_hash.to_0x_hex()} reverted")
        return TxOutcome(tx_hash=tx_hash.to_0x_hex(), block_number=receipt["blockNumber"],
                         gas_used=receipt["gasUsed"])

    def error_name(self, exc: ContractCustomError) -> str:
        data = str(getattr(exc, "data", "") or "")
        return self._errors.get(data[:10].lower(), data[:10] or "unknown")

    # ------------------------------------------------------------ reads

    async def rental(self, rental_id: bytes | str, block: int | str = "latest") -> RentalRecord:
        """The contract's record of a rental, as of `block` (a number: e.g. the last confirmed one)."""
        r = await self.contract.functions.getRental(rental_id_bytes(rental_id)).call(block_identifier=block)
        return RentalRecord(renter=r[0], deposited_at=r[1], fee_bps=r[2], status=Status(r[3]), provider=r[4],
                            started_at=r[5], token=r[6], stopped_at=r[7], amount=r[8], duration=r[9],
                            disputed_at=r[10])

    async def end_of(self, rental_id: bytes | str) -> int:
        """When the rental's clock stops (unix seconds; 0 before the start)."""
        return await self.contract.functions.endOf(rental_id_bytes(rental_id)).call()

    async def owed(self, account: str, token: str | None = None) -> int:
        """What `account` can withdraw now in `token` (None = native coin)."""
        return await self.contract.functions.owed(to_checksum_address(account), _token(token)).call()

    async def token_allowed(self, token: str) -> bool:
        return await self.contract.functions.tokenAllowed(to_checksum_address(token)).call()


async def deploy_escrow(w3: AsyncWeb3, deployer_key: str, *, operator: str, arbiter: str, fee_recipient: str,
                        fee_bps: int, start_window: int, dispute_window: int, dispute_timeout: int,
                        admin: str | None = None, timeout_s: float = 300.0) -> str:
    """Deploy GpuEscrow from the committed artifact; returns its checksum address.

    `admin` (who edits the token allow-list) defaults to the deployer.
    """
    art = load_artifact()
    chain_id = await w3.eth.chain_id
    sender = TxSender(w3, deployer_key, chain_id)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    args = [to_checksum_address(operator), to_checksum_address(arbiter), to_checksum_address(fee_recipient),
            fee_bps, start_window, dispute_window, dispute_timeout, to_checksum_address(admin or sender.address)]
    data = factory.constructor(*args).data_in_transaction
    receipt = await sender.send_and_wait(None, data, timeout_s=timeout_s)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise TxFailed("escrow deployment reverted (check fee_bps <= 1000, windows > 0, distinct arbiter)")
    return to_checksum_address(receipt["contractAddress"])
