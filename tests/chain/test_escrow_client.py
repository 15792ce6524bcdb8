"""bot.chain.escrow against anvil: renter transactions, operator/arbiter sends, reads, deploy."""
from __future__ import annotations

import asyncio
import os
from typing import Any, AsyncIterator

import pytest

from bot.chain.deploy import deploy_escrow
from bot.chain.escrow import EscrowClient, EscrowError, Status, extra_amount_for, rental_id_bytes
from bot.chain.quotes import QuoteSigner, quote_signer
from bot.chain.rpc import make_web3
from bot.chain.sender import TxSender
from tests.chain.conftest import (ADMIN, ARBITER, DEPLOYER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT,
                                  MAX_DURATION, OPERATOR, PROVIDER, RENTER, START_WINDOW, ZERO, Chain, sign_and_send)
from tests.support.anvil import ANVIL_KEYS

RENTER_KEY, OPERATOR_KEY, ARBITER_KEY = ANVIL_KEYS[4], ANVIL_KEYS[1], ANVIL_KEYS[2]


@pytest.fixture
async def client(chain: Chain) -> AsyncIterator[EscrowClient]:
    w3 = make_web3(chain.node.rpc_url)
    yield EscrowClient(w3, chain.escrow.address, 31337, operator=TxSender(w3, OPERATOR_KEY, 31337),
                       arbiter=TxSender(w3, ARBITER_KEY, 31337),
                       quoter=QuoteSigner(OPERATOR_KEY, 31337, chain.escrow.address))
    await w3.provider.disconnect()


def quoted(client: EscrowClient, rid: str, amount: int, duration: int, token: str | None = None):
    """A quote to RENTER that outlives every time jump of the session's chain."""
    return client.sign_quote(rid, RENTER, PROVIDER, token, amount, duration, FEE_BPS, 2**40)


async def funded(client: EscrowClient, amount: int = 10**18, duration: int = 3600, token: str | None = None) -> str:
    rid = "0x" + os.urandom(32).hex()
    for utx in client.deposit_txs(quoted(client, rid, amount, duration, token)):
        await sign_and_send(client.w3, RENTER_KEY, utx)
    return rid


async def test_deploy_escrow(chain: Chain) -> None:
    w3 = make_web3(chain.node.rpc_url)
    address = await deploy_escrow(w3, ANVIL_KEYS[0], operator=OPERATOR, arbiter=ARBITER, admin=ADMIN,
                                  fee_recipient=FEE_RECIPIENT, fee_bps=100, start_window=60, dispute_window=0,
                                  dispute_timeout=600, max_duration=7200)
    client = EscrowClient(w3, address, 31337)
    try:
        await _check_deploy(w3, client)
    finally:
        await w3.provider.disconnect()


async def _check_deploy(w3: Any, client: EscrowClient) -> None:
    p = await client.parameters()
    assert (p.version, p.operator, p.arbiter, p.admin, p.fee_recipient) == ("2", OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT)
    assert (p.fee_bps, p.start_window, p.dispute_window, p.dispute_timeout, p.max_duration) == (100, 60, 0, 600, 7200)
    base = dict(operator=OPERATOR, arbiter=ARBITER, admin=ADMIN, fee_recipient=FEE_RECIPIENT, fee_bps=100,
                start_window=60, dispute_window=0, dispute_timeout=600, max_duration=7200)
    nonce = await w3.eth.get_transaction_count(DEPLOYER)
    for bad, words in [(dict(fee_bps=1001), "0..1000"), (dict(admin=OPERATOR), "operator and the admin"),
                       (dict(arbiter=OPERATOR), "operator and the arbiter"), (dict(fee_recipient=ARBITER), "arbiter"),
                       (dict(max_duration=0), "maximum rental duration")]:
        with pytest.raises(ValueError, match=words):
            await deploy_escrow(w3, ANVIL_KEYS[0], **(base | bad))
    assert await w3.eth.get_transaction_count(DEPLOYER) == nonce       # refused before anything was sent


async def test_client_reads_the_session_escrows_parameters(client: EscrowClient) -> None:
    p = await client.parameters()
    assert (p.fee_bps, p.start_window, p.dispute_window, p.dispute_timeout, p.max_duration) == (
        FEE_BPS, START_WINDOW, DISPUTE_WINDOW, DISPUTE_TIMEOUT, MAX_DURATION)
    assert await client.parameters() is p                                # immutable: read once


async def test_native_deposit_is_one_tx_with_value(client: EscrowClient) -> None:
    rid = "0x" + "ab" * 32
    signed = quoted(client, rid, 5 * 10**17, 7200)
    assert quote_signer(signed.quote, signed.signature, 31337, client.address) == OPERATOR
    txs = client.deposit_txs(signed)
    assert len(txs) == 1 and set(txs[0]) == {"to", "data", "value", "chainId"}
    assert txs[0]["to"] == client.address and txs[0]["value"] == 5 * 10**17 and txs[0]["chainId"] == 31337
    fn, args = client.contract.decode_function_input(txs[0]["data"])
    assert fn.fn_name == "deposit" and args["expiry"] == signed.quote.expiry and len(args["signature"]) == 65
    await sign_and_send(client.w3, RENTER_KEY, txs[0])
    rec = await client.rental(rid)
    assert (rec.status, rec.renter, rec.provider, rec.token, rec.amount, rec.duration) == (
        Status.FUNDED, RENTER, PROVIDER, ZERO, 5 * 10**17, 7200)


async def test_a_bot_without_the_operator_key_cannot_quote(client: EscrowClient) -> None:
    with pytest.raises(RuntimeError, match="no operator key"):
        EscrowClient(client.w3, client.address, 31337).sign_quote("0x" + "01" * 32, RENTER, PROVIDER, None, 1, 1,
                                                                  FEE_BPS, 2**40)
    assert OPERATOR_KEY[2:] not in repr(client.quoter) + str(vars(client.quoter))


async def test_erc20_deposit_is_exact_approve_then_deposit(client: EscrowClient, chain: Chain) -> None:
    usdc = chain.usdc.address
    chain.send(RENTER, chain.usdc.functions.approve(client.address, 0))
    txs = client.deposit_txs(quoted(client, "0x" + "cd" * 32, 25_000_000, 3600, usdc))
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
    with pytest.raises(ValueError, match=f"at most {MAX_DURATION // 3600} h"):
        await client.prepare_extend(rid, MAX_DURATION)
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
    assert fn(client.withdraw_to_tx(None, RENTER)["data"])[1] == {"token": ZERO, "to": RENTER}
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
