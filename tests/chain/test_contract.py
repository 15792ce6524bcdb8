"""GpuEscrow on a real anvil: every function, every revert, fees, rounding, and who can take what."""
from __future__ import annotations

import os
from typing import Any

import pytest

from tests.chain.conftest import (
    ARBITER, DEPLOYER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT, OPERATOR,
    PROVIDER, PROVIDER2, RENTER, RENTER2, START_WINDOW, STRANGER, ZERO, Chain, deploy, load_artifact,
)

NONE, FUNDED, ACTIVE, DISPUTED, SETTLED, CANCELLED, RESOLVED = range(7)
HOUR = 3600


def rid() -> bytes:
    return os.urandom(32)


def rec(c: Chain, i: bytes) -> dict[str, Any]:
    names = [x["name"] for x in next(a for a in c.escrow.abi if a.get("name") == "getRental")["outputs"][0]["components"]]
    return dict(zip(names, c.escrow.functions.getRental(i).call()))


def owed(c: Chain, who: str, token: str = ZERO) -> int:
    return c.escrow.functions.owed(who, token).call()


def fund(c: Chain, amount: int = 10**18, duration: int = 10 * HOUR, token: str = ZERO,
         renter: str = RENTER, provider: str = PROVIDER) -> bytes:
    i = rid()
    value = amount if token == ZERO else 0
    c.send(renter, c.escrow.functions.deposit(i, provider, token, amount, duration), value)
    return i


def started(c: Chain, **kw: Any) -> bytes:
    i = fund(c, **kw)
    c.send(OPERATOR, c.escrow.functions.start(i))
    return i


def split(amount: int, gross: int) -> tuple[int, int, int]:
    fee = gross * FEE_BPS // 10_000
    return amount - gross, gross - fee, fee


# ------------------------------------------------------------------ constructor and admin

def test_constructor_stores_config(chain: Chain) -> None:
    f = chain.escrow.functions
    assert (f.operator().call(), f.arbiter().call(), f.feeRecipient().call(), f.admin().call()) == (
        OPERATOR, ARBITER, FEE_RECIPIENT, DEPLOYER)
    assert (f.feeBps().call(), f.startWindow().call(), f.disputeWindow().call(), f.disputeTimeout().call()) == (
        FEE_BPS, START_WINDOW, DISPUTE_WINDOW, DISPUTE_TIMEOUT)
    assert f.MAX_FEE_BPS().call() == 1000


@pytest.mark.parametrize("bad", [
    dict(operator=ZERO), dict(arbiter=ZERO), dict(fee_recipient=ZERO), dict(admin=ZERO),
    dict(fee_bps=1001), dict(start_window=0), dict(dispute_timeout=0), dict(fee_recipient=ARBITER),
    dict(start_window=2**64),
])
def test_constructor_rejects_bad_config(chain: Chain, bad: dict[str, Any]) -> None:
    cfg = dict(operator=OPERATOR, arbiter=ARBITER, fee_recipient=FEE_RECIPIENT, fee_bps=FEE_BPS,
               start_window=1, dispute_window=0, dispute_timeout=1, admin=DEPLOYER) | bad
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    chain.reverts("BadConfig", DEPLOYER, factory.constructor(*cfg.values()))


def test_zero_dispute_window_and_max_fee_are_accepted(chain: Chain) -> None:
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    e = deploy(chain.w3, art, OPERATOR, ARBITER, FEE_RECIPIENT, 1000, 1, 0, 1, DEPLOYER)
    assert e.functions.disputeWindow().call() == 0 and e.functions.feeBps().call() == 1000


def test_token_allow_list_admin_only(chain: Chain) -> None:
    f = chain.escrow.functions
    receipt = chain.send(DEPLOYER, f.setTokenAllowed(chain.usdc.address, False))
    assert chain.events(receipt, "TokenAllowed")[0].args.allowed is False
    assert f.tokenAllowed(chain.usdc.address).call() is False
    chain.reverts("TokenNotAllowed", RENTER, f.deposit(rid(), PROVIDER, chain.usdc.address, 10, 10))
    for who in (OPERATOR, ARBITER, FEE_RECIPIENT, RENTER):
        chain.reverts("Unauthorized", who, f.setTokenAllowed(chain.usdc.address, True))
    chain.reverts("BadParty", DEPLOYER, f.setTokenAllowed(ZERO, True))


