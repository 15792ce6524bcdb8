"""bot.chain.escrow against anvil: renter transactions, operator/arbiter sends, reads, deploy."""
from __future__ import annotations

import asyncio
import os
from typing import Any, AsyncIterator

import pytest

from bot.chain.escrow import (EscrowClient, EscrowError, Status, deploy_escrow, extra_amount_for,
                              rental_id_bytes)
from bot.chain.rpc import make_web3
from bot.chain.sender import TxSender
from tests.chain.conftest import (ARBITER, DEPLOYER, FEE_RECIPIENT, OPERATOR, PROVIDER, RENTER, ZERO, Chain,
                                  sign_and_send)
from tests.support.anvil import ANVIL_KEYS

RENTER_KEY, OPERATOR_KEY, ARBITER_KEY = ANVIL_KEYS[4], ANVIL_KEYS[1], ANVIL_KEYS[2]


@pytest.fixture
async def client(chain: Chain) -> AsyncIterator[EscrowClient]:
    w3 = make_web3(chain.node.rpc_url)
    yield EscrowClient(w3, chain.escrow.address, 31337, operator=TxSender(w3, OPERATOR_KEY, 31337),
                       arbiter=TxSender(w3, ARBITER_KEY, 31337))
    await w3.provider.disconnect()


async def funded(client: EscrowClient, amount: int = 10**18, duration: int = 3600, token: str | None = None) -> str:
    rid = "0x" + os.urandom(32).hex()
    for utx in client.deposit_txs(rid, PROVIDER, token, amount, duration):
        await sign_and_send(client.w3, RENTER_KEY, utx)
    return rid


async def test_deploy_escrow(chain: Chain) -> None:
    w3 = make_web3(chain.node.rpc_url)
    address = await deploy_escrow(w3, ANVIL_KEYS[0], operator=OPERATOR, arbiter=ARBITER, fee_recipient=FEE_RECIPIENT,
                                  fee_bps=100, start_window=60, dispute_window=0, dispute_timeout=600)
    c = EscrowClient(w3, address, 31337).contract.functions
    try:
        await _check_deploy(w3, c)
    finally:
        await w3.provider.disconnect()


async def _check_deploy(w3: Any, c: Any) -> None:
    assert await c.operator().call() == OPERATOR and await c.admin().call() == DEPLOYER
    assert (await c.feeBps().call(), await c.startWindow().call(), await c.disputeTimeout().call()) == (100, 60, 600)
    with pytest.raises(Exception):
        await deploy_escrow(w3, ANVIL_KEYS[0], operator=OPERATOR, arbiter=ARBITER, fee_recipient=FEE_RECIPIENT,
                            fee_bps=1001, start_window=60, dispute_window=0, dispute_timeout=600)


async def test_native_deposit_is_one_tx_with_value(client: EscrowClient) -> None:
    rid = "0x" + "ab" * 32
    txs = client.deposit_txs(rid, PROVIDER, None, 5 * 10**17, 7200)
    assert len(txs) == 1 and set(txs[0]) == {"to", "data", "value", "chainId"}
    assert txs[0]["to"] == client.address and txs[0]["value"] == 5 * 10**17 and txs[0]["chainId"] == 31337
    await sign_and_send(client.w3, RENTER_KEY, txs[0])
    rec = await client.rental(rid)
    assert (rec.status, rec.renter, rec.provider, rec.token, rec.amount, rec.duration) == (
        Status.FUNDED, RENTER, PROVIDER, ZERO, 5 * 10**17, 7200)


async def test_erc20_deposit_is_exact_approve_then_deposit(client: EscrowClient, chain: Chain) -> None:
    usdc = chain.usdc.address
    chain.send(RENTER, chain.usdc.functions.approve(client.address, 0))
    txs = client.deposit_txs("0x" + "cd" * 32, PROVIDER, usdc, 25_000_000, 3600)
    assert [t["to"] for t in txs] == [usdc, client.address] and all(t["value"] == 0 for t in txs)
    for t in txs:
        await sign_and_send(client.w3, RENTER_KEY, t)
    assert (await client.rental("0x" + "cd" * 32)).amount == 25_000_000
    assert chain.usdc.functions.allowance(RENTER, client.address).call() == 0  # approved exactly


