"""GpuEscrow v2 on a real anvil: constructor roles, the allow-list, signed-quote deposits, start and
cancel (payouts, disputes and withdrawals: test_contract_payouts.py)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.chain.conftest import (
    ADMIN, ARBITER, DEPLOYER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT, MAX_DURATION, OPERATOR,
    PROVIDER, PROVIDER2, RENTER, RENTER2, START_WINDOW, STRANGER, ZERO, Chain, deploy, load_artifact,
)
from tests.chain.escrow_helpers import ACTIVE, CANCELLED, FUNDED, HOUR, fund, owed, rec, rid, started
from tests.support.anvil import ANVIL_KEYS

STRANGER_KEY = ANVIL_KEYS[8]


def _config(**bad: Any) -> list[Any]:
    cfg = dict(operator=OPERATOR, arbiter=ARBITER, admin=ADMIN, fee_recipient=FEE_RECIPIENT, fee_bps=FEE_BPS,
               start_window=1, dispute_window=0, dispute_timeout=1, max_duration=HOUR) | bad
    return list(cfg.values())


# ------------------------------------------------------------------ constructor and admin

def test_constructor_stores_config_and_every_parameter_is_readable(chain: Chain) -> None:
    f = chain.escrow.functions
    assert (f.operator().call(), f.arbiter().call(), f.admin().call(), f.feeRecipient().call()) == (
        OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT)
    assert (f.feeBps().call(), f.startWindow().call(), f.disputeWindow().call(), f.disputeTimeout().call(),
            f.maxDuration().call()) == (FEE_BPS, START_WINDOW, DISPUTE_WINDOW, DISPUTE_TIMEOUT, MAX_DURATION)
    assert f.MAX_FEE_BPS().call() == 1000 and f.version().call() == "2" == f.VERSION().call()
    assert tuple(f.parameters().call()) == ("2", OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT, FEE_BPS, START_WINDOW,
                                            DISPUTE_WINDOW, DISPUTE_TIMEOUT, MAX_DURATION)


@pytest.mark.parametrize("bad,error", [
    (dict(operator=ZERO), "BadRoles"), (dict(arbiter=ZERO), "BadRoles"), (dict(fee_recipient=ZERO), "BadRoles"),
    (dict(admin=ZERO), "BadRoles"), (dict(fee_recipient=ARBITER), "BadRoles"),
    (dict(arbiter=OPERATOR), "BadRoles"), (dict(admin=OPERATOR), "BadRoles"), (dict(admin=ARBITER), "BadRoles"),
    (dict(fee_bps=1001), "BadConfig"), (dict(start_window=0), "BadConfig"), (dict(dispute_timeout=0), "BadConfig"),
    (dict(start_window=2**64), "BadConfig"), (dict(dispute_window=2**64), "BadConfig"),
    (dict(max_duration=0), "BadConfig"), (dict(max_duration=2**64), "BadConfig"),
])
def test_constructor_rejects_bad_config(chain: Chain, bad: dict[str, Any], error: str) -> None:
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    chain.reverts(error, DEPLOYER, factory.constructor(*_config(**bad)))


def test_zero_dispute_window_max_fee_and_operator_as_fee_recipient_are_accepted(chain: Chain) -> None:
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    e = deploy(chain.w3, art, *_config(fee_bps=1000, fee_recipient=OPERATOR, max_duration=2**64 - 1))
    assert e.functions.disputeWindow().call() == 0 and e.functions.feeBps().call() == 1000
    assert e.functions.feeRecipient().call() == OPERATOR


def test_token_allow_list_admin_only(chain: Chain) -> None:
    f = chain.escrow.functions
    receipt = chain.send(ADMIN, f.setTokenAllowed(chain.usdc.address, False))
    assert chain.events(receipt, "TokenAllowed")[0].args.allowed is False
    assert f.tokenAllowed(chain.usdc.address).call() is False
    chain.reverts("TokenNotAllowed", RENTER, chain.deposit(RENTER, rid(), PROVIDER, chain.usdc.address, 10, 10))
    for who in (OPERATOR, ARBITER, FEE_RECIPIENT, RENTER):
        chain.reverts("Unauthorized", who, f.setTokenAllowed(chain.usdc.address, True))
    chain.reverts("BadParty", ADMIN, f.setTokenAllowed(ZERO, True))


def test_disallowing_a_token_does_not_touch_existing_rentals(chain: Chain) -> None:
    i = started(chain, amount=1000, duration=100, token=chain.usdc.address)
    chain.send(ADMIN, chain.escrow.functions.setTokenAllowed(chain.usdc.address, False))
    chain.warp(100 + DISPUTE_WINDOW)
    chain.send(STRANGER, chain.escrow.functions.settle(i))
    before = chain.usdc.functions.balanceOf(PROVIDER).call()
    chain.send(PROVIDER, chain.escrow.functions.withdraw(chain.usdc.address))
    assert chain.usdc.functions.balanceOf(PROVIDER).call() - before == 1000 - 1000 * FEE_BPS // 10_000


# ------------------------------------------------------------------ deposit

def test_deposit_native(chain: Chain) -> None:
    i = rid()
    r = chain.send(RENTER, chain.deposit(RENTER, i, PROVIDER, ZERO, 5 * 10**17, HOUR), 5 * 10**17)
    ev = chain.events(r, "Deposited")[0].args
    assert (ev.id, ev.renter, ev.provider, ev.token, ev.amount, ev.duration, ev.feeBps) == (
        i, RENTER, PROVIDER, ZERO, 5 * 10**17, HOUR, FEE_BPS)
    x = rec(chain, i)
    assert (x["renter"], x["provider"], x["token"], x["amount"], x["duration"], x["status"], x["feeBps"]) == (
        RENTER, PROVIDER, ZERO, 5 * 10**17, HOUR, FUNDED, FEE_BPS)
    assert x["depositedAt"] == chain.now() and x["startedAt"] == 0
    assert chain.w3.eth.get_balance(chain.escrow.address) == 5 * 10**17


def test_deposit_erc20_moves_exact_balance(chain: Chain) -> None:
    before = chain.usdc.functions.balanceOf(RENTER).call()
    i = fund(chain, amount=123_456, token=chain.usdc.address)
    assert chain.usdc.functions.balanceOf(RENTER).call() == before - 123_456
    assert chain.usdc.functions.balanceOf(chain.escrow.address).call() == 123_456
    assert rec(chain, i)["token"] == chain.usdc.address


def test_fee_on_transfer_token_is_rejected(chain: Chain) -> None:
    call = chain.deposit(RENTER, rid(), PROVIDER, chain.fot.address, 10_000, HOUR)
    chain.reverts("ShortDelivery", RENTER, call)
    assert chain.fot.functions.balanceOf(chain.escrow.address).call() == 0


def test_quote_digest_matches_the_bots_eip712_encoding(chain: Chain) -> None:
    from bot.chain.quotes import Quote, quote_digest
    q = Quote(id="0x" + "ab" * 32, renter=RENTER, provider=PROVIDER, token=ZERO, amount=7, duration=60,
              fee_bps=FEE_BPS, expiry=1_900_000_000)
    onchain = chain.escrow.functions.quoteDigest(bytes.fromhex("ab" * 32), RENTER, PROVIDER, ZERO, 7, 60,
                                                 1_900_000_000).call()
    assert onchain == quote_digest(q, 31337, chain.escrow.address)


@pytest.mark.parametrize("case,error", [
    ("zero_id", "BadId"), ("used_id", "IdUsed"), ("provider_zero", "BadParty"),
    ("provider_self", "BadParty"), ("provider_arbiter", "BadParty"), ("renter_arbiter", "BadParty"),
    ("provider_operator", "BadParty"), ("renter_operator", "BadParty"), ("provider_admin", "BadParty"),
    ("renter_admin", "BadParty"),
    ("amount_zero", "BadAmount"), ("amount_huge", "BadAmount"), ("duration_zero", "BadDuration"),
    ("duration_over_max", "BadDuration"), ("duration_huge", "BadDuration"), ("value_short", "BadValue"),
    ("value_with_token", "BadValue"), ("token_not_allowed", "TokenNotAllowed"),
    ("expired", "QuoteExpired"), ("signed_by_stranger", "BadSignature"), ("other_renters_quote", "BadSignature"),
    ("amount_differs", "BadSignature"), ("duration_differs", "BadSignature"), ("provider_differs", "BadSignature"),
    ("expiry_differs", "BadSignature"), ("fee_differs", "BadSignature"), ("short_signature", "BadSignature"),
    ("malleable_signature", "BadSignature"),
])
def test_deposit_reverts(chain: Chain, case: str, error: str) -> None:
    f = chain.escrow.functions
    used = fund(chain)
    a: dict[str, Any] = dict(id=rid(), provider=PROVIDER, token=ZERO, amount=100, duration=HOUR)
    sender, renter, value, quote = RENTER, RENTER, 100, {}
    if case == "zero_id": a["id"] = b"\0" * 32
    if case == "used_id": a["id"] = used
    if case == "provider_zero": a["provider"] = ZERO
    if case == "provider_self": a["provider"] = RENTER
    if case.startswith("provider_") and case[9:] in ("arbiter", "operator", "admin"):
        a["provider"] = {"arbiter": ARBITER, "operator": OPERATOR, "admin": ADMIN}[case[9:]]
    if case.startswith("renter_"):
        sender = renter = {"arbiter": ARBITER, "operator": OPERATOR, "admin": ADMIN}[case[7:]]
    if case == "amount_zero": a["amount"], value = 0, 0
    if case == "amount_huge": a["amount"], value = 2**128, 0
    if case == "duration_zero": a["duration"] = 0
    if case == "duration_over_max": a["duration"] = MAX_DURATION + 1
    if case == "duration_huge": a["duration"] = 2**256 - 1
    if case == "value_short": value = 99
    if case == "value_with_token": a["token"] = chain.usdc.address
    if case == "token_not_allowed": a["token"], value = STRANGER, 0
    if case == "expired": quote["expiry"] = chain.now()        # the next block is later than this
    if case == "signed_by_stranger": quote["key"] = STRANGER_KEY
    if case == "other_renters_quote": renter = RENTER2          # RENTER sends RENTER2's quote
    if case == "fee_differs": quote["fee_bps"] = FEE_BPS + 1
    expiry, sig = chain.quote(a["id"], renter, a["provider"], a["token"], a["amount"], a["duration"], **quote)
    args = list(a.values()) + [expiry, sig]
    if case == "amount_differs": args[3], value = 101, 101
    if case == "duration_differs": args[4] = HOUR + 1
    if case == "provider_differs": args[1] = PROVIDER2
    if case == "expiry_differs": args[5] = expiry + 1
    if case == "short_signature": args[6] = sig[:64]
    if case == "malleable_signature":   # (r, n - s, v ^ 1) recovers the same signer: refused all the same
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        s_val = n - int.from_bytes(sig[32:64], "big")
        args[6] = sig[:32] + s_val.to_bytes(32, "big") + bytes([55 - sig[64]])
    chain.reverts(error, sender, f.deposit(*args), value)


def test_quote_is_valid_until_the_second_before_its_expiry(chain: Chain) -> None:
    i, j = rid(), rid()
    t = chain.now() + 100
    ok = chain.deposit(RENTER, i, PROVIDER, ZERO, 10, HOUR, expiry=t)
    late = chain.deposit(RENTER, j, PROVIDER, ZERO, 10, HOUR, expiry=t)
    chain.set_next(t - 1)
    chain.send(RENTER, ok, 10)
    chain.set_next(t)
    chain.reverts("QuoteExpired", RENTER, late, 10)


def test_a_stranger_cannot_use_or_burn_a_renters_quote(chain: Chain) -> None:
    """The quote is public (the /rent reply): a stranger sending it, or a 1-wei deposit under the same
    id, is refused, and the renter's own deposit then goes through."""
    i = rid()
    call = chain.deposit(RENTER, i, PROVIDER, ZERO, 10**15, HOUR)
    chain.reverts("BadSignature", STRANGER, call, 10**15)
    expiry, sig = chain.quote(i, RENTER, PROVIDER, ZERO, 10**15, HOUR)
    chain.reverts("BadSignature", STRANGER, chain.escrow.functions.deposit(i, PROVIDER, ZERO, 1, HOUR, expiry, sig), 1)
    chain.reverts("BadSignature", STRANGER, chain.deposit(RENTER, i, PROVIDER, ZERO, 1, HOUR), 1)
    chain.send(RENTER, call, 10**15)
    assert rec(chain, i)["renter"] == RENTER and rec(chain, i)["amount"] == 10**15