def test_disallowing_a_token_does_not_touch_existing_rentals(chain: Chain) -> None:
    i = started(chain, amount=1000, duration=100, token=chain.usdc.address)
    chain.send(DEPLOYER, chain.escrow.functions.setTokenAllowed(chain.usdc.address, False))
    chain.warp(100 + DISPUTE_WINDOW)
    chain.send(STRANGER, chain.escrow.functions.settle(i))
    before = chain.usdc.functions.balanceOf(PROVIDER).call()
    chain.send(PROVIDER, chain.escrow.functions.withdraw(chain.usdc.address))
    assert chain.usdc.functions.balanceOf(PROVIDER).call() - before == 1000 - 1000 * FEE_BPS // 10_000


# ------------------------------------------------------------------ deposit

def test_deposit_native(chain: Chain) -> None:
    i = rid()
    r = chain.send(RENTER, chain.escrow.functions.deposit(i, PROVIDER, ZERO, 5 * 10**17, HOUR), 5 * 10**17)
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
    f = chain.escrow.functions
    chain.reverts("ShortDelivery", RENTER, f.deposit(rid(), PROVIDER, chain.fot.address, 10_000, HOUR))
    assert chain.fot.functions.balanceOf(chain.escrow.address).call() == 0


@pytest.mark.parametrize("case,error", [
    ("zero_id", "BadId"), ("used_id", "IdUsed"), ("provider_zero", "BadParty"),
    ("provider_self", "BadParty"), ("provider_arbiter", "BadParty"), ("renter_arbiter", "BadParty"),
    ("amount_zero", "BadAmount"), ("amount_huge", "BadAmount"), ("duration_zero", "BadDuration"),
    ("duration_huge", "BadDuration"), ("value_short", "BadValue"), ("value_with_token", "BadValue"),
    ("token_not_allowed", "TokenNotAllowed"),
])
def test_deposit_reverts(chain: Chain, case: str, error: str) -> None:
    f = chain.escrow.functions
    used = fund(chain)
    args: dict[str, Any] = dict(id=rid(), provider=PROVIDER, token=ZERO, amount=100, duration=HOUR)
    sender, value = RENTER, 100
    if case == "zero_id": args["id"] = b"\0" * 32
    if case == "used_id": args["id"] = used
    if case == "provider_zero": args["provider"] = ZERO
    if case == "provider_self": args["provider"] = RENTER
    if case == "provider_arbiter": args["provider"] = ARBITER
    if case == "renter_arbiter": sender = ARBITER
    if case == "amount_zero": args["amount"], value = 0, 0
    if case == "amount_huge": args["amount"], value = 2**128, 0
    if case == "duration_zero": args["duration"] = 0
    if case == "duration_huge": args["duration"] = 2**64
    if case == "value_short": value = 99
    if case == "value_with_token": args["token"] = chain.usdc.address
    if case == "token_not_allowed": args["token"], value = STRANGER, 0
    chain.reverts(error, sender, f.deposit(*args.values()), value)


# ------------------------------------------------------------------ start / cancel

def test_start_by_operator_or_provider(chain: Chain) -> None:
    for starter in (OPERATOR, PROVIDER):
        i = fund(chain)
        r = chain.send(starter, chain.escrow.functions.start(i))
        ev = chain.events(r, "Started")[0].args
        assert (ev.id, ev.by, ev.startedAt) == (i, starter, chain.now())
        x = rec(chain, i)
        assert x["status"] == ACTIVE and x["startedAt"] == chain.now()
        assert chain.escrow.functions.endOf(i).call() == x["startedAt"] + x["duration"]


