"""The bot's signed deposit quotes (EIP-712), which GpuEscrow v2 checks on every deposit.

A quote binds one rental id to the one renter it was quoted to and to its exact terms (provider,
token, amount, duration, the contract's fee) until an expiry. The contract rebuilds the quote with
msg.sender as the renter and its own feeBps and accepts the deposit only if the operator signed
exactly that: nobody else can fund (or block) an id, and a deposit cannot differ from its quote.
The renter's wallet does not sign the quote; it sends it, with the operator's signature, as the
deposit's arguments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

DOMAIN_NAME = "GpuEscrow"
DOMAIN_VERSION = "2"          # the contract's VERSION: a quote for another version never verifies
QUOTE_TYPES = {
    "Quote": [
        {"name": "id", "type": "bytes32"},
        {"name": "renter", "type": "address"},
        {"name": "provider", "type": "address"},
        {"name": "token", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "duration", "type": "uint256"},
        {"name": "feeBps", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class Quote:
    """The terms of one deposit. `expiry` is a unix time: the deposit must be mined before it."""

    id: str            # "0x" + 64 hex
    renter: str
    provider: str
    token: str         # the zero address for the native coin
    amount: int
    duration: int      # seconds
    fee_bps: int
    expiry: int

    def message(self) -> dict:
        return {"id": bytes(HexBytes(self.id)), "renter": to_checksum_address(self.renter),
                "provider": to_checksum_address(self.provider), "token": to_checksum_address(self.token),
                "amount": self.amount, "duration": self.duration, "feeBps": self.fee_bps, "expiry": self.expiry}


@dataclass(frozen=True)
class SignedQuote:
    quote: Quote
    signature: str     # "0x" + 130 hex (r, s, v)

    def as_dict(self) -> dict:
        return dict(asdict(self.quote), signature=self.signature)


def typed_data(quote: Quote, chain_id: int, contract: str) -> dict:
    """The full EIP-712 message (as eth_signTypedData_v4 takes it) for one quote on one escrow."""
    return {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}], **QUOTE_TYPES},
        "primaryType": "Quote",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": to_checksum_address(contract)},
        "message": quote.message(),
    }


def quote_digest(quote: Quote, chain_id: int, contract: str) -> bytes:
    """What the operator signs (the contract's quoteDigest of the same quote)."""
    m = encode_typed_data(full_message=typed_data(quote, chain_id, contract))
    return keccak(b"\x19" + m.version + m.header + m.body)


def quote_signer(quote: Quote, signature: str, chain_id: int, contract: str) -> str:
    """The address that made `signature` over `quote` (checksum)."""
    signable = encode_typed_data(full_message=typed_data(quote, chain_id, contract))
    return Account.recover_message(signable, signature=HexBytes(signature))


class QuoteSigner:
    """Holds the operator's key for quotes (never printed) and signs for one escrow on one chain."""

    def __init__(self, private_key: str, chain_id: int, contract: str) -> None:
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address
        self.chain_id = chain_id
        self.contract = to_checksum_address(contract)

    def __repr__(self) -> str:
        return f"QuoteSigner({self.address})"

    def sign(self, quote: Quote) -> SignedQuote:
        signable = encode_typed_data(full_message=typed_data(quote, self.chain_id, self.contract))
        signed = self._account.sign_message(signable)
        return SignedQuote(quote=quote, signature=HexBytes(signed.signature).to_0x_hex())