async def test_operator_start_cancel_and_renter_withdraw(client: EscrowClient, chain: Chain) -> None:
    a, b = await funded(client), await funded(client, amount=3 * 10**17)
    out = await client.start(a)
    assert out.block_number > 0 and (await client.rental(a)).status == Status.ACTIVE
    with pytest.raises(EscrowError) as err:
        await client.start(a)
    assert err.value.error == "WrongStatus" and OPERATOR_KEY[2:] not in str(err.value)
    await client.cancel(b)   # the failed start above used no nonce: this goes straight through
    assert await client.owed(RENTER) == 3 * 10**17
    before = chain.w3.eth.get_balance(RENTER)
    r = await sign_and_send(client.w3, RENTER_KEY, client.withdraw_tx(None))
    assert chain.w3.eth.get_balance(RENTER) == before + 3 * 10**17 - r["gasUsed"] * r["effectiveGasPrice"]
    assert await client.owed(RENTER) == 0


async def test_extend_at_exact_price(client: EscrowClient) -> None:
    rid = await funded(client, amount=3600 * 10**12, duration=3600)
    await client.start(rid)
    with pytest.raises(ValueError):
        extra_amount_for(await client.rental(rid), 0)
    txs = await client.prepare_extend(rid, 1800)
    assert txs[0]["value"] == 1800 * 10**12
    await sign_and_send(client.w3, RENTER_KEY, txs[0])
    rec = await client.rental(rid)
    assert (rec.amount, rec.duration) == (5400 * 10**12, 5400)
    odd = await funded(client, amount=1000, duration=300)
    await client.start(odd)
    with pytest.raises(ValueError, match="whole number"):
        await client.prepare_extend(odd, 1)
    with pytest.raises(ValueError):
        await client.prepare_extend(await funded(client), 60)   # not started


async def test_dispute_and_resolve_by_arbiter_key(client: EscrowClient, chain: Chain) -> None:
    rid = await funded(client, amount=10_000)
    await client.start(rid)
    await sign_and_send(client.w3, RENTER_KEY, client.dispute_tx(rid))
    assert (await client.rental(rid)).status == Status.DISPUTED
    with pytest.raises(EscrowError) as err:
        await EscrowClient(client.w3, client.address, 31337, arbiter=client.operator).resolve(rid, 5000)
    assert err.value.error == "Unauthorized"
    with pytest.raises(RuntimeError, match="no arbiter key"):
        await EscrowClient(client.w3, client.address, 31337).resolve(rid, 5000)
    await client.resolve(rid, 5000)
    assert (await client.rental(rid)).status == Status.RESOLVED
    assert await client.owed(RENTER) == 5000 and await client.owed(PROVIDER) == 5000 - 5000 * 250 // 10_000


async def test_renter_builders_encode_the_right_calls(client: EscrowClient) -> None:
    rid = rental_id_bytes("0x" + "01" * 32)
    fn = client.contract.decode_function_input
    assert fn(client.end_early_tx(rid)["data"])[0].fn_name == "endEarly"
    assert fn(client.cancel_tx(rid)["data"])[0].fn_name == "cancel"
    assert fn(client.settle_tx(rid)["data"])[0].fn_name == "settle"
    assert fn(client.withdraw_tx(None)["data"])[1] == {"token": ZERO}
    with pytest.raises(ValueError):
        rental_id_bytes("0x1234")


async def test_concurrent_operator_sends_keep_nonce_order(client: EscrowClient, chain: Chain) -> None:
    """Many concurrent operator and arbiter transactions: all mined, nonces consecutive per sender."""
    ids = [await funded(client, amount=10**15) for _ in range(12)]
    start_nonce = chain.w3.eth.get_transaction_count(OPERATOR)
    disputed = ids[:4]
    await asyncio.gather(*(client.start(i) for i in disputed))
    for i in disputed:
        await sign_and_send(client.w3, RENTER_KEY, client.dispute_tx(i))
    outs = await asyncio.gather(*(client.start(i) for i in ids[4:8]), *(client.cancel(i) for i in ids[8:]),
                                *(client.resolve(i, 10_000) for i in disputed))
    assert len(outs) == 12
    assert chain.w3.eth.get_transaction_count(OPERATOR) == start_nonce + 12
    statuses = [(await client.rental(i)).status for i in ids]
    assert statuses == [Status.RESOLVED] * 4 + [Status.ACTIVE] * 4 + [Status.CANCELLED] * 4


def test_sender_never_shows_its_key() -> None:
    from web3 import AsyncWeb3
    sender = TxSender(AsyncWeb3(), OPERATOR_KEY, 1)
    assert OPERATOR_KEY[2:] not in repr(sender) + str(vars(sender))