def test_start_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    chain.reverts("WrongStatus", OPERATOR, f.start(rid()))
    i = fund(chain)
    for who in (RENTER, ARBITER, STRANGER, FEE_RECIPIENT, PROVIDER2):
        chain.reverts("Unauthorized", who, f.start(i))
    chain.warp(START_WINDOW)
    chain.reverts("TooLate", OPERATOR, f.start(i))
    j = started(chain)
    chain.reverts("WrongStatus", OPERATOR, f.start(j))


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
    chain.reverts("TooEarly", RENTER, f.cancel(i))
    chain.warp(START_WINDOW - 5)
    chain.reverts("TooEarly", RENTER, f.cancel(i))
    chain.warp(5)
    chain.send(RENTER, f.cancel(i))
    assert owed(chain, RENTER) == 1000


def test_cancel_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    chain.reverts("WrongStatus", OPERATOR, f.cancel(rid()))
    i = fund(chain)
    for who in (ARBITER, STRANGER, FEE_RECIPIENT, DEPLOYER):
        chain.reverts("Unauthorized", who, f.cancel(i))
    chain.send(OPERATOR, f.start(i))
    for who in (OPERATOR, PROVIDER, RENTER):
        chain.reverts("WrongStatus", who, f.cancel(i))
    k = fund(chain)
    chain.send(OPERATOR, f.cancel(k))
    chain.reverts("WrongStatus", OPERATOR, f.cancel(k))


# ------------------------------------------------------------------ endEarly / extend

