"""A native-coin escrow deposit (v2: with the operator's signed quote) sent by the official WalletKit
wallet through our SignClient; and an expired quote, whose refusal the wallet reports with the
escrow's error selector, which is what the bot reads to tell the renter to /pay again."""
from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account

from tests.support.anvil import ANVIL_KEYS, Anvil
from tests.wallet.conftest import WALLET_KEY, needs_node
from tests.wallet.test_walletkit_e2e import link

escrow_mod = pytest.importorskip("bot.chain.escrow")
deploy_mod = pytest.importorskip("bot.chain.deploy")
quotes_mod = pytest.importorskip("bot.chain.quotes")
rpc_mod = pytest.importorskip("bot.chain.rpc")
pytestmark = needs_node
WALLET_ADDRESS = Account.from_key(WALLET_KEY).address
OPERATOR_KEY = ANVIL_KEYS[2]


async def _escrow(chain: Anvil) -> Any:
    w3 = rpc_mod.make_web3(chain.rpc_url)
    staff = [Account.from_key(k).address for k in ANVIL_KEYS[2:5]]
    address = await deploy_mod.deploy_escrow(w3, ANVIL_KEYS[0], operator=staff[0], arbiter=staff[1], admin=staff[2],
                                             fee_recipient=Account.from_key(ANVIL_KEYS[6]).address,
                                             fee_bps=250, start_window=3600, dispute_window=3600,
                                             dispute_timeout=86400, max_duration=86400)
    return escrow_mod.EscrowClient(w3, address, chain.chain_id,
                                   quoter=quotes_mod.QuoteSigner(OPERATOR_KEY, chain.chain_id, address))


def _send(tx: dict) -> list[dict]:
    return [{"from": WALLET_ADDRESS, "to": tx["to"], "data": tx["data"], "value": hex(tx["value"])}]


async def test_deposit_through_walletconnect_funds_the_rental(make_client: Any, start_wallet: Any,
                                                              chain: Anvil) -> None:
    escrow = await _escrow(chain)
    rental_id = "0x" + os.urandom(32).hex()
    provider = Account.from_key(ANVIL_KEYS[5]).address
    amount = 3 * 10**17
    now = int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    signed = escrow.sign_quote(rental_id, WALLET_ADDRESS, provider, None, amount, 7200, 250, now + 600)
    [tx] = escrow.deposit_txs(signed)

    client, _, session = await link(make_client, start_wallet)
    tx_hash = await client.request(session, tx["chainId"], "eth_sendTransaction", _send(tx), expiry=300)
    receipt = chain.rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    record = await escrow.rental(rental_id)
    assert record.status == escrow_mod.Status.FUNDED
    assert record.renter.lower() == WALLET_ADDRESS.lower() and record.amount == amount
    assert record.provider.lower() == provider.lower() and record.duration == 7200


async def test_an_expired_quote_comes_back_from_the_wallet_as_quote_expired(make_client: Any, start_wallet: Any,
                                                                           chain: Anvil) -> None:
    from bot.wallet.walletconnect.errors import WalletConnectError

    escrow = await _escrow(chain)
    now = int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    provider = Account.from_key(ANVIL_KEYS[5]).address
    signed = escrow.sign_quote("0x" + os.urandom(32).hex(), WALLET_ADDRESS, provider, None, 10**15, 3600, 250, now)
    [tx] = escrow.deposit_txs(signed)
    client, _, session = await link(make_client, start_wallet)
    with pytest.raises(WalletConnectError) as info:
        await client.request(session, tx["chainId"], "eth_sendTransaction", _send(tx), expiry=300)
    assert "could not complete" in str(info.value)            # the plain sentence shown to people
    assert escrow.error_in(info.value.detail) == "QuoteExpired", info.value.detail   # what the bot reads
