"""Random operation sequences with time jumps: the escrow never holds more or less than it owes,
every payout splits a deposit exactly, and no deposit can be stranded."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chain.conftest import (ARBITER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_RECIPIENT, OPERATOR, PROVIDER,
                                  PROVIDER2, RENTER, RENTER2, START_WINDOW, STRANGER, ZERO, Chain)

TERMINAL = {4, 5, 6}   # Settled, Cancelled, Resolved
PEOPLE = [RENTER, RENTER2, PROVIDER, PROVIDER2, OPERATOR, ARBITER, STRANGER]
ACCOUNTS = PEOPLE + [FEE_RECIPIENT]

ops = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 1), st.integers(1, 10**12), st.integers(1, 50_000), st.booleans()),
    st.tuples(st.just("start"), st.integers(0, 7), st.sampled_from([OPERATOR, PROVIDER, PROVIDER2, STRANGER])),
    st.tuples(st.just("cancel"), st.integers(0, 7), st.sampled_from([OPERATOR, RENTER, RENTER2, PROVIDER, STRANGER])),
    st.tuples(st.just("endEarly"), st.integers(0, 7), st.sampled_from([RENTER, RENTER2, PROVIDER])),
    st.tuples(st.just("extend"), st.integers(0, 7), st.integers(1, 20_000)),
    st.tuples(st.just("dispute"), st.integers(0, 7), st.sampled_from([RENTER, PROVIDER, RENTER2, PROVIDER2, ARBITER])),
    st.tuples(st.just("resolve"), st.integers(0, 7), st.integers(0, 10_000), st.sampled_from([ARBITER, OPERATOR])),
    st.tuples(st.just("settle"), st.integers(0, 7)),
    st.tuples(st.just("withdraw"), st.sampled_from(ACCOUNTS), st.integers(0, 1)),
    st.tuples(st.just("warp"), st.sampled_from([1, 60, 3599, START_WINDOW, 40_000, DISPUTE_WINDOW, DISPUTE_TIMEOUT])),
)


def _try(chain: Chain, sender: str, fn: Any, value: int = 0) -> Any:
    try:
        return chain.send(sender, fn, value)
    except Exception:   # noqa: BLE001 - a refused operation is a valid step of a random walk
        return None


def _check_books(chain: Chain, ids: list[bytes], tokens: list[str]) -> None:
    e = chain.escrow.functions
    recs = [e.getRental(i).call() for i in ids]
    for token in tokens:
        held = sum(r[8] for r in recs if r[6] == token and r[3] not in TERMINAL)
        owed = sum(e.owed(a, token).call() for a in ACCOUNTS)
        balance = (chain.w3.eth.get_balance(chain.escrow.address) if token == ZERO
                   else chain.usdc.functions.balanceOf(chain.escrow.address).call())
        assert balance == held + owed, (token, balance, held, owed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ops, min_size=1, max_size=25))
def test_random_walk_keeps_the_books_exact(chain: Chain, steps: list[tuple[Any, ...]]) -> None:
    snap = chain.node.rpc("evm_snapshot")
    try:
        _walk(chain, steps)
    finally:
        assert chain.node.rpc("evm_revert", [snap]) is True


def _walk(chain: Chain, steps: list[tuple[Any, ...]]) -> None:
    e = chain.escrow.functions
    tokens = [ZERO, chain.usdc.address]
    ids: list[bytes] = []
    parties: dict[bytes, tuple[str, str, int]] = {}
    splits: list[tuple[int, int]] = []   # (deposit at payout, sum of the three parts)

    def pick(k: int) -> bytes | None:
        return ids[k % len(ids)] if ids else None

    def record_payout(receipt: Any, rid: bytes) -> None:
        if receipt is None:
            return
        for name in ("Settled", "Resolved"):
            for ev in chain.events(receipt, name):
                a = ev.args
                splits.append((chain.escrow.functions.getRental(rid).call()[8], a.renterPart + a.providerPart + a.fee))

    for step in steps:
        kind = step[0]
        if kind == "deposit":
            _, tok, amount, duration, second = step
            rid = (len(ids) + 1).to_bytes(32, "big")
            renter, provider = (RENTER2, PROVIDER2) if second else (RENTER, PROVIDER)
            token = tokens[tok]
            if _try(chain, renter, e.deposit(rid, provider, token, amount, duration), amount if token == ZERO else 0):
                ids.append(rid)
                parties[rid] = (renter, provider, amount)
        elif kind == "warp":
            chain.warp(step[1])
        elif kind == "withdraw":
            _try(chain, step[1], e.withdraw(tokens[step[2]]))
        elif (rid := pick(step[1])) is not None:
            renter = parties[rid][0]
            if kind == "start":
                _try(chain, step[2], e.start(rid))
            elif kind == "cancel":
                _try(chain, renter if step[2] in (RENTER, RENTER2) else step[2], e.cancel(rid))
            elif kind == "endEarly":
                _try(chain, renter if step[2] != PROVIDER else PROVIDER, e.endEarly(rid))
            elif kind == "extend":
                r = e.getRental(rid).call()
                extra = step[2] * r[8] // r[9] if r[9] else 0
                _try(chain, renter, e.extend(rid, step[2], extra), extra if r[6] == ZERO else 0)
            elif kind == "dispute":
                _try(chain, step[2], e.dispute(rid))
            elif kind == "resolve":
                record_payout(_try(chain, step[3], e.resolve(rid, step[2])), rid)
            elif kind == "settle":
                record_payout(_try(chain, STRANGER, e.settle(rid)), rid)
        if kind in ("deposit", "cancel", "extend", "resolve", "settle", "withdraw"):
            _check_books(chain, ids, tokens)

    # every state has a deadline: after enough time, someone can finish every rental
    chain.warp(START_WINDOW + 60_000 * 4 + DISPUTE_WINDOW + DISPUTE_TIMEOUT)
    for rid in ids:
        status = e.getRental(rid).call()[3]
        if status == 1:
            chain.send(parties[rid][0], e.cancel(rid))
        elif status in (2, 3):
            record_payout(chain.send(STRANGER, e.settle(rid)), rid)
        assert e.getRental(rid).call()[3] in TERMINAL
    _check_books(chain, ids, tokens)
    assert all(deposit == parts for deposit, parts in splits)
    for who in ACCOUNTS:
        for token in tokens:
            if e.owed(who, token).call():
                chain.send(who, e.withdraw(token))
    assert chain.w3.eth.get_balance(chain.escrow.address) == 0
    assert chain.usdc.functions.balanceOf(chain.escrow.address).call() == 0
    assert e.owed(ARBITER, ZERO).call() == 0 and e.owed(OPERATOR, ZERO).call() == 0