# ------------------------------------------------------------------ start / cancel

def test_only_the_operator_starts(chain: Chain) -> None:
    i = fund(chain)
    r = chain.send(OPERATOR, chain.escrow.functions.start(i))
    ev = chain.events(r, "Started")[0].args
    assert (ev.id, ev.by, ev.startedAt) == (i, OPERATOR, chain.now())
    x = rec(chain, i)
    assert x["status"] == ACTIVE and x["startedAt"] == chain.now()
    assert chain.escrow.functions.endOf(i).call() == x["startedAt"] + x["duration"]


def test_start_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    chain.reverts("WrongStatus", OPERATOR, f.start(rid()))
    i = fund(chain)
    for who in (PROVIDER, RENTER, ARBITER, ADMIN, STRANGER, FEE_RECIPIENT, PROVIDER2):
        chain.reverts("Unauthorized", who, f.start(i))
    chain.warp(START_WINDOW)
    chain.reverts("TooLate", OPERATOR, f.start(i))
    j = started(chain)
    chain.reverts("WrongStatus", OPERATOR, f.start(j))


def test_a_provider_cannot_front_run_a_refund_with_start(chain: Chain) -> None:
    """The audit's high finding: the provider started an undelivered rental so nobody could refund it."""
    f = chain.escrow.functions
    i = fund(chain, amount=777)
    chain.reverts("Unauthorized", PROVIDER, f.start(i))
    chain.send(OPERATOR, f.cancel(i))
    assert rec(chain, i)["status"] == CANCELLED and owed(chain, RENTER) == 777


