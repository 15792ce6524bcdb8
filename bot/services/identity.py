"""One identity per wallet: a platform account proven (by a wallet signature) to belong to the
person who linked that wallet elsewhere is attached to that person's user.

Only ever called after the signature checked out. The account's own user must be empty (no
wallet, no offers, no rentals): its identities move over and the empty user is left behind with
none, so nothing the person did is lost or merged by guesswork.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Identity, Provider, Rental, User
from bot.domain.errors import Conflict


async def is_empty(session: AsyncSession, user: User) -> bool:
    if user.wallet_address is not None:
        return False
    if await session.scalar(select(Provider.id).where(Provider.user_id == user.id)) is not None:
        return False
    return await session.scalar(select(Rental.id).where(Rental.renter_id == user.id).limit(1)) is None


async def attach(session: AsyncSession, from_user_id: int, to_user_id: int) -> int:
    """Move every identity of user `from_user_id` to `to_user_id`; returns how many moved."""
    if from_user_id == to_user_id:
        return 0
    source = await session.get(User, from_user_id)
    target = await session.get(User, to_user_id)
    if source is None or target is None:
        raise Conflict("that account no longer exists; try again")
    if not await is_empty(session, source):
        raise Conflict("that wallet belongs to another account, and this account has its own wallet, offers or "
                       "rentals, so the two cannot be joined automatically; ask support")
    moved = await session.execute(update(Identity).where(Identity.user_id == from_user_id)
                                  .values(user_id=to_user_id).execution_options(synchronize_session=False))
    if target.ssh_public_key is None and source.ssh_public_key is not None:
        target.ssh_public_key = source.ssh_public_key
    source.merged_into_id = target.id     # whoever still holds the old user id reaches the person
    return moved.rowcount


async def current_user_id(session: AsyncSession, user_id: int) -> int:
    """The user an account was attached to (following merges), or `user_id` itself."""
    for _ in range(8):          # merges only ever point at a user with a wallet: short chains
        merged = await session.scalar(select(User.merged_into_id).where(User.id == user_id))
        if merged is None:
            return user_id
        user_id = merged
    return user_id
