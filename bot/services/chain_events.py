"""Applies escrow events to the store, inside the watcher's transaction (exactly once each).

The chain is the source of truth for money: a rental is funded when its Deposited event is
confirmed, not when a wallet says it sent something. GpuEscrow v2 takes a deposit only with the
operator's signature over the rental's exact terms, from the quoted wallet, so a deposit cannot
differ from its rental; the comparison below stays as a guard (a difference means something signed
with the operator key that this bot did not quote): such a deposit is flagged, refunded, never
provisioned, and support is told.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.events import EscrowEvent
from bot.faults import checkpoint
from bot.db.models import Dispute, Provider, Rental
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.errors import Conflict, InvalidTransition
from bot.domain.pricing import fee_share, format_amount
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, move, token_of
from bot.services.context import ServiceContext
from bot.services.fulfilment.delivery import note_chain_start, record_start

log = logging.getLogger(__name__)
NATIVE = "0x" + "00" * 20
S = RentalState


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


class RentalEventHandler:
    """The services' side of bot.chain.events.EscrowEventHandler."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def apply(self, session: AsyncSession, event: EscrowEvent) -> None:
        if event.rental_id is None:
            return      # Withdrawn, TokenAllowed: nothing to do for a rental
        rental = await session.scalar(select(Rental).where(Rental.escrow_id == event.rental_id.lower()))
        if rental is None:
            log.warning("escrow event %s for unknown rental id %s", event.name, event.rental_id[:18])
            if event.name == "Deposited":
                await notify(session, Kind.UNKNOWN_DEPOSIT, f"unknown-deposit:{event.tx_hash}:{event.log_index}",
                             data={"escrow_id": event.rental_id})
            return
        handler = getattr(self, f"_on_{event.name}", None)
        if handler is not None:
            try:
                await handler(session, rental, event)
            except (InvalidTransition, Conflict) as exc:   # the event does not fit: keep it visible
                add_timeline(session, rental.id, "chain_note", f"{event.name} on chain while {rental.state}: {exc}")

    async def peek(self, session: AsyncSession, event: EscrowEvent) -> None:
        """A matching deposit in a block not confirmed yet: note it, so the worker prepares the
        account while the confirmations come (the rental stays awaiting its deposit; nothing is
        handed over or sent on chain before the Deposited event is confirmed)."""
        if event.name != "Deposited" or event.rental_id is None:
            return
        rental = await session.scalar(select(Rental).where(Rental.escrow_id == event.rental_id.lower()))
        if rental is None or rental.state != S.AWAITING_DEPOSIT.value or rental.deposit_seen_at is not None:
            return
        if self._deposit_problems(rental, event.args):
            return                # only a deposit that will fund the rental is worth preparing for
        rental.deposit_seen_at = self.ctx.now()
        add_timeline(session, rental.id, "deposit_seen", f"deposit seen on chain in block {event.block_number}; "
                     "preparing access while it is confirmed")
        await notify(session, Kind.DEPOSIT_SEEN, f"rental:{rental.id}:deposit-seen", data={"rental": rental.id},
                     user_id=rental.renter_id, rental_id=rental.id)

    async def revert(self, session: AsyncSession, event: EscrowEvent) -> None:
        """A chain reorganisation removed an event we had applied."""
        if event.rental_id is None:
            return
        rental = await session.scalar(select(Rental).where(Rental.escrow_id == event.rental_id.lower()))
        if rental is None:
            return
        if event.name == "Deposited" and rental.state == S.FUNDED.value:
            await move(session, rental, Step.DEPOSIT_REORGED, "the deposit was undone by a chain reorganisation",
                       funded_at=None)
        else:
            add_timeline(session, rental.id, "chain_note", f"a chain reorganisation undid {event.name}")

    # -- events ---------------------------------------------------------------------------------

    async def _on_Deposited(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        problems = self._deposit_problems(rental, event.args)
        token = token_of(self.ctx.settings, rental.token_symbol, rental.token_decimals, rental.token_address)
        amount = format_amount(event.args["amount"], token) if not problems else f"{event.args['amount']} base units"
        if rental.funded_at is not None:
            # The escrow takes one deposit per id (IdUsed), so this is the deposit already counted,
            # delivered again (a reorg that re-included it, a replay): nothing to do, above all no refund.
            add_timeline(session, rental.id, "chain_note", "the deposit was reported again; it is already counted")
            return
        if rental.state != S.AWAITING_DEPOSIT.value:
            # too late (expired/cancelled) or a second deposit: the money goes back
            rental.refund_reason = f"deposit arrived while the rental was {rental.state.replace('_', ' ')}"
            add_timeline(session, rental.id, "deposit_flagged", f"deposit of {amount} flagged: {rental.refund_reason}")
            return
        checkpoint("deposit-seen")
        await move(session, rental, Step.DEPOSIT_CONFIRMED, f"deposit of {amount} confirmed on chain",
                   funded_at=self.ctx.now())
        if problems:
            rental.refund_reason = "the deposit does not match the quote: " + "; ".join(problems)
            add_timeline(session, rental.id, "deposit_flagged", rental.refund_reason)
            data = {"rental": rental.id, "problems": problems, "wallet": event.args["renter"]}
            await notify(session, Kind.DEPOSIT_MISMATCH, f"rental:{rental.id}:deposit-mismatch", data=data,
                         user_id=rental.renter_id, rental_id=rental.id)
            await notify(session, Kind.DEPOSIT_MISMATCH_SUPPORT, f"rental:{rental.id}:deposit-mismatch-support",
                         data=data, rental_id=rental.id)
            return
        await notify(session, Kind.FUNDED, f"rental:{rental.id}:funded", data={"rental": rental.id},
                     user_id=rental.renter_id, rental_id=rental.id)

    def _deposit_problems(self, rental: Rental, args: dict) -> list[str]:
        problems = []
        if rental.renter_address and args["renter"].lower() != rental.renter_address.lower():
            problems.append("it came from a different wallet than the linked one")
        if rental.provider_address and args["provider"].lower() != rental.provider_address.lower():
            problems.append("it names a different provider")
        if args["token"].lower() != (rental.token_address or NATIVE).lower():
            problems.append("it is in a different token")
        if args["amount"] != rental.amount:
            problems.append("the amount differs")
        if args["duration"] != rental.hours * 3600:
            problems.append("the duration differs")
        if args.get("feeBps", rental.fee_bps) != rental.fee_bps:
            problems.append("the platform fee differs")
        return problems

    async def _on_Started(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        """Accepted whenever the store has not recorded the start yet (funded or provisioning): the
        chain's clock runs, whoever sent the start (an earlier start of ours mined late). With the
        access ready it is recorded and the credentials go out; otherwise the chain's times are kept
        and the worker delivers at once (bot.services.fulfilment)."""
        started = _ts(event.args["startedAt"])
        ends = started + timedelta(seconds=rental.hours * 3600)
        if rental.started_at == started and rental.state not in (S.FUNDED.value, S.PROVISIONING.value):
            return      # the worker recorded it from the contract's record already (it may have moved on)
        if rental.state in (S.FUNDED.value, S.PROVISIONING.value):
            checkpoint("start-mined")
            if not await record_start(session, self.ctx.box, rental, started_at=started, ends_at=ends,
                                      detail="access delivered and GPU checked; the rental clock started"):
                note_chain_start(session, rental, started_at=started, ends_at=ends)
            return
        raise InvalidTransition(f"the store has it {rental.state.replace('_', ' ')}")

    async def _on_Cancelled(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        token = token_of(self.ctx.settings, rental.token_symbol, rental.token_decimals, rental.token_address)
        refund = format_amount(event.args["refund"], token)
        if rental.state in (S.FUNDED.value, S.PROVISIONING.value):
            await move(session, rental, Step.REFUND, f"cancelled on chain; {refund} refunded to the renter",
                       credentials_sealed=None)
        else:
            add_timeline(session, rental.id, "refunded", f"the flagged deposit was refunded ({refund})")
        reason = rental.refund_reason or "the rental could not be started"
        await notify(session, Kind.REFUNDED, f"rental:{rental.id}:refunded",
                     data={"rental": rental.id, "refund": refund, "reason": reason},
                     user_id=rental.renter_id, rental_id=rental.id)

    async def _on_EndedEarly(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        await move(session, rental, Step.END, "the renter ended the rental early", ended_at=_ts(event.args["endedAt"]))

    async def _on_Extended(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        hours = event.args["duration"] // 3600
        extra = event.args["extraDuration"] // 3600
        ends = rental.started_at + timedelta(seconds=event.args["duration"]) if rental.started_at else None
        await move(session, rental, Step.EXTEND, f"extended by {extra} h (paid {event.args['extraAmount']} base "
                   "units)", hours=hours, amount=event.args["amount"], fee=fee_share(event.args["amount"],
                                                                                   rental.fee_bps), ends_at=ends)
        await notify(session, Kind.EXTENDED, f"rental:{rental.id}:extended:{event.tx_hash}:{event.log_index}",
                     data={"rental": rental.id, "hours": extra, "ends_at": ends.isoformat() if ends else None},
                     user_id=rental.renter_id, rental_id=rental.id)

    async def _on_Disputed(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        if rental.state in (S.DISPUTED.value, S.RESOLVED.value):   # opened (or decided) with /dispute first
            add_timeline(session, rental.id, "chain_note", "the dispute is registered on chain; the clock is frozen")
            return
        await move(session, rental, Step.DISPUTE, "a dispute was opened on chain; the clock is frozen")
        if await session.scalar(select(Dispute.id).where(Dispute.rental_id == rental.id)) is None:
            provider = await session.get(Provider, rental.provider_id)
            by_provider = (rental.provider_address or "").lower() == str(event.args.get("by", "")).lower()
            opened_by = provider.user_id if by_provider and provider is not None else rental.renter_id
            session.add(Dispute(rental_id=rental.id, opened_by=opened_by, reason="opened on chain",
                                opened_at=self.ctx.now()))
            await notify(session, Kind.DISPUTE_OPENED, f"dispute:{rental.id}:opened", rental_id=rental.id,
                         data={"rental": rental.id, "side": "provider" if by_provider else "renter"})

    async def _on_Resolved(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        a = event.args
        token = token_of(self.ctx.settings, rental.token_symbol, rental.token_decimals, rental.token_address)
        paid = (f"renter {format_amount(a['renterPart'], token)}, provider {format_amount(a['providerPart'], token)}, "
                f"fee {format_amount(a['fee'], token)}")
        if rental.state == S.RESOLVED.value:
            # support's /resolve recorded the decision already (and, with the arbiter key, sent this tx)
            add_timeline(session, rental.id, "chain_note", f"resolution paid on chain: {paid}")
        else:
            await move(session, rental, Step.RESOLVE, f"resolution paid on chain: {paid}", credentials_sealed=None)
            dispute = await session.scalar(select(Dispute).where(Dispute.rental_id == rental.id))
            if dispute is not None and dispute.status == "open":   # the arbiter resolved outside the bot
                dispute.status, dispute.renter_bps, dispute.resolved_at = "resolved", a["renterBps"], self.ctx.now()
        provider = await session.get(Provider, rental.provider_id)
        for user_id in (rental.renter_id, provider.user_id if provider else None):
            if user_id is not None:
                await notify(session, Kind.DISPUTE_RESOLVED, f"rental:{rental.id}:resolved:{user_id}",
                             data={"rental": rental.id, "paid": paid}, user_id=user_id, rental_id=rental.id)

    async def _on_Settled(self, session: AsyncSession, rental: Rental, event: EscrowEvent) -> None:
        token = token_of(self.ctx.settings, rental.token_symbol, rental.token_decimals, rental.token_address)
        a = event.args
        paid = (f"provider {format_amount(a['providerPart'], token)}, renter refund "
                f"{format_amount(a['renterPart'], token)}, fee {format_amount(a['fee'], token)}")
        if rental.state == S.RESOLVED.value:
            # support recorded a decision but no arbiter sent it before the dispute timed out
            add_timeline(session, rental.id, "chain_note", f"the recorded decision was never paid; the dispute timed "
                         f"out and the escrow settled pro rata instead: {paid}")
            await notify(session, Kind.SETTLED_UNRESOLVED, f"rental:{rental.id}:settled-not-resolved",
                         data={"rental": rental.id, "paid": paid}, rental_id=rental.id)
            return
        if rental.state == S.ACTIVE.value:
            await move(session, rental, Step.END, "the rental time is over", ended_at=self.ctx.now())
        disputed = rental.state == S.DISPUTED.value
        await move(session, rental, Step.SETTLE, ("the dispute timed out unanswered; " if disputed else "")
                   + f"settled: {paid}", credentials_sealed=None)
        if disputed:
            dispute = await session.scalar(select(Dispute).where(Dispute.rental_id == rental.id))
            if dispute is not None and dispute.status == "open":
                dispute.status, dispute.resolved_at = "timed_out", self.ctx.now()
                dispute.note = "no decision before the dispute timeout; settled pro rata on chain"
