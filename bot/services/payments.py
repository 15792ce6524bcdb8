"""Everything a person pays or collects through the escrow: the deposit after /rent, top-ups,
early end, on-chain disputes, balances and withdrawals. The bot never holds the money: it builds
the exact transactions and asks the person's own wallet to send them (WalletConnect), or shows
a payment link / the raw transaction where WalletConnect is not set up."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.chain.escrow import EscrowError, UnsignedTx
from bot.db.models import Rental, User
from bot.domain.errors import Conflict, InvalidInput, NotAvailableYet, NotFound, PermissionDenied
from bot.domain.pricing import format_amount
from bot.domain.states import RentalState
from bot.services.common import get_rental, token_of
from bot.services.context import Actor, ServiceContext
from bot.services.quoting import DepositQuotes
from bot.wallet.links import eip681_call

S = RentalState


@dataclass(frozen=True)
class PaymentRequest:
    what: str
    txs: list[UnsignedTx]
    sent_to_wallet: bool                 # the wallet was asked; watch it
    payment_link: str | None = None      # EIP-681, native coin only
    notes: list[str] = field(default_factory=list)
    valid_until: datetime | None = None  # a deposit quote's expiry: after it the escrow refuses the deposit
    renew: str | None = None             # the command that makes a fresh request (e.g. "/pay 5")


class PaymentService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _escrow(self):
        if self.ctx.escrow is None:
            raise NotAvailableYet("the escrow contract is not configured on this bot (chain.escrow_address)")
        return self.ctx.escrow

    async def _request(self, actor: Actor, what: str, txs: list[UnsignedTx], key: str,
                       link: str | None = None, deposit_of: int | None = None, **extra) -> PaymentRequest:
        sent = False
        if self.ctx.bridge is not None:
            sent = await self.ctx.bridge.send(actor, txs, what, key, deposit_of=deposit_of)
        return PaymentRequest(what=what, txs=txs, sent_to_wallet=sent, payment_link=link, **extra)

    async def deposit(self, actor: Actor, rental_id: int) -> PaymentRequest:
        """A fresh signed quote for the rental, as the deposit transaction(s) and, for the native coin,
        a payment link; the renter's wallet is asked too when it is connected."""
        escrow = self._escrow()
        quotes = DepositQuotes(self.ctx)
        async with self.ctx.sessions() as session:
            rental = await self._renter_rental(session, actor, rental_id)
        if rental.state != S.AWAITING_DEPOSIT.value:
            raise Conflict(f"rental #{rental_id} is not waiting for a deposit")
        await quotes.check_terms(rental)
        async with self.ctx.sessions.begin() as session:
            rental = await session.get(Rental, rental_id, with_for_update=True)
            if rental.state != S.AWAITING_DEPOSIT.value:
                raise Conflict(f"rental #{rental_id} is not waiting for a deposit")
            try:
                signed = quotes.sign(rental)
            except RuntimeError as exc:           # no operator key: say so, not a traceback
                raise NotAvailableYet(str(exc)) from None
        txs = escrow.deposit_txs(signed)
        token = token_of(self.ctx.settings, rental.token_symbol, rental.token_decimals, rental.token_address)
        link = None
        if token.is_native:   # EIP-681 can carry a native-coin call; an ERC-20 deposit needs approve first
            q = signed.quote
            link = eip681_call(escrow.address, self.ctx.settings.chain.chain_id, "deposit", value_wei=q.amount,
                               args=[("bytes32", q.id), ("address", q.provider), ("address", q.token),
                                     ("uint256", q.amount), ("uint256", q.duration), ("uint256", q.expiry),
                                     ("bytes", signed.signature)])
        return await self._request(actor, f"Deposit {format_amount(rental.amount, token)} for rental #{rental.id}",
                                   txs, f"deposit:{rental.id}", link, rental.id,
                                   valid_until=rental.quote_expires_at, renew=f"/pay {rental.id}")

    async def extend(self, actor: Actor, rental_id: int, hours: int) -> PaymentRequest:
        escrow = self._escrow()
        if not 1 <= hours <= 24 * 90:
            raise InvalidInput("extend by 1 to 2160 hours")
        async with self.ctx.sessions() as session:
            rental = await self._renter_rental(session, actor, rental_id)
            if rental.state != S.ACTIVE.value:
                raise Conflict(f"only an active rental can be extended (rental #{rental_id} is "
                               f"{rental.state.replace('_', ' ')})")
        try:
            txs = await escrow.prepare_extend(rental.escrow_id, hours * 3600)
        except (ValueError, EscrowError) as exc:
            raise Conflict(f"rental #{rental_id} cannot be extended: {exc}") from None
        return await self._request(actor, f"Extend rental #{rental.id} by {hours} h", txs,
                                   f"extend:{rental.id}:{hours}:{self.ctx.now().timestamp()}")

    async def end_early(self, actor: Actor, rental_id: int) -> PaymentRequest:
        escrow = self._escrow()
        async with self.ctx.sessions() as session:
            rental = await self._renter_rental(session, actor, rental_id)
            if rental.state != S.ACTIVE.value:
                raise Conflict(f"rental #{rental_id} is not running")
        return await self._request(actor, f"End rental #{rental.id} now", [escrow.end_early_tx(rental.escrow_id)],
                                   f"end:{rental.id}")

    async def dispute_on_chain(self, actor: Actor, rental_id: int) -> PaymentRequest | None:
        """Freeze the clock on chain too (only the renter or provider can); None without a chain."""
        if self.ctx.escrow is None:
            return None
        async with self.ctx.sessions() as session:
            rental = await get_rental(session, rental_id)
        return await self._request(actor, f"Register the dispute on rental #{rental.id} on chain",
                                   [self.ctx.escrow.dispute_tx(rental.escrow_id)], f"dispute:{rental.id}")

    async def earnings(self, actor: Actor) -> tuple[str, list[str]]:
        escrow = self._escrow()
        address = await self._address(actor)
        lines = []
        for token in self.ctx.settings.tokens():
            owed = await escrow.owed(address, token.address)
            if owed:
                lines.append(format_amount(owed, token))
        return address, lines

    async def withdraw(self, actor: Actor) -> PaymentRequest:
        escrow = self._escrow()
        address = await self._address(actor)
        txs = [escrow.withdraw_tx(t.address) for t in self.ctx.settings.tokens()
               if await escrow.owed(address, t.address)]
        if not txs:
            raise Conflict("the escrow owes you nothing right now")
        return await self._request(actor, "Withdraw what the escrow owes you", txs,
                                   f"withdraw:{self.ctx.now().timestamp()}")

    async def credentials(self, actor: Actor, rental_id: int) -> str:
        async with self.ctx.sessions() as session:
            rental = await self._renter_rental(session, actor, rental_id)
            if rental.state != S.ACTIVE.value or not rental.credentials_sealed:
                raise Conflict(f"rental #{rental_id} has no SSH login right now (it is "
                               f"{rental.state.replace('_', ' ')})")
            if self.ctx.box is None:
                raise NotAvailableYet("the master key is not set, so credentials cannot be opened")
            from bot.services.fulfilment.delivery import open_credentials

            return open_credentials(self.ctx.box, rental)

    async def _renter_rental(self, session, actor: Actor, rental_id: int) -> Rental:
        rental = await get_rental(session, rental_id)
        if rental.renter_id != actor.user_id:
            if actor.is_staff:
                raise PermissionDenied(f"only the renter of rental #{rental_id} can do this")
            raise NotFound(f"there is no rental #{rental_id} of yours")
        return rental

    async def _address(self, actor: Actor) -> str:
        async with self.ctx.sessions() as session:
            address = (await session.get(User, actor.user_id)).wallet_address
        if address is None:
            raise InvalidInput("link your wallet first: /wallet link")
        return address

