"""Linking a wallet by Sign-In with Ethereum: the signed address becomes the person's identity
and the address the escrow refunds. Two paths end in the same `verify`: the WalletConnect one
(the bot asks the wallet to sign) and the manual one (the person signs the shown message in any
wallet and pastes the signature)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from eth_utils import is_address, to_checksum_address
from sqlalchemy import select, update

from bot.db.models import Provider, Rental, User, WalletChallenge
from bot.domain.errors import Conflict, InvalidInput
from bot.domain.states import HOLDS_CAPACITY
from bot.services.context import Actor, ServiceContext
from bot.services.identity import attach
from bot.services.listing import list_waiting, unlist_gapped
from bot.wallet import siwe

CHALLENGE_TTL = timedelta(minutes=10)
STATEMENT = "Link this wallet to your gpuflow account. This costs nothing and moves no funds."


@dataclass(frozen=True)
class Challenge:
    message: str
    nonce: str


class WalletService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def linked_address(self, actor: Actor) -> str | None:
        async with self.ctx.sessions() as session:
            return (await session.get(User, actor.user_id)).wallet_address

    async def challenge(self, actor: Actor, address: str) -> Challenge:
        """A fresh sign-in message for `address`; older open challenges of this person lapse."""
        if not is_address(address.strip()):
            raise InvalidInput("that is not an Ethereum address (0x followed by 40 hex digits)")
        settings = self.ctx.settings
        msg = siwe.build_message(domain=settings.site_domain, address=address.strip(),
                                 uri=f"https://{settings.site_domain}/", chain_id=settings.chain.chain_id,
                                 statement=STATEMENT, ttl=CHALLENGE_TTL, now=self.ctx.now())
        async with self.ctx.sessions.begin() as session:
            await session.execute(update(WalletChallenge).where(WalletChallenge.user_id == actor.user_id,
                                                                WalletChallenge.used_at.is_(None))
                                  .values(used_at=self.ctx.now()))
            session.add(WalletChallenge(user_id=actor.user_id, nonce=msg.nonce, message=msg.to_text(),
                                        expires_at=msg.expiration_time))
        return Challenge(message=msg.to_text(), nonce=msg.nonce)

    async def verify(self, actor: Actor, signature: str, *, session_topic: str | None = None) -> str:
        """Check the signature over the person's latest challenge and link the address. When the
        wallet is linked to another user already, this platform account is attached to that user
        (one identity per wallet): re-identify the caller afterwards for the user id."""
        sig = signature.strip()
        if not (sig.startswith("0x") and len(sig) == 132 and all(c in "0123456789abcdefABCDEF" for c in sig[2:])):
            raise InvalidInput("a signature is 0x followed by 130 hex digits, as your wallet shows it")
        settings = self.ctx.settings
        async with self.ctx.sessions.begin() as session:
            challenge = await session.scalar(
                select(WalletChallenge).where(WalletChallenge.user_id == actor.user_id,
                                              WalletChallenge.used_at.is_(None))
                .order_by(WalletChallenge.id.desc()).limit(1))
            if challenge is None:
                raise InvalidInput("there is no sign-in message waiting: start with /wallet link <address>")
            try:
                msg = siwe.verify(challenge.message, sig, domain=settings.site_domain, nonce=challenge.nonce,
                                  chain_id=settings.chain.chain_id, now=self.ctx.now())
            except siwe.SiweError as exc:
                raise InvalidInput(str(exc)) from None
            address = to_checksum_address(msg.address)
            owner = await session.scalar(select(User).where(User.wallet_address == address))
            if owner is not None and owner.id != actor.user_id:
                # the signature proves this person owns the wallet already linked elsewhere: this
                # platform account joins that user (the wallet is the identity), never before it
                await attach(session, actor.user_id, owner.id)
                challenge.used_at = self.ctx.now()
                if session_topic is not None:
                    owner.wallet_session = session_topic
                return address
            user = await session.get(User, actor.user_id)
            if user.wallet_address not in (None, address) and await self._has_open_rentals(session, actor):
                raise Conflict("finish or cancel your open rentals before switching wallets")
            challenge.used_at = self.ctx.now()
            user.wallet_address, user.wallet_linked_at = address, self.ctx.now()
            if session_topic is not None:
                user.wallet_session = session_topic
            await self._listings_follow(session, actor)      # a provider's waiting offers may be listed now
            return address

    async def set_session(self, actor: Actor, topic: str | None) -> None:
        async with self.ctx.sessions.begin() as session:
            (await session.get(User, actor.user_id)).wallet_session = topic

    async def session_of(self, user_id: int) -> str | None:
        async with self.ctx.sessions() as session:
            return (await session.get(User, user_id)).wallet_session

    async def unlink(self, actor: Actor) -> str:
        async with self.ctx.sessions.begin() as session:
            user = await session.get(User, actor.user_id)
            if user.wallet_address is None:
                raise InvalidInput("no wallet is linked")
            if await self._has_open_rentals(session, actor):
                raise Conflict("finish or cancel your open rentals before unlinking your wallet")
            old, user.wallet_address, user.wallet_session = user.wallet_address, None, None
            await self._listings_follow(session, actor)      # no payout wallet: a provider's offers wait
            return old

    async def _listings_follow(self, session, actor: Actor) -> None:
        """The payout wallet is one of the listing conditions (bot.domain.listing)."""
        provider_id = await session.scalar(select(Provider.id).where(Provider.user_id == actor.user_id))
        if provider_id is None:
            return
        await session.flush()
        await unlist_gapped(session, self.ctx.settings, provider_id)
        await list_waiting(session, self.ctx.settings, provider_id)

    async def _has_open_rentals(self, session, actor: Actor) -> bool:
        states = [s.value for s in HOLDS_CAPACITY]
        return await session.scalar(select(Rental.id).where(Rental.renter_id == actor.user_id,
                                                            Rental.state.in_(states)).limit(1)) is not None
