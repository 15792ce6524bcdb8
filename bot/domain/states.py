"""The rental life cycle as one explicit table of allowed transitions.

Everything that moves a rental goes through `next_state`, so no code path can invent a
transition (e.g. paying out a rental that was never started) by writing a status directly.
"""
from __future__ import annotations

import enum

from bot.domain.errors import InvalidTransition


class RentalState(str, enum.Enum):
    AWAITING_DEPOSIT = "awaiting_deposit"
    FUNDED = "funded"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    ENDED = "ended"
    SETTLED = "settled"
    CANCELLED = "cancelled"   # never paid: the renter gave up before depositing
    EXPIRED = "expired"       # never paid within the deposit timeout
    REFUNDED = "refunded"     # paid, then cancelled on chain with a full refund
    DISPUTED = "disputed"
    RESOLVED = "resolved"     # support decided a split; the contract paid it


class Step(str, enum.Enum):
    """What happened to a rental; each step is allowed from a few states only."""

    DEPOSIT_CONFIRMED = "deposit_confirmed"
    DEPOSIT_REORGED = "deposit_reorged"
    CANCEL = "cancel"
    EXPIRE = "expire"
    PROVISION = "provision"
    START = "start"
    REFUND = "refund"
    EXTEND = "extend"
    END = "end"
    DISPUTE = "dispute"
    RESOLVE = "resolve"
    SETTLE = "settle"


S, T = RentalState, Step

TRANSITIONS: dict[tuple[RentalState, Step], RentalState] = {
    (S.AWAITING_DEPOSIT, T.DEPOSIT_CONFIRMED): S.FUNDED,
    (S.AWAITING_DEPOSIT, T.CANCEL): S.CANCELLED,
    (S.AWAITING_DEPOSIT, T.EXPIRE): S.EXPIRED,
    (S.FUNDED, T.DEPOSIT_REORGED): S.AWAITING_DEPOSIT,
    (S.FUNDED, T.PROVISION): S.PROVISIONING,
    (S.FUNDED, T.REFUND): S.REFUNDED,
    (S.PROVISIONING, T.START): S.ACTIVE,
    (S.PROVISIONING, T.REFUND): S.REFUNDED,
    (S.ACTIVE, T.EXTEND): S.ACTIVE,
    (S.ACTIVE, T.END): S.ENDED,
    (S.ACTIVE, T.DISPUTE): S.DISPUTED,
    (S.ENDED, T.DISPUTE): S.DISPUTED,
    (S.ENDED, T.SETTLE): S.SETTLED,
    (S.DISPUTED, T.RESOLVE): S.RESOLVED,
    (S.DISPUTED, T.SETTLE): S.SETTLED,   # an unanswered dispute timed out on chain
}

TERMINAL: frozenset[RentalState] = frozenset(
    s for s in RentalState if not any(src == s for src, _ in TRANSITIONS)
)

# States in which the offer's capacity is held for the rental.
HOLDS_CAPACITY: frozenset[RentalState] = frozenset(
    {S.AWAITING_DEPOSIT, S.FUNDED, S.PROVISIONING, S.ACTIVE, S.DISPUTED}
)

_HUMAN = {
    S.AWAITING_DEPOSIT: "awaiting deposit",
    S.FUNDED: "funded",
    S.PROVISIONING: "provisioning",
    S.ACTIVE: "active",
    S.ENDED: "ended",
    S.SETTLED: "settled",
    S.CANCELLED: "cancelled",
    S.EXPIRED: "expired",
    S.REFUNDED: "refunded",
    S.DISPUTED: "disputed",
    S.RESOLVED: "resolved",
}


def human(state: RentalState) -> str:
    return _HUMAN[state]


# How a step reads in a sentence ("a rental that is active cannot be cancelled"): internal
# step names never reach people.
_STEP_PHRASE = {
    T.DEPOSIT_CONFIRMED: "take a deposit",
    T.DEPOSIT_REORGED: "lose its deposit",
    T.CANCEL: "be cancelled",
    T.EXPIRE: "expire",
    T.PROVISION: "be set up",
    T.START: "start",
    T.REFUND: "be refunded",
    T.EXTEND: "be extended",
    T.END: "end",
    T.DISPUTE: "be disputed",
    T.RESOLVE: "be resolved",
    T.SETTLE: "be settled",
}
# What a person can still do with a rental in each state (the hint after a refusal).
_NEXT = {
    S.AWAITING_DEPOSIT: "it can be paid (/pay) or cancelled (/cancel)",
    S.FUNDED: "the bot is setting it up; if it cannot, the deposit is refunded",
    S.PROVISIONING: "the bot is setting it up; if it cannot, the deposit is refunded",
    S.ACTIVE: "it can be extended (/extend), ended early (/end) or disputed (/dispute)",
    S.ENDED: "it can still be disputed (/dispute) until it is settled",
    S.DISPUTED: "support staff will decide it",
}


def next_state(current: RentalState, step: Step) -> RentalState:
    """The state after `step`, or InvalidTransition saying, in words, why not and what is possible."""
    try:
        return TRANSITIONS[(current, step)]
    except KeyError:
        hint = _NEXT.get(current, "this rental is closed")
        raise InvalidTransition(f"a rental that is {human(current)} cannot {_STEP_PHRASE[step]} ({hint})") from None


def allowed_steps(current: RentalState) -> list[Step]:
    return [st for (src, st) in TRANSITIONS if src == current]
