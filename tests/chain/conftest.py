"""Fixtures for the escrow and chain-layer tests: one anvil per session, a snapshot per test."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from bot.chain.quotes import Quote, QuoteSigner
from tests.support.anvil import ANVIL_KEYS, Anvil, start_anvil

ROOT = Path(__file__).resolve().parents[2]
ZERO = "0x0000000000000000000000000000000000000000"
FEE_BPS = 250
START_WINDOW = 3600
DISPUTE_WINDOW = 86400
DISPUTE_TIMEOUT = 7 * 86400
MAX_DURATION = 30 * 86400
QUOTE_TTL = 3600
SEND_GAS = 1_000_000

ADDR = [Account.from_key(k).address for k in ANVIL_KEYS]
DEPLOYER, OPERATOR, ARBITER, FEE_RECIPIENT, RENTER, PROVIDER, RENTER2, PROVIDER2, STRANGER = ADDR[:9]
ADMIN = DEPLOYER          # the escrow's admin (token allow-list) is the deployer in these tests
OPERATOR_KEY = ANVIL_KEYS[1]


def load_artifact(rel: str) -> dict[str, Any]:
    return json.loads((ROOT / rel).read_text())


def error_selectors(abi: list[dict[str, Any]]) -> dict[str, str]:
    """Custom error name -> 4-byte selector hex (no 0x), from an ABI."""
    out = {}
    for item in abi:
        if item["type"] == "error":
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            out[item["name"]] = keccak(text=sig)[:4].hex()
    return out


@dataclass
class Chain:
    """A sync web3 view of the session's anvil plus the deployed escrow and test tokens."""

    node: Anvil
    w3: Web3
    escrow: Any
    usdc: Any
    fot: Any
    errors: dict[str, str]

    def send(self, sender: str, fn: Any, value: int = 0) -> Any:
        """Send a contract call from an unlocked anvil account; return its (successful) receipt.
        Gas is fixed, not estimated: an estimate runs at the latest block's time, not at a time set
        with set_next(), so it could refuse what the mined block accepts."""
        tx_hash = fn.transact({"from": sender, "value": value, "gas": SEND_GAS})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt.status == 1
        return receipt

    def reverts(self, error: str, sender: str, fn: Any, value: int = 0) -> None:
        """Assert that the call reverts with the escrow's custom error `error`.

        Usually the gas estimate already reverts. After set_next() the estimate runs at the latest
        block's time, so it may pass and the transaction revert when mined: then it is replayed with
        eth_call in its own block to read the error."""
        errors = (ContractCustomError, ContractLogicError, Web3RPCError)
        with pytest.raises(errors) as info:
            tx_hash = fn.transact({"from": sender, "value": value})
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
            assert receipt.status == 0, f"expected {error}, but the transaction succeeded"
            tx = self.w3.eth.get_transaction(tx_hash)
            self.w3.eth.call({"from": sender, "to": tx["to"], "data": tx["input"], "value": value},
                             block_identifier=receipt.blockNumber)
        text = str(info.value) + " " + str(getattr(info.value, "data", ""))
        assert self.errors[error] in text, f"expected {error}, got {text[:300]}"

    def warp(self, seconds: int) -> None:
        """Mine a block `seconds` after the latest one; later transactions come at or after it."""
        self.node.rpc("evm_mine", [self.now() + seconds])

    def set_next(self, timestamp: int) -> None:
        """Mine the next block at exactly `timestamp` (anvil's clock otherwise follows wall time)."""
        self.node.rpc("evm_setNextBlockTimestamp", [timestamp])

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def events(self, receipt: Any, name: str) -> list[Any]:
        return list(getattr(self.escrow.events, name)().process_receipt(receipt, errors=DISCARD))

    def quote(self, rid: bytes, renter: str, provider: str, token: str, amount: int, duration: int, *,
              expiry: int | None = None, key: str = OPERATOR_KEY, fee_bps: int = FEE_BPS) -> tuple[int, bytes]:
        """(expiry, signature) of a quote to `renter` signed by `key` (the operator's, unless a test forges)."""
        expiry = self.now() + QUOTE_TTL if expiry is None else expiry
        q = Quote(id="0x" + rid.hex(), renter=renter, provider=provider, token=token, amount=amount,
                  duration=duration, fee_bps=fee_bps, expiry=expiry)
        return expiry, bytes.fromhex(QuoteSigner(key, self.w3.eth.chain_id, self.escrow.address).sign(q).signature[2:])

    def deposit(self, renter: str, rid: bytes, provider: str, token: str, amount: int, duration: int,
                **quote: Any) -> Any:
        """The deposit call of a quote signed for `renter` (send it from `renter`, or try another sender)."""
        expiry, sig = self.quote(rid, renter, provider, token, amount, duration, **quote)
        return self.escrow.functions.deposit(rid, provider, token, amount, duration, expiry, sig)


