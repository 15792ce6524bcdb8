"""Providers' reputation: scored from outcomes, recomputed as each closes, shown and queryable."""
from __future__ import annotations

from datetime import timedelta

from bot.db.models import Dispute, Rental
from bot.domain.reputation import NEW_BELOW, Outcome, score
from bot.domain.states import RentalState, Step
from bot.services.common import move
from tests.helpers import person, provider_with_offer

S = RentalState


def test_score_is_neutral_for_new_providers_and_falls_with_failures():
    assert score([]).reliability_bps == 10_000 and score([]).is_new
    assert score([Outcome.COMPLETED] * 10).reliability_bps == 10_000
    one_bad = score([Outcome.NO_SHOW])
    assert one_bad.is_new and 0 < one_bad.reliability_bps < 10_000
    proven = score([Outcome.COMPLETED] * 8 + [Outcome.GPU_FAILED] * 2)
    assert not proven.is_new and proven.outcomes == 10
    assert score([Outcome.COMPLETED] * 8 + [Outcome.EARLY_END] * 2).reliability_bps > proven.reliability_bps
    assert score([Outcome.DISPUTE_LOST]).reliability_bps == score([Outcome.NO_SHOW]).reliability_bps
    assert score([Outcome.DISPUTE_WON] * 3).reliability_bps == 10_000


async def _close(app, renter, offer_id: int, path: list[tuple[Step, dict]], *, renter_bps: int | None = None,
                 outcome: str | None = None) -> int:
    view = await app.services.rentals.create(renter, offer_id, 2)
    async with app.services.ctx.sessions.begin() as session:
        rental = await session.get(Rental, view.id)
        for step, changes in path:
            if step is Step.RESOLVE:
                session.add(Dispute(rental_id=rental.id, opened_by=renter.user_id, reason="x", status="resolved",
                                    renter_bps=renter_bps))
            if step is Step.REFUND and outcome:
                rental.outcome = outcome
            await move(session, rental, step, "test", **changes)
    return view.id


def _served(app, ends_early: bool = False):
    now = app.services.ctx.now()
    end = now + timedelta(hours=2)
    return [(Step.DEPOSIT_CONFIRMED, {}), (Step.PROVISION, {}), (Step.START, {"started_at": now, "ends_at": end}),
            (Step.END, {"ended_at": end - timedelta(hours=1) if ends_early else end})]


async def test_outcomes_land_on_the_provider_and_their_listings(app):
    prov, offer_id = await provider_with_offer(app, "prov", capacity=8)
    _, other_offer = await provider_with_offer(app, "other", price="0.6")
    renter = await person(app, "alice")
    fresh = await app.services.offers.show(offer_id)
    assert fresh.provider_new and fresh.reliability_bps == 10_000

    for _ in range(3):
        await _close(app, renter, offer_id, _served(app) + [(Step.SETTLE, {})])
    served = await app.services.offers.show(offer_id)
    assert not served.provider_new and served.reliability_bps == 10_000

    await _close(app, renter, offer_id, [(Step.DEPOSIT_CONFIRMED, {}), (Step.PROVISION, {}), (Step.REFUND, {})],
                 outcome=Outcome.GPU_FAILED.value)
    await _close(app, renter, offer_id, _served(app)[:3] + [(Step.DISPUTE, {}), (Step.RESOLVE, {})], renter_bps=8_000)
    hurt = await app.services.offers.show(offer_id)
    expected = score([Outcome.COMPLETED] * 3 + [Outcome.GPU_FAILED, Outcome.DISPUTE_LOST]).reliability_bps
    assert hurt.reliability_bps == expected < 9_000

    # a refund that is not the provider's fault (a late deposit: no outcome recorded) changes nothing
    await _close(app, renter, offer_id, [(Step.DEPOSIT_CONFIRMED, {}), (Step.REFUND, {})])
    assert (await app.services.offers.show(offer_id)).reliability_bps == expected

    # the score is usable in queries and sorting; the newcomer is not penalised
    good = await app.services.offers.browse("reliability>=0.9")
    assert [o.id for o in good.offers] == [other_offer]
    ranked = await app.services.offers.browse("sort=-reliability")
    assert [o.id for o in ranked.offers] == [other_offer, offer_id]
    text = (await app.router.handle(renter, "/offers")).text
    assert "new provider" in text and f"{expected / 100:g}%" in text


async def test_an_early_end_counts_half(app):
    _, offer_id = await provider_with_offer(app, "prov", capacity=8)
    renter = await person(app, "alice")
    for _ in range(NEW_BELOW):
        await _close(app, renter, offer_id, _served(app, ends_early=True) + [(Step.SETTLE, {})])
    view = await app.services.offers.show(offer_id)
    assert view.reliability_bps == score([Outcome.EARLY_END] * NEW_BELOW).reliability_bps < 10_000