def test_cancel_before_start_refunds_in_full(chain: Chain) -> None:
    for canceller in (OPERATOR, PROVIDER):
        i = fund(chain, amount=777)
        r = chain.send(canceller, chain.escrow.functions.cancel(i))
        ev = chain.events(r, "Cancelled")[0].args
        assert (ev.id, ev.by, ev.refund) == (i, canceller, 777)
        assert rec(chain, i)["status"] == CANCELLED
    assert owed(chain, RENTER) == 2 * 777 and owed(chain, FEE_RECIPIENT) == 0
    assert owed(chain, OPERATOR) == 0 and owed(chain, PROVIDER) == 0


def test_operator_and_provider_may_cancel_after_the_start_deadline(chain: Chain) -> None:
    i, j = fund(chain), fund(chain)
    chain.warp(START_WINDOW * 5)
    chain.send(OPERATOR, chain.escrow.functions.cancel(i))
    chain.send(PROVIDER, chain.escrow.functions.cancel(j))
    assert owed(chain, RENTER) == 2 * 10**18


def test_renter_cancels_only_after_start_deadline(chain: Chain) -> None:
    f = chain.escrow.functions
    i = fund(chain, amount=1000)
    deposited = rec(chain, i)["depositedAt"]
    chain.reverts("TooEarly", RENTER, f.cancel(i))
    chain.set_next(deposited + START_WINDOW - 1)
    chain.reverts("TooEarly", RENTER, f.cancel(i))
    chain.set_next(deposited + START_WINDOW)
    chain.send(RENTER, f.cancel(i))
    assert owed(chain, RENTER) == 1000


def test_cancel_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    chain.reverts("WrongStatus", OPERATOR, f.cancel(rid()))
    i = fund(chain)
    for who in (ARBITER, STRANGER, FEE_RECIPIENT, ADMIN):
        chain.reverts("Unauthorized", who, f.cancel(i))
    chain.send(OPERATOR, f.start(i))
    for who in (OPERATOR, PROVIDER, RENTER):
        chain.reverts("WrongStatus", who, f.cancel(i))
    k = fund(chain)
    chain.send(OPERATOR, f.cancel(k))
    chain.reverts("WrongStatus", OPERATOR, f.cancel(k))
