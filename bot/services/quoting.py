"""Deposit quotes: the operator key signs a rental's exact terms for the renter's linked wallet, valid
for `chain.quote_ttl_s` (never past the deposit deadline); GpuEscrow v2 accepts a deposit only with
such a signature, from that wallet, before the expiry. A quote is checked against the contract's
own fee and maximum duration first, so the bot never hands out a quote the contract would refuse.
When a wallet reports that a deposit failed, `explain_failure` says why in words and what the renter
can do now (above all: an expired quote needs /pay again)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.chain.escrow import EscrowParameters
from bot.chain.quotes import SignedQuote
from bot.db.models import Rental
from bot.domain.errors import Conflict, NotAvailableYet
from bot.domain.states import RentalState
from bot.services.context import ServiceContext



def when(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC"


class DepositQuotes:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def contract_terms(self, retry: str) -> EscrowParameters:
        """The deployed contract's fixed parameters (read at start, or now); `retry` says what to send
        again. Nothing is quoted for a contract this bot cannot work with (see contract_check)."""
        from bot.services.contract_check import adopt_contract_truth

        state = self.ctx.contract or await adopt_contract_truth(self.ctx)
        if state is None:
            raise NotAvailableYet(f"the chain cannot be reached right now; try {retry} again in a minute")
        if state.blocking:
            raise NotAvailableYet("deposits are paused: this bot's escrow contract does not match its "
                                  "configuration (" + "; ".join(state.blocking) + "). Support has been told.")
        return state.truth.parameters

    async def check_terms(self, rental: Rental) -> None:
        """Refuse to quote what the deployed contract would refuse (its fee and duration limit)."""
        params = await self.contract_terms(f"/pay {rental.id}")
        if params.fee_bps != rental.fee_bps:
            raise Conflict(f"rental #{rental.id} was priced with a {rental.fee_bps / 100:g}% fee but this bot's escrow "
                           f"contract takes {params.fee_bps / 100:g}%, so it would refuse the deposit. Nothing was "
                           "charged; support must fix the bot's configuration (fee_bps) before you pay.")
        if rental.hours * 3600 > params.max_duration:
            raise Conflict(f"rental #{rental.id} is longer than this escrow allows "
                           f"({params.max_duration // 3600} h); cancel it (/cancel {rental.id}) and rent fewer hours")

    def sign(self, rental: Rental) -> SignedQuote:
        """A fresh quote for the rental (stored on it by the caller's transaction)."""
        now = self.ctx.now()
        expires = min(now + timedelta(seconds=self.ctx.settings.chain.quote_ttl_s), rental.deposit_deadline)
        if expires <= now:
            raise Conflict(f"the deposit deadline of rental #{rental.id} has passed; rent again (/rent)")
        signed = self.ctx.escrow.sign_quote(rental.escrow_id, rental.renter_address, rental.provider_address,
                                             rental.token_address, rental.amount, rental.hours * 3600, rental.fee_bps,
                                             int(expires.timestamp()))
        rental.quote_expires_at = datetime.fromtimestamp(signed.quote.expiry, tz=timezone.utc)
        rental.quote_signature = signed.signature
        return signed

    async def explain_failure(self, rental_id: int, detail: str) -> str:
        """Why a deposit the renter's wallet tried did not land, and what to do now."""
        async with self.ctx.sessions() as session:
            rental = await session.get(Rental, rental_id)
        escrow = self.ctx.escrow
        error = escrow.error_in(detail)
        try:
            record = await escrow.rental(rental.escrow_id)
        except Exception:  # noqa: BLE001 - explain from what the bot knows
            record = None
        if record is not None and record.status != 0:
            return (f"rental #{rental.id} already has its deposit on chain, so this one was not needed and "
                    "nothing more was taken (a refused transaction costs only its gas).")
        if rental.state != RentalState.AWAITING_DEPOSIT.value:
            return (f"rental #{rental.id} no longer waits for a deposit (it is {rental.state.replace('_', ' ')}); "
                    "nothing was taken but gas. Rent again with /rent.")
        expired = rental.quote_expires_at is not None and self.ctx.now() >= rental.quote_expires_at
        if error == "QuoteExpired" or expired:
            return (f"the quote expired ({when(rental.quote_expires_at)}) before the deposit reached the chain, "
                    f"so the escrow refused it and nothing was taken but gas. Send /pay {rental.id} for a fresh "
                    f"quote; the deposit is due by {when(rental.deposit_deadline)}.")
        if error == "BadSignature":
            return (f"the escrow takes this deposit only from the wallet it was quoted to ({rental.renter_address}); "
                    f"nothing was taken but gas. Send it from that wallet, or /pay {rental.id} again.")
        reason = f"the escrow refused it ({error})" if error else f"it did not go through ({detail[:200]})"
        return (f"the deposit for rental #{rental.id} failed: {reason}. Nothing was taken but gas. Send "
                f"/pay {rental.id} to try again.")
