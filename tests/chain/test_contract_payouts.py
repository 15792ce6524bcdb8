"""GpuEscrow v2 on a real anvil: end early, extend, disputes, resolve, settle, withdrawals and
re-entrancy; rounding, fees, and who can take what."""
from __future__ import annotations

from typing import Any

from tests.chain.conftest import (
    ADMIN, ARBITER, DEPLOYER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT, MAX_DURATION, OPERATOR,
    PROVIDER, PROVIDER2, RENTER, RENTER2, STRANGER, ZERO, Chain, deploy, load_artifact,
)
from tests.chain.escrow_helpers import (
    ACTIVE, DISPUTED, HOUR, NONE, PANIC, RESOLVED, SETTLED, fund, owed, rec, rid, split, started,
)


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
    chain.reverts("BadAmount", RENTER, f.extend(i, 3, 2**128), 0)
    chain.reverts("BadDuration", RENTER, f.extend(i, 0, 0), 0)
    chain.reverts("BadDuration", RENTER, f.extend(i, 2**64 - 300, 10), 10)
    chain.reverts("BadDuration", RENTER, f.extend(i, MAX_DURATION - 299, 10), 10)
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
    renter = 10**6 - 10**6 * 3_000 // 10_000
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
    for who in (OPERATOR, RENTER, PROVIDER, ADMIN, FEE_RECIPIENT, STRANGER):
        chain.reverts("Unauthorized", who, f.resolve(i, 10_000))
    chain.reverts("Unauthorized", STRANGER, f.resolve(i, 2**256 - 1))
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
    chain.reverts("BadParty", ARBITER, chain.deposit(ARBITER, rid(), PROVIDER, ZERO, 10, 10), 10)
    chain.reverts("BadParty", RENTER, chain.deposit(RENTER, rid(), ARBITER, ZERO, 10, 10), 10)


# ------------------------------------------------------------------ re-entrancy

def _attacker(chain: Chain, mode: int, reenter: bytes = b"\0" * 32) -> tuple[Any, bytes]:
    art = load_artifact("contracts/test/artifacts/ReentrantAttacker.json")
    att = deploy(chain.w3, art, chain.escrow.address)
    chain.send(DEPLOYER, att.functions.configure(mode, reenter))
    i = rid()
    expiry, sig = chain.quote(i, att.address, PROVIDER, ZERO, 10**18, HOUR)
    chain.send(DEPLOYER, att.functions.depositNative(i, PROVIDER, HOUR, expiry, sig), 10**18)
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


# ------------------------------------------------------------------ v2: rounding, huge inputs, withdrawTo

def test_resolve_rounds_like_settle_toward_the_renter(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=3, duration=2)
    chain.send(RENTER, f.dispute(i))
    r = chain.send(ARBITER, f.resolve(i, 5_000))
    ev = chain.events(r, "Resolved")[0].args
    assert (ev.renterPart, ev.providerPart + ev.fee) == (2, 1)    # 1.5 units: the odd one to the renter
    j = started(chain, amount=3, duration=2)
    chain.set_next(rec(chain, j)["startedAt"] + 1)
    chain.send(RENTER, f.endEarly(j))                               # half the time: 1.5 units
    chain.warp(DISPUTE_WINDOW)
    ev = chain.events(chain.send(STRANGER, f.settle(j)), "Settled")[0].args
    assert (ev.renterPart, ev.providerPart + ev.fee) == (2, 1)


def test_huge_extend_inputs_are_custom_errors_not_panics(chain: Chain) -> None:
    f = chain.escrow.functions
    i = started(chain, amount=1000, duration=100)
    for extra_duration, extra_amount, error in [(2**256 - 1, 10, "BadDuration"), (2**256 - 1, 2**256 - 1, "BadDuration"),
                                                (10, 2**256 - 1, "BadAmount"), (2**64, 2**200, "BadDuration")]:
        chain.reverts(error, RENTER, f.extend(i, extra_duration, extra_amount), 0)
    assert PANIC not in str(chain.errors.values())


def _wallet(chain: Chain) -> Any:
    return deploy(chain.w3, load_artifact("contracts/test/artifacts/ContractWallet.json"))


def test_withdraw_to_pays_a_contract_wallet_that_cannot_receive(chain: Chain) -> None:
    f = chain.escrow.functions
    wallet = _wallet(chain)
    i = rid()
    expiry, sig = chain.quote(i, wallet.address, PROVIDER, ZERO, 10**17, HOUR)
    data = chain.escrow.encode_abi("deposit", args=[i, PROVIDER, ZERO, 10**17, HOUR, expiry, sig])
    chain.send(STRANGER, wallet.functions.exec(chain.escrow.address, data), 10**17)
    assert rec(chain, i)["renter"] == wallet.address
    chain.send(OPERATOR, f.cancel(i))
    assert owed(chain, wallet.address) == 10**17
    chain.reverts("TransferFailed", STRANGER,
                  wallet.functions.exec(chain.escrow.address, chain.escrow.encode_abi("withdraw", args=[ZERO])))
    assert owed(chain, wallet.address) == 10**17                  # the credit is kept, not lost
    chain.reverts("BadParty", STRANGER, wallet.functions.exec(
        chain.escrow.address, chain.escrow.encode_abi("withdrawTo", args=[ZERO, ZERO])))
    before = chain.w3.eth.get_balance(RENTER2)
    r = chain.send(STRANGER, wallet.functions.exec(chain.escrow.address,
                                                   chain.escrow.encode_abi("withdrawTo", args=[ZERO, RENTER2])))
    assert chain.w3.eth.get_balance(RENTER2) == before + 10**17 and owed(chain, wallet.address) == 0
    ev = chain.events(r, "Withdrawn")[0].args
    assert (ev.account, ev.token, ev.to, ev.amount) == (wallet.address, ZERO, RENTER2, 10**17)


def test_withdraw_to_erc20_and_only_the_callers_own_credit(chain: Chain) -> None:
    f, usdc = chain.escrow.functions, chain.usdc.address
    i = fund(chain, amount=5_000, token=usdc)
    chain.send(OPERATOR, f.cancel(i))
    chain.reverts("NothingOwed", STRANGER, f.withdrawTo(usdc, STRANGER))   # owed to RENTER, not to the caller
    before = chain.usdc.functions.balanceOf(RENTER2).call()
    chain.send(RENTER, f.withdrawTo(usdc, RENTER2))
    assert chain.usdc.functions.balanceOf(RENTER2).call() == before + 5_000 and owed(chain, RENTER, usdc) == 0
    chain.reverts("NothingOwed", RENTER, f.withdrawTo(usdc, RENTER2))
