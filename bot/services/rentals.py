"""Renting: quote, create (reserving capacity), list, show, cancel, expire unpaid rentals."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select, update

from bot.chain.models import ChainCursor
from bot.db.models import Offer, Provider, Rental, User
from bot.domain.errors import Conflict, InvalidInput, NotAvailableYet, NotFound, PermissionDenied
from bot.domain.pricing import quote
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, capacity_changed, get_offer, get_rental, move, rental_view
from bot.services.context import Actor, ServiceContext
from bot.services.quoting import DepositQuotes
from bot.services.views import RentalView

MAX_LISTED = 25


class RentalService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def create(self, actor: Actor, offer_id: int, hours: int) -> RentalView:
        """Reserve a slot of the offer and open a rental awaiting the renter's deposit."""
        settings = self.ctx.settings
        fee_bps = settings.fee_bps
        if self.ctx.escrow is not None:     # the contract's fee and length limit are the truth
            terms = await DepositQuotes(self.ctx).contract_terms(f"/rent {offer_id} {hours}")
            fee_bps = terms.fee_bps
            if hours * 3600 > terms.max_duration:
                raise InvalidInput(f"a rental can last at most {terms.max_duration // 3600} h on this bot")
        async with self.ctx.sessions.begin() as session:
            offer = await get_offer(session, offer_id)
            provider = await session.get(Provider, offer.provider_id)
            self._check_rentable(actor, offer, hours, provider)
            q = quote(offer.price_per_hour, hours, fee_bps)
            renter_address = provider_address = None
            if self.ctx.escrow is not None:
                renter_address = (await session.get(User, actor.user_id)).wallet_address
                provider_address = (await session.get(User, provider.user_id)).wallet_address
                if renter_address is None:
                    raise InvalidInput("link the wallet you will pay from first: /wallet link")
                if provider_address is None:
                    raise Conflict(f"the provider of offer #{offer_id} has not linked a payout wallet yet")
            reserved = await session.execute(
                update(Offer).where(Offer.id == offer.id, Offer.status == "active",
                                    Offer.reserved < Offer.capacity)
                .values(reserved=Offer.reserved + 1).execution_options(synchronize_session=False))
            if reserved.rowcount != 1:
                raise Conflict(f"offer #{offer_id} is fully booked right now; try another one (/offers)")
            await capacity_changed(session, settings, offer.id, taken=True)
            token = settings.token(offer.token_symbol)
            if token is None:
                raise InvalidInput(f"offer #{offer_id} is priced in {offer.token_symbol}, which is no longer accepted")
            now = self.ctx.now()
            rental = Rental(
                escrow_id="0x" + secrets.token_hex(32), offer_id=offer.id, renter_id=actor.user_id,
                provider_id=offer.provider_id, host_id=offer.host_id, token_symbol=token.symbol,
                token_address=token.address, token_decimals=token.decimals,
                price_per_hour=offer.price_per_hour, hours=hours, amount=q.total, fee_bps=q.fee_bps,
                fee=q.fee, state=RentalState.AWAITING_DEPOSIT.value, renter_address=renter_address,
                provider_address=provider_address, platform=actor.platform,
                deposit_deadline=now + timedelta(seconds=settings.deposit_timeout_s),
                created_at=now, updated_at=now,
            )
            session.add(rental)
            await session.flush()
            add_timeline(session, rental.id, "created",
                         f"{actor.name} asked for {hours} h of offer #{offer.id}; awaiting deposit",
                         actor_user_id=actor.user_id, to_state=rental.state)
            await session.flush()
            return await rental_view(session, settings, rental, with_timeline=True)

    async def mine(self, actor: Actor) -> list[RentalView]:
        """Rentals where the person is the renter or the provider, newest first."""
        async with self.ctx.sessions() as session:
            provider_id = await session.scalar(select(Provider.id).where(Provider.user_id == actor.user_id))
            cond = Rental.renter_id == actor.user_id
            if provider_id is not None:
                cond = or_(cond, Rental.provider_id == provider_id)
            rows = (await session.scalars(
                select(Rental).where(cond).order_by(Rental.id.desc()).limit(MAX_LISTED))).all()
            return [await rental_view(session, self.ctx.settings, r) for r in rows]

    async def show(self, actor: Actor, rental_id: int) -> RentalView:
        async with self.ctx.sessions() as session:
            rental = await self.visible_rental(session, actor, rental_id)
            return await rental_view(session, self.ctx.settings, rental, with_timeline=True)

    async def cancel(self, actor: Actor, rental_id: int) -> RentalView:
        async with self.ctx.sessions.begin() as session:
            rental = await self.visible_rental(session, actor, rental_id)
            if rental.renter_id != actor.user_id:
                raise PermissionDenied(f"only the renter can cancel rental #{rental_id}")
            if rental.state in (RentalState.FUNDED.value, RentalState.PROVISIONING.value):
                raise NotAvailableYet(
                    f"rental #{rental_id} is {rental.state.replace('_', ' ')}: once paid, a cancellation is "
                    "a refund from the escrow contract, which is not connected yet")
            await move(session, rental, Step.CANCEL, f"{actor.name} cancelled before paying",
                       actor_user_id=actor.user_id)
            return await rental_view(session, self.ctx.settings, rental, with_timeline=True)

    async def expire_unpaid(self) -> int:
        """Expire rentals whose deposit did not arrive in time, releasing their capacity.

        With an escrow, "in time" is judged by the chain's clock as far as the watcher has read it:
        a deposit mined before the deadline but not seen yet (the RPC was down, the watcher behind)
        must not be expired and refunded, so the deadline counts as passed only once the watcher's
        checkpoint block is at or past it (every deposit up to that block has been applied)."""
        now = self.ctx.now()
        count = 0
        async with self.ctx.sessions.begin() as session:
            seen = await self._chain_time_seen(session)
            if seen is not None:
                now = min(now, seen)
            due = (await session.scalars(
                select(Rental).where(Rental.state == RentalState.AWAITING_DEPOSIT.value,
                                     Rental.deposit_deadline <= now).limit(500))).all()
            for rental in due:
                try:
                    await move(session, rental, Step.EXPIRE, "no deposit arrived before the deadline")
                    count += 1
                except Conflict:
                    continue
        return count

    # -- helpers -----------------------------------------------------------------------------

    async def _chain_time_seen(self, session):
        """The block time of the watcher's checkpoint (None without an escrow). Before the watcher
        has read any block, no time has been seen: the epoch, so nothing expires yet."""
        chain = self.ctx.settings.chain
        if self.ctx.escrow is None or not chain.escrow_address:
            return None
        seconds = await session.scalar(select(ChainCursor.block_time).where(
            ChainCursor.chain_id == chain.chain_id, func.lower(ChainCursor.contract) == chain.escrow_address.lower()))
        return datetime.fromtimestamp(seconds or 0, tz=timezone.utc)

    async def visible_rental(self, session, actor: Actor, rental_id: int) -> Rental:
        """The renter, the provider and support staff may see a rental; others get NotFound."""
        rental = await get_rental(session, rental_id)
        if rental.renter_id == actor.user_id or actor.is_staff:
            return rental
        provider = await session.get(Provider, rental.provider_id)
        if provider is not None and provider.user_id == actor.user_id:
            return rental
        raise NotFound(f"there is no rental #{rental_id} of yours")

    def _check_rentable(self, actor: Actor, offer: Offer, hours: int, provider: Provider | None) -> None:
        if offer.status == "unlisted":
            raise Conflict(f"offer #{offer.id} is not listed yet (its provider has not finished setting it up: a "
                           "verified machine and a payout wallet), so it cannot be rented; see /offers for others")
        if offer.status == "flagged":
            raise Conflict(f"offer #{offer.id} is paused after a failed delivery until it is reviewed, so it cannot "
                           "be rented now; see /offers for others")
        if offer.status != "active":
            raise Conflict(f"offer #{offer.id} is {offer.status} and cannot be rented now")
        if provider is not None and provider.user_id == actor.user_id:
            raise InvalidInput("you cannot rent your own offer")
        if not offer.min_hours <= hours <= offer.max_hours:
            raise InvalidInput(f"offer #{offer.id} rents for {offer.min_hours} to {offer.max_hours} hours "
                               f"(you asked for {hours})")
