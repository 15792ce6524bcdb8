"""The audit's findings against escrow v2, end to end through the bot: a front-run with a higher tip,
a provider trying to start, a deposit that differs from its quote, an expired quote, and the guard
for a deposit signed with the operator key that the bot never quoted. Real anvil, sshd and runtime."""
from __future__ import annotations

import re

from eth_account import Account
from hexbytes import HexBytes

from bot.chain.escrow import EscrowError, Status
from bot.services.quoting import DepositQuotes
from tests.e2e.conftest import ADDRESS, CHAIN_ID, PROVIDER_KEY, TX_LINE, Market
from tests.e2e.test_rental_flow import WEI, funded_and_active, refunded
from tests.support.anvil import ANVIL_KEYS

STRANGER_KEY = ANVIL_KEYS[8]


def _raw(m: Market, key: str, to: str, data: str, value: int, tip_gwei: int, nonce: int) -> str:
    """A signed transaction with a fixed gas limit, as an attacker sends it (no estimate to stop it)."""
    tx = {"to": to, "data": data, "value": value, "gas": 400_000, "nonce": nonce, "chainId": CHAIN_ID, "type": 2,
          "maxPriorityFeePerGas": tip_gwei * 10**9, "maxFeePerGas": 200 * 10**9}
    return HexBytes(Account.from_key(key).sign_transaction(tx).raw_transaction).to_0x_hex()


async def test_a_stranger_front_running_with_a_higher_tip_cannot_take_or_burn_the_id(market: Market) -> None:
    """The /rent reply (and its quote) is public. A stranger copies the renter's deposit, and also
    tries a 1-wei deposit under the same id, both with a 50x tip, in the renter's block: both revert,
    the renter's deposit lands and the rental runs; nobody is told anything false."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    ((to, value, data),) = TX_LINE.findall(text)
    escrow = m.escrow()
    _, args = escrow.contract.decode_function_input(data)
    one_wei = escrow.contract.encode_abi("deposit", args=[args["id"], args["provider"], args["token"], 1,
                                                          args["duration"], args["expiry"], args["signature"]])
    stranger = ADDRESS[STRANGER_KEY]
    nonce = await m.w3.eth.get_transaction_count(stranger)
    m.anvil.rpc("evm_setAutomine", [False])
    try:
        copy = m.anvil.rpc("eth_sendRawTransaction", [_raw(m, STRANGER_KEY, to, data, int(value), 50, nonce)])
        burn = m.anvil.rpc("eth_sendRawTransaction", [_raw(m, STRANGER_KEY, to, one_wei, 1, 50, nonce + 1)])
        mine = m.anvil.rpc("eth_sendRawTransaction", [_raw(m, renter.key, to, data, int(value), 1,
                                                           await m.w3.eth.get_transaction_count(renter.address))])
        m.mine()
    finally:
        m.anvil.rpc("evm_setAutomine", [True])
    receipts = {name: await m.w3.eth.get_transaction_receipt(h) for name, h in
                (("copy", copy), ("burn", burn), ("mine", mine))}
    assert receipts["copy"]["blockNumber"] == receipts["mine"]["blockNumber"]
    assert receipts["copy"]["transactionIndex"] < receipts["mine"]["transactionIndex"]   # the tip won the order
    assert (receipts["copy"]["status"], receipts["burn"]["status"], receipts["mine"]["status"]) == (0, 0, 1)
    record = await escrow.rental((await m.rental(rental_id)).escrow_id)
    assert record.renter == renter.address and record.amount == WEI

    await funded_and_active(m, rental_id)
    kinds = await m.timeline(rental_id)
    assert "deposit_flagged" not in kinds and "delivery_failed" not in kinds, kinds
    bodies = [n.body for n in await m.notices(renter, rental_id)]
    assert any("deposit is confirmed" in b for b in bodies), bodies
    assert not any("refund" in b or "does not match" in b for b in bodies), bodies
    assert await escrow.owed(stranger) == 0 and await escrow.owed(renter.address) == 0


async def test_a_provider_cannot_start_an_undelivered_rental_and_the_renter_is_refunded(market: Market) -> None:
    """The audit's high finding: the provider started the clock himself so the bot could not refund.
    Now his start reverts, the bot's GPU check fails, the refund goes through, and both sides are
    told the truth (the renter is owed the whole deposit, the provider nothing)."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    m.sshd.set_gpus("NVIDIA GeForce RTX 3060, 12288 MiB\n")     # nothing to deliver
    rental_id, text = await m.rent(renter, offer_id)
    await m.pay_reply(renter, text)
    await m.watch_until_funded(rental_id)
    row = await m.rental(rental_id)
    start = m.escrow().contract.encode_abi("start", args=[HexBytes(row.escrow_id)])
    try:
        await m.send_as(PROVIDER_KEY, m.escrow_address, start, 0)
        raise AssertionError("the provider's start went through")
    except EscrowError as exc:
        assert exc.error == "Unauthorized"
    except Exception as exc:          # web3's own error for a reverting estimate
        assert m.escrow().error_in(str(exc)) == "Unauthorized", exc
    await refunded(m, rental_id)
    record = await m.escrow().rental(row.escrow_id)
    assert record.status == Status.CANCELLED and record.started_at == 0
    assert await m.escrow().owed(renter.address) == WEI and await m.escrow().owed(provider.address) == 0
    assert await m.escrow_events("Started", row.escrow_id) == []
    to_renter = [n.body for n in await m.notices(renter, rental_id)]
    assert any("cancelled" in b and "0.01 ETH is yours to withdraw" in b for b in to_renter), to_renter
    to_provider = [n.body for n in await m.notices(provider, rental_id)]
    assert any("could not be delivered" in b for b in to_provider), to_provider


