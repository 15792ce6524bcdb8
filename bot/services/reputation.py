"""Keeps each provider's reputation current: recomputed from their closed rentals whenever a
transaction closes one, right before it commits, so listings never show a stale score.

`rental_closed` marks the provider dirty (services.common.move calls it on every move into a
closing state); the `before_commit` hook of the store's session class then recomputes the
score from the rows as the transaction leaves them (a dispute's split is written after the
move, so it must not be read at move time) and writes it to the provider and their offers
(offers carry a copy for the browse index).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from bot.db.models import Dispute, Offer, Provider, Rental
from bot.domain.reputation import Outcome, Reputation, dispute_outcome, score
from bot.domain.states import RentalState

CLOSING = frozenset({RentalState.SETTLED, RentalState.RESOLVED, RentalState.REFUNDED})
EARLY_SLACK = timedelta(minutes=1)       # an end within a minute of the paid end is a normal end
_DIRTY = "reputation_dirty"


def rental_closed(session, provider_id: int, target: RentalState) -> None:
    if target in CLOSING:
        session.info.setdefault(_DIRTY, set()).add(provider_id)


def outcomes_of(session: Session, provider_id: int) -> list[Outcome]:
    rows = session.execute(
        select(Rental.state, Rental.outcome, Rental.ended_at, Rental.ends_at, Dispute.renter_bps, Dispute.id)
        .outerjoin(Dispute, Dispute.rental_id == Rental.id)
        .where(Rental.provider_id == provider_id, Rental.state.in_([s.value for s in CLOSING]))).all()
    found: list[Outcome] = []
    for state, outcome, ended_at, ends_at, renter_bps, dispute_id in rows:
        if outcome is not None:                      # recorded where it was known (a provider-side refund)
            found.append(Outcome(outcome))
        elif state == RentalState.RESOLVED.value and renter_bps is not None:
            found.append(dispute_outcome(renter_bps))
        elif state == RentalState.SETTLED.value and dispute_id is None:   # a dispute timing out counts for nobody
            early = ended_at is not None and ends_at is not None and ended_at < ends_at - EARLY_SLACK
            found.append(Outcome.EARLY_END if early else Outcome.COMPLETED)
    return found


def refresh(session: Session, provider_id: int) -> Reputation:
    rep = score(outcomes_of(session, provider_id))
    session.execute(update(Provider).where(Provider.id == provider_id)
                    .values(reliability_bps=rep.reliability_bps, outcome_count=rep.outcomes)
                    .execution_options(synchronize_session=False))
    session.execute(update(Offer).where(Offer.provider_id == provider_id)
                    .values(reliability_bps=rep.reliability_bps, provider_outcomes=rep.outcomes)
                    .execution_options(synchronize_session=False))
    return rep


class StoreSession(Session):
    """The store's session class: refreshes the reputation of providers whose rentals closed."""


@event.listens_for(StoreSession, "before_commit")
def _refresh_dirty(session: Session) -> None:
    dirty = session.info.pop(_DIRTY, None)
    if dirty:
        session.flush()
        for provider_id in sorted(dirty):
            refresh(session, provider_id)
