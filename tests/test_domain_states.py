"""The rental state machine: one table, and nothing outside it is possible."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import InvalidTransition
from bot.domain.states import HOLDS_CAPACITY, TERMINAL, TRANSITIONS, RentalState, Step, allowed_steps, next_state

S, T = RentalState, Step


def test_happy_path():
    state = S.AWAITING_DEPOSIT
    for step in (T.DEPOSIT_CONFIRMED, T.PROVISION, T.START, T.END, T.SETTLE):
        state = next_state(state, step)
    assert state is S.SETTLED


@pytest.mark.parametrize("state,step", [
    (S.AWAITING_DEPOSIT, T.START),      # never active without a deposit
    (S.AWAITING_DEPOSIT, T.SETTLE),
    (S.SETTLED, T.REFUND),              # paid out once only
    (S.REFUNDED, T.REFUND),
    (S.RESOLVED, T.DISPUTE),
    (S.CANCELLED, T.DEPOSIT_CONFIRMED),
    (S.FUNDED, T.END),
])
def test_forbidden_transitions_raise_a_clear_error(state, step):
    with pytest.raises(InvalidTransition) as err:
        next_state(state, step)
    assert state.value.replace("_", " ") in err.value.message


def test_terminal_states_and_reachability():
    assert TERMINAL == {S.SETTLED, S.CANCELLED, S.EXPIRED, S.REFUNDED, S.RESOLVED}
    seen, todo = {S.AWAITING_DEPOSIT}, [S.AWAITING_DEPOSIT]
    while todo:
        cur = todo.pop()
        for step in allowed_steps(cur):
            nxt = next_state(cur, step)
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(RentalState)


@given(st.lists(st.sampled_from(list(Step)), max_size=30))
def test_random_step_sequences_follow_the_table(steps):
    state = S.AWAITING_DEPOSIT
    holds = state in HOLDS_CAPACITY
    for step in steps:
        if (state, step) in TRANSITIONS:
            new = next_state(state, step)
            assert new is TRANSITIONS[(state, step)]
            # once capacity is released it is never taken again by the same rental
            if holds and new not in HOLDS_CAPACITY:
                holds = False
            elif not holds:
                assert new not in HOLDS_CAPACITY or (state, step) == (S.FUNDED, T.DEPOSIT_REORGED)
            state = new
        else:
            with pytest.raises(InvalidTransition):
                next_state(state, step)
    if state in TERMINAL:
        assert allowed_steps(state) == []