async def test_a_deposit_that_differs_from_its_quote_reverts_and_the_rental_still_waits(market: Market) -> None:
    """A wallet that changes the amount or the duration, or another wallet sending the quote, is
    refused by the contract: nothing is funded, nothing refunded; the quoted deposit then works."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id, hours=2)
    ((to, value, data),) = TX_LINE.findall(text)
    escrow = m.escrow()
    _, a = escrow.contract.decode_function_input(data)
    wrong = [(renter.key, escrow.contract.encode_abi("deposit", args=[a["id"], a["provider"], a["token"], a["amount"] - 1,
                                                                     a["duration"], a["expiry"], a["signature"]]),
              int(value) - 1),
             (renter.key, escrow.contract.encode_abi("deposit", args=[a["id"], a["provider"], a["token"], a["amount"],
                                                                     a["duration"] + 3600, a["expiry"], a["signature"]]),
              int(value)),
             (ANVIL_KEYS[6], data, int(value))]                   # someone else's wallet sends the quote
    for key, calldata, val in wrong:
        try:
            await m.send_as(key, to, calldata, val)
            raise AssertionError("a deposit differing from its quote went through")
        except AssertionError:
            raise
        except Exception as exc:
            assert escrow.error_in(str(exc)) == "BadSignature", exc
    for _ in range(3):
        m.mine()
        await m.runtime.tick()
    row = await m.rental(rental_id)
    assert row.state == "awaiting_deposit" and row.refund_reason is None
    assert (await escrow.rental(row.escrow_id)).status == Status.NONE
    await m.send_as(renter.key, to, data, int(value))
    await funded_and_active(m, rental_id)


async def test_an_expired_quote_is_refused_and_the_renter_is_told_to_pay_again(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    assert f"send /pay {rental_id} for a fresh one" in text, text
    ttl = m.settings.chain.quote_ttl_s
    assert ttl < m.settings.deposit_timeout_s
    m.warp(ttl + 5)                                   # the quote is stale, the deposit deadline is not
    ((to, value, data),) = TX_LINE.findall(text)
    try:
        await m.send_as(renter.key, to, data, int(value))
        raise AssertionError("an expired quote was accepted")
    except AssertionError:
        raise
    except Exception as exc:
        detail = str(exc)
    assert m.escrow().error_in(detail) == "QuoteExpired", detail
    told = await DepositQuotes(m.runtime.services.ctx).explain_failure(rental_id, detail)
    assert "quote expired" in told and f"/pay {rental_id}" in told and "nothing was taken but gas" in told, told
    assert await m.state(rental_id) == "awaiting_deposit"
    fresh = (await m.ok(renter, f"/pay {rental_id}")).text
    ((_, _, data2),) = TX_LINE.findall(fresh)
    assert data2 != data
    await m.pay_reply(renter, fresh)
    await funded_and_active(m, rental_id)


async def test_a_deposit_signed_with_the_operator_key_but_never_quoted_is_refunded_and_reported(
        market: Market) -> None:
    """The guard left of the old mismatch path: if something else holding the operator key signs a
    different quote for a rental (another bot instance with another fee, a leaked key), the bot does
    not provision it, refunds it, tells the renter exactly that, and tells support."""
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, _ = await m.rent(renter, offer_id)
    row = await m.rental(rental_id)
    await m.unquoted_deposit(renter, row, row.amount - 1)
    await refunded(m, rental_id)
    row = await m.rental(rental_id)
    assert "does not match the quote" in row.refund_reason and "the amount differs" in row.refund_reason
    kinds = await m.timeline(rental_id)
    assert "provision" not in kinds and "start" not in kinds, kinds
    assert await m.escrow().owed(renter.address) == row.amount - 1
    bodies = [n.body for n in await m.notices(renter, rental_id)]
    assert any("does not match the quote" in b and renter.address in b for b in bodies), bodies
    assert any("yours to withdraw" in b for b in bodies), bodies
    support = [n.body for n in await m.runtime.services.outbox.pending(limit=1000)
               if n.rental_id == rental_id and n.target == "support"]
    assert any("operator key" in b for b in support), support
    assert re.search(r"Availability: 1 of 1", (await m.ok(renter, f"/offer {offer_id}")).text)
