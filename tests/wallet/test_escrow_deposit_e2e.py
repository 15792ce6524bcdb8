"""A native-coin escrow deposit signed by the official WalletKit wallet through our SignClient."""
from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account

from tests.support.anvil import ANVIL_KEYS, Anvil
from tests.wallet.conftest import WALLET_KEY, needs_node
from tests.wallet.test_walletkit_e2e import link

escrow_mod = pytest.importorskip("bot.chain.escrow")
rpc_mod = pytest.importorskip("bot.chain.rpc")
pytestmark = needs_node
WALLET_ADDRESS = Account.from_key(WALLET_KEY).address


async def test_deposit_through_walletconnect_funds_the_rental(make_client: Any, start_wallet: Any,
                                                              chain: Anvil) -> None:
    w3 = rpc_mod.make_web3(chain.rpc_url)
    staff = [Account.from_key(k).address for k in ANVIL_KEYS[2:5]]
    address = await escrow_mod.deploy_escrow(w3, ANVIL_KEYS[0], operator=staff[0], arbiter=staff[1],
                                             fee_recipient=staff[2], fee_bps=250, start_window=3600,
                                             dispute_window=3600, dispute_timeout=86400)
    escrow = escrow_mod.EscrowClient(w3, address, chain.chain_id)
    rental_id = "0x" + os.urandom(32).hex()
    provider = Account.from_key(ANVIL_KEYS[5]).address
    amount = 3 * 10**17
    [tx] = escrow.deposit_txs(rental_id, provider, None, amount, 7200)

    client, _, session = await link(make_client, start_wallet)
    tx_hash = await client.request(session, tx["chainId"], "eth_sendTransaction",
                                   [{"from": WALLET_ADDRESS, "to": tx["to"], "data": tx["data"],
                                     "value": hex(tx["value"])}], expiry=300)
    receipt = chain.rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    record = await escrow.rental(rental_id)
    assert record.status == escrow_mod.Status.FUNDED
    assert record.renter.lower() == WALLET_ADDRESS.lower() and record.amount == amount
    assert record.provider.lower() == provider.lower() and record.duration == 7200
