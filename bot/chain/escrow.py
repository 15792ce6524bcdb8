"""The escrow from the bot's side: signed quotes and unsigned transactions for renters' wallets,
the operator's and arbiter's own transactions, and state reads (deployment: bot.chain.deploy)."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, TypedDict

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractCustomError

from bot.chain.artifact import load_artifact
from bot.chain.quotes import Quote, QuoteSigner, SignedQuote
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
class EscrowParameters:
    """Everything the contract fixed at deploy (its `parameters()` view)."""

    version: str
    operator: str
    arbiter: str
    admin: str
    fee_recipient: str
    fee_bps: int
    start_window: int
    dispute_window: int
    dispute_timeout: int
    max_duration: int


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


def extra_amount_for(record: RentalRecord, extra_duration: int, max_duration: int | None = None) -> int:
    """The exact top-up for `extra_duration` more seconds at the rental's price per second."""
    if extra_duration <= 0:
        raise ValueError("extra duration must be positive")
    if max_duration is not None and record.duration + extra_duration > max_duration:
        raise ValueError(f"a rental can last at most {max_duration // 3600} h in all on this escrow "
                         f"({max(0, max_duration - record.duration) // 3600} h more for this one)")
    total = extra_duration * record.amount
    if total % record.duration:
        raise ValueError("that extension does not cost a whole number of base units; pick another length")
    return total // record.duration


class EscrowClient:
    """One deployed GpuEscrow on one chain. `operator`/`arbiter` are optional TxSenders; `quoter`
    (the operator's key too) signs deposit quotes."""

    def __init__(self, w3: AsyncWeb3, address: str, chain_id: int, *, operator: TxSender | None = None,
                 arbiter: TxSender | None = None, quoter: QuoteSigner | None = None,
                 receipt_wait_s: float = 120.0) -> None:
        self.w3 = w3
        self.receipt_wait_s = receipt_wait_s
        self.address = to_checksum_address(address)
        self.chain_id = chain_id
        self.operator = operator
        self.arbiter = arbiter
        self.quoter = quoter
        self._parameters: EscrowParameters | None = None
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

    def sign_quote(self, rental_id: str, renter: str, provider: str, token: str | None, amount: int,
                   duration: int, fee_bps: int, expiry: int) -> SignedQuote:
        """The operator's signature over a deposit's exact terms, for `renter` only, until `expiry`."""
        if self.quoter is None:
            raise RuntimeError("this bot holds no operator key, so it cannot quote deposits")
        return self.quoter.sign(Quote(id="0x" + rental_id_bytes(rental_id).hex(), renter=to_checksum_address(renter),
                                      provider=to_checksum_address(provider), token=_token(token), amount=amount,
                                      duration=duration, fee_bps=fee_bps, expiry=expiry))

    @staticmethod
    def deposit_args(signed: SignedQuote) -> list[Any]:
        """deposit(id, provider, token, amount, duration, expiry, signature): the renter is the sender."""
        q = signed.quote
        return [rental_id_bytes(q.id), to_checksum_address(q.provider), _token(q.token), q.amount, q.duration,
                q.expiry, bytes(HexBytes(signed.signature))]

    def deposit_txs(self, signed: SignedQuote) -> list[UnsignedTx]:
        """Native coin: one deposit carrying the value. ERC-20: approve exactly `amount`, then deposit.
        Only the quote's renter can send them (the contract checks the operator signed it for them)."""
        token, amount = _token(signed.quote.token), signed.quote.amount
        args = self.deposit_args(signed)
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
        limit = (await self.parameters()).max_duration
        return self.extend_txs(rental_id, record.token, extra_duration,
                               extra_amount_for(record, extra_duration, limit))

    def withdraw_tx(self, token: str | None) -> UnsignedTx:
        return self._tx("withdraw", [_token(token)])

    def withdraw_to_tx(self, token: str | None, to: str) -> UnsignedTx:
        """Pay what the sender is owed to another address (a wallet that cannot receive itself)."""
        return self._tx("withdrawTo", [_token(token), to_checksum_address(to)])

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

    def error_in(self, text: str) -> str | None:
        """The escrow's custom error named by the first known selector in `text` (a wallet's or a node's
        revert message), if any."""
        for selector in re.findall(r"0x[0-9a-fA-F]{8}", text or ""):
            if name := self._errors.get(selector.lower()):
                return name
        return None

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

    async def parameters(self) -> EscrowParameters:
        """The contract's fixed parameters, read once (they are immutable) and kept."""
        if self._parameters is None:
            p = await self.contract.functions.parameters().call()
            self._parameters = EscrowParameters(
                version=p[0], operator=p[1], arbiter=p[2], admin=p[3], fee_recipient=p[4], fee_bps=p[5],
                start_window=p[6], dispute_window=p[7], dispute_timeout=p[8], max_duration=p[9])
        return self._parameters