def test_end_early_pays_only_time_used(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=10**18, duration=10 * HOUR)
    t0 = rec(chain, i)["startedAt"]
    chain.set_next(t0 + 3 * HOUR)
    r = chain.send(RENTER, f.endEarly(i))
    assert chain.events(r, "EndedEarly")[0].args.endedAt == t0 + 3 * HOUR
    assert rec(chain, i)["stoppedAt"] == t0 + 3 * HOUR
    chain.reverts("TooLate", RENTER, f.endEarly(i))
    chain.reverts("TooLate", RENTER, f.extend(i, HOUR, 10**17), 10**17)
    chain.reverts("TooEarly", STRANGER, f.settle(i))
    chain.warp(DISPUTE_WINDOW)
    r = chain.send(STRANGER, f.settle(i))
    renter, provider, fee = split(10**18, 10**18 * 3 // 10)
    ev = chain.events(r, "Settled")[0].args
    assert (ev.renterPart, ev.providerPart, ev.fee) == (renter, provider, fee)
    assert (owed(chain, RENTER), owed(chain, PROVIDER), owed(chain, FEE_RECIPIENT)) == (renter, provider, fee)


def test_end_early_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    i = fund(chain)
    chain.reverts("WrongStatus", RENTER, f.endEarly(i))
    chain.send(OPERATOR, f.start(i))
    for who in (PROVIDER, OPERATOR, ARBITER, STRANGER):
        chain.reverts("Unauthorized", who, f.endEarly(i))
    chain.warp(10 * HOUR)
    chain.reverts("TooLate", RENTER, f.endEarly(i))


def test_extend_keeps_price_per_second(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=3 * 10**18, duration=3 * HOUR)
    r = chain.send(RENTER, f.extend(i, 2 * HOUR, 2 * 10**18), 2 * 10**18)
    ev = chain.events(r, "Extended")[0].args
    assert (ev.extraDuration, ev.extraAmount, ev.duration, ev.amount) == (2 * HOUR, 2 * 10**18, 5 * HOUR, 5 * 10**18)
    x = rec(chain, i)
    assert (x["amount"], x["duration"]) == (5 * 10**18, 5 * HOUR)
    chain.set_next(rec(chain, i)["startedAt"] + 4 * HOUR + 7)  # past the old end: still running
    chain.send(RENTER, f.endEarly(i))
    chain.warp(DISPUTE_WINDOW)
    chain.send(STRANGER, f.settle(i))
    gross = 5 * 10**18 * (4 * HOUR + 7) // (5 * HOUR)
    assert owed(chain, RENTER) + owed(chain, PROVIDER) + owed(chain, FEE_RECIPIENT) == 5 * 10**18
    assert owed(chain, RENTER) == 5 * 10**18 - gross


def test_extend_erc20(chain: Chain) -> None:
    f, usdc = chain.escrow.functions, chain.usdc.address
    i = started(chain, amount=3600, duration=HOUR, token=usdc)
    chain.send(RENTER, f.extend(i, 60, 60))
    assert chain.usdc.functions.balanceOf(chain.escrow.address).call() == 3660
    chain.reverts("BadValue", RENTER, f.extend(i, 60, 60), 60)


def test_extend_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    i = fund(chain, amount=1000, duration=300)
    chain.reverts("WrongStatus", RENTER, f.extend(i, 3, 10), 10)
    chain.send(OPERATOR, f.start(i))
    chain.reverts("Unauthorized", PROVIDER, f.extend(i, 3, 10), 10)
    chain.reverts("Unauthorized", OPERATOR, f.extend(i, 3, 10), 10)
    chain.reverts("BadAmount", RENTER, f.extend(i, 1, 3), 3)      # 1000/300 per second is not whole
    chain.reverts("BadAmount", RENTER, f.extend(i, 3, 11), 11)
    chain.reverts("BadAmount", RENTER, f.extend(i, 3, 0), 0)
    chain.reverts("BadDuration", RENTER, f.extend(i, 0, 0), 0)
    chain.reverts("BadDuration", RENTER, f.extend(i, 2**64 - 300, 10), 10)
    chain.reverts("BadValue", RENTER, f.extend(i, 3, 10), 9)
    chain.send(RENTER, f.extend(i, 3, 10), 10)
    chain.warp(303)
    chain.reverts("TooLate", RENTER, f.extend(i, 3, 10), 10)


# ------------------------------------------------------------------ disputes

def test_dispute_freezes_clock_and_resolve_splits(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=10**6, duration=100)
    t0 = rec(chain, i)["startedAt"]
    chain.set_next(t0 + 40)
    r = chain.send(PROVIDER, f.dispute(i))
    ev = chain.events(r, "Disputed")[0].args
    assert (ev.by, ev.disputedAt) == (PROVIDER, t0 + 40)
    x = rec(chain, i)
    assert (x["status"], x["stoppedAt"], x["disputedAt"]) == (DISPUTED, t0 + 40, t0 + 40)
    chain.reverts("WrongStatus", RENTER, f.dispute(i))
    chain.reverts("TooEarly", STRANGER, f.settle(i))
    chain.reverts("WrongStatus", RENTER, f.endEarly(i))
    r = chain.send(ARBITER, f.resolve(i, 7_000))
    renter = 10**6 * 7_000 // 10_000
    fee = (10**6 - renter) * FEE_BPS // 10_000
    ev = chain.events(r, "Resolved")[0].args
    assert (ev.renterBps, ev.renterPart, ev.providerPart, ev.fee) == (7000, renter, 10**6 - renter - fee, fee)
    assert rec(chain, i)["status"] == RESOLVED
    assert (owed(chain, RENTER), owed(chain, PROVIDER), owed(chain, FEE_RECIPIENT)) == (renter, 10**6 - renter - fee, fee)
    assert owed(chain, ARBITER) == 0 and owed(chain, OPERATOR) == 0
    chain.reverts("WrongStatus", ARBITER, f.resolve(i, 0))
    chain.reverts("WrongStatus", STRANGER, f.settle(i))


def test_dispute_within_window_after_end(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=1000, duration=100)
    t0 = rec(chain, i)["startedAt"]
    chain.warp(100 + DISPUTE_WINDOW - 2)
    chain.send(RENTER, f.dispute(i))
    assert rec(chain, i)["stoppedAt"] == t0 + 100  # clock capped at the natural end
    j = started(chain, amount=1000, duration=100)
    chain.warp(100 + DISPUTE_WINDOW)
    chain.reverts("TooLate", RENTER, f.dispute(j))
    chain.reverts("TooLate", PROVIDER, f.dispute(j))


def test_dispute_reverts(chain: Chain) -> None:
    f = chain.escrow.functions
    i = fund(chain)
    chain.reverts("WrongStatus", RENTER, f.dispute(i))
    chain.send(OPERATOR, f.start(i))
    for who in (OPERATOR, ARBITER, STRANGER, FEE_RECIPIENT):
        chain.reverts("Unauthorized", who, f.dispute(i))


def test_resolve_reverts_and_nobody_else_can_resolve(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain)
    chain.reverts("WrongStatus", ARBITER, f.resolve(i, 5000))
    chain.send(RENTER, f.dispute(i))
    for who in (OPERATOR, RENTER, PROVIDER, DEPLOYER, FEE_RECIPIENT, STRANGER):
        chain.reverts("Unauthorized", who, f.resolve(i, 10_000))
    chain.reverts("BadBps", ARBITER, f.resolve(i, 10_001))
    chain.warp(DISPUTE_TIMEOUT)
    chain.reverts("TooLate", ARBITER, f.resolve(i, 5000))


def test_unanswered_dispute_times_out_to_pro_rata(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=999, duration=10)
    chain.set_next(rec(chain, i)["startedAt"] + 3)
    chain.send(RENTER, f.dispute(i))  # clock frozen at 3 s
    chain.warp(DISPUTE_TIMEOUT - 2)
    chain.reverts("TooEarly", STRANGER, f.settle(i))
    chain.warp(2)
    r = chain.send(STRANGER, f.settle(i))
    renter, provider, fee = split(999, 999 * 3 // 10)
    ev = chain.events(r, "Settled")[0].args
    assert (ev.renterPart, ev.providerPart, ev.fee) == (renter, provider, fee)
    assert renter + provider + fee == 999


def test_resolve_extremes_and_arbiter_only_touches_that_rental(chain: Chain) -> None:
    f = chain.escrow.functions
    a, b = started(chain, amount=10_000), started(chain, amount=20_000, renter=RENTER2, provider=PROVIDER2)
    chain.send(RENTER, f.dispute(a))
    chain.send(ARBITER, f.resolve(a, 10_000))
    assert owed(chain, RENTER) == 10_000 and owed(chain, FEE_RECIPIENT) == 0
    assert rec(chain, b)["status"] == ACTIVE and owed(chain, RENTER2) == 0 and owed(chain, PROVIDER2) == 0
    c = started(chain, amount=10_000)
    chain.send(PROVIDER, f.dispute(c))
    chain.send(ARBITER, f.resolve(c, 0))
    assert owed(chain, PROVIDER) == 10_000 - 10_000 * FEE_BPS // 10_000
    assert owed(chain, ARBITER) == 0


# ------------------------------------------------------------------ settle / withdraw

def test_settle_full_term(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=10**18, duration=HOUR)
    chain.reverts("TooEarly", STRANGER, f.settle(i))
    chain.warp(HOUR + DISPUTE_WINDOW - 2)
    chain.reverts("TooEarly", STRANGER, f.settle(i))
    chain.warp(2)
    chain.send(STRANGER, f.settle(i))
    renter, provider, fee = split(10**18, 10**18)
    assert (owed(chain, RENTER), owed(chain, PROVIDER), owed(chain, FEE_RECIPIENT)) == (0, provider, fee)
    assert rec(chain, i)["status"] == SETTLED
    chain.reverts("WrongStatus", STRANGER, f.settle(i))
    chain.reverts("WrongStatus", STRANGER, f.settle(fund(chain)))
    chain.reverts("WrongStatus", STRANGER, f.settle(rid()))


def test_rounding_never_creates_or_loses_a_unit(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=1_000_003, duration=7)
    chain.set_next(rec(chain, i)["startedAt"] + 3)
    chain.send(RENTER, f.endEarly(i))  # 3 of 7 seconds
    chain.warp(DISPUTE_WINDOW)
    r = chain.send(STRANGER, f.settle(i))
    ev = chain.events(r, "Settled")[0].args
    assert ev.renterPart + ev.providerPart + ev.fee == 1_000_003
    assert ev.renterPart == 1_000_003 - 1_000_003 * 3 // 7


def test_withdraw_native_and_erc20(chain: Chain) -> None:
    f = chain.escrow.functions
    chain.reverts("NothingOwed", RENTER, f.withdraw(ZERO))
    i = fund(chain, amount=10**18)
    j = fund(chain, amount=5_000, token=chain.usdc.address)
    chain.send(OPERATOR, f.cancel(i))
    chain.send(OPERATOR, f.cancel(j))
    bal = chain.w3.eth.get_balance(RENTER)
    r = chain.send(RENTER, f.withdraw(ZERO))
    gas = r.gasUsed * r.effectiveGasPrice
    assert chain.w3.eth.get_balance(RENTER) == bal + 10**18 - gas
    ev = chain.events(r, "Withdrawn")[0].args
    assert (ev.account, ev.token, ev.amount) == (RENTER, ZERO, 10**18)
    chain.reverts("NothingOwed", RENTER, f.withdraw(ZERO))
    ubal = chain.usdc.functions.balanceOf(RENTER).call()
    chain.send(RENTER, f.withdraw(chain.usdc.address))
    assert chain.usdc.functions.balanceOf(RENTER).call() == ubal + 5_000
    assert chain.w3.eth.get_balance(chain.escrow.address) == 0
    assert chain.usdc.functions.balanceOf(chain.escrow.address).call() == 0


def test_views_for_unknown_rental(chain: Chain) -> None:
    x = rec(chain, rid())
    assert x["status"] == NONE and x["renter"] == ZERO and x["amount"] == 0
    assert chain.escrow.functions.endOf(rid()).call() == 0


def test_operator_and_arbiter_cannot_take_funds(chain: Chain) -> None:
    """Walk every path the operator and arbiter can take; neither is ever owed anything."""
    f = chain.escrow.functions
    a, b, c = started(chain), fund(chain), started(chain)
    chain.send(OPERATOR, f.cancel(b))
    chain.send(PROVIDER, f.dispute(c))
    chain.send(ARBITER, f.resolve(c, 0))
    chain.warp(10 * HOUR + DISPUTE_WINDOW)
    chain.send(OPERATOR, f.settle(a))
    for who in (OPERATOR, ARBITER):
        assert owed(chain, who) == 0
        chain.reverts("NothingOwed", who, f.withdraw(ZERO))
    chain.reverts("BadParty", ARBITER, f.deposit(rid(), PROVIDER, ZERO, 10, 10), 10)
    chain.reverts("BadParty", RENTER, f.deposit(rid(), ARBITER, ZERO, 10, 10), 10)


# ------------------------------------------------------------------ re-entrancy

def _attacker(chain: Chain, mode: int, reenter: bytes = b"\0" * 32) -> tuple[Any, bytes]:
    art = load_artifact("contracts/test/artifacts/ReentrantAttacker.json")
    att = deploy(chain.w3, art, chain.escrow.address)
    chain.send(DEPLOYER, att.functions.configure(mode, reenter))
    i = rid()
    chain.send(DEPLOYER, att.functions.depositNative(i, PROVIDER, HOUR), 10**18)
    chain.send(OPERATOR, chain.escrow.functions.cancel(i))
    assert owed(chain, att.address) == 10**18
    return att, i


def test_reentrant_withdraw_is_blocked(chain: Chain) -> None:
    fund(chain, amount=5 * 10**18)  # someone else's money sits in the escrow
    att, _ = _attacker(chain, mode=1)
    chain.send(DEPLOYER, att.functions.attack())
    assert att.functions.attempts().call() == 1 and att.functions.blocked().call() == 1
    assert att.functions.received().call() == 10**18  # paid exactly once
    assert owed(chain, att.address) == 0
    assert chain.w3.eth.get_balance(chain.escrow.address) == 5 * 10**18


def test_reentrant_settle_is_blocked(chain: Chain) -> None:
    other = started(chain, amount=10**18, duration=1)
    chain.warp(1 + DISPUTE_WINDOW)
    att, _ = _attacker(chain, mode=2, reenter=other)
    chain.send(DEPLOYER, att.functions.attack())
    assert att.functions.blocked().call() == 1
    assert rec(chain, other)["status"] == ACTIVE


def test_bubbling_reentry_reverts_whole_withdraw_and_keeps_credit(chain: Chain) -> None:
    att, _ = _attacker(chain, mode=3)
    chain.reverts("TransferFailed", DEPLOYER, att.functions.attack())
    assert owed(chain, att.address) == 10**18
    assert chain.w3.eth.get_balance(chain.escrow.address) == 10**18