def deploy(w3: Web3, artifact: dict[str, Any], *args: Any, sender: str = DEPLOYER) -> Any:
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    with start_anvil() as node:
        yield node


def deploy_contracts(node: Anvil) -> dict[str, Any]:
    """Deploy the escrow (DEPLOYER is admin) and the test tokens; mint and approve for the users."""
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    escrow = deploy(w3, art, OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT, FEE_BPS, START_WINDOW, DISPUTE_WINDOW,
                    DISPUTE_TIMEOUT, MAX_DURATION)
    usdc = deploy(w3, load_artifact("contracts/test/artifacts/MockERC20.json"), "USD Coin", "USDC", 6)
    fot = deploy(w3, load_artifact("contracts/test/artifacts/FeeOnTransferToken.json"))
    for token in (usdc, fot):
        w3.eth.wait_for_transaction_receipt(escrow.functions.setTokenAllowed(token.address, True).transact({"from": DEPLOYER}))
        for who in (RENTER, RENTER2, PROVIDER, STRANGER):
            w3.eth.wait_for_transaction_receipt(token.functions.mint(who, 10**15).transact({"from": DEPLOYER}))
            w3.eth.wait_for_transaction_receipt(
                token.functions.approve(escrow.address, 2**256 - 1).transact({"from": who}))
    return {"escrow": escrow.address, "usdc": usdc.address, "fot": fot.address, "abi": art["abi"]}


def make_chain(node: Anvil, deployed: dict[str, Any]) -> Chain:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    token_abi = load_artifact("contracts/test/artifacts/MockERC20.json")["abi"]
    return Chain(
        node=node, w3=w3,
        escrow=w3.eth.contract(address=deployed["escrow"], abi=deployed["abi"]),
        usdc=w3.eth.contract(address=deployed["usdc"], abi=token_abi),
        fot=w3.eth.contract(address=deployed["fot"], abi=token_abi),
        errors=error_selectors(deployed["abi"]),
    )


@pytest.fixture(scope="session")
def deployed(anvil_node: Anvil) -> dict[str, Any]:
    """Deployed once per session; every test then runs inside an evm snapshot."""
    return deploy_contracts(anvil_node)


@pytest.fixture
def fresh_chain() -> Iterator[Chain]:
    """A private anvil with its own escrow, for tests that reorg or otherwise rewrite history."""
    with start_anvil() as node:
        yield make_chain(node, deploy_contracts(node))


@pytest.fixture
def chain(anvil_node: Anvil, deployed: dict[str, Any]) -> Iterator[Chain]:
    snap = anvil_node.rpc("evm_snapshot")
    yield make_chain(anvil_node, deployed)
    assert anvil_node.rpc("evm_revert", [snap]) is True


# ------------------------------------------------------------------ async helpers for bot.chain

async def sign_and_send(w3: Any, key: str, utx: dict[str, Any]) -> Any:
    """Play the renter's wallet: sign exactly the unsigned tx the bot built, send, wait."""
    from bot.chain.rpc import wait_for_receipt

    acct = Account.from_key(key)
    tx = dict(utx, nonce=await w3.eth.get_transaction_count(acct.address, "pending"),
              gas=await w3.eth.estimate_gas(dict(utx, **{"from": acct.address})),
              maxFeePerGas=10**11, maxPriorityFeePerGas=10**9, type=2)
    tx_hash = await w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    receipt = await wait_for_receipt(w3, tx_hash, timeout_s=30)
    assert receipt["status"] == 1
    return receipt
