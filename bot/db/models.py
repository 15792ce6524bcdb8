"""The store's tables. Money columns are TokenAmount (exact integers in base units).

Import this module (not the submodules) to get the whole schema: it also imports the chain and
wallet tables so that `Base.metadata` — and therefore Alembic — sees every table.
"""
from __future__ import annotations

import importlib
from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, TokenAmount, UTCDateTime, utcnow


class User(Base):
    """A person. Known on one or more platforms; a linked wallet address is their identity."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    wallet_address: Mapped[str | None] = mapped_column(String(42), unique=True)
    wallet_linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ssh_public_key: Mapped[str | None] = mapped_column(Text)
    wallet_session: Mapped[str | None] = mapped_column(String(64))   # WalletConnect session topic
    is_support: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))   # its accounts joined that
    #                                     user after a wallet sign-in (bot.services.identity)

    identities: Mapped[list["Identity"]] = relationship(back_populates="user")


class Identity(Base):
    """One platform account (discord:123, telegram:456, console:alice) of a user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # account notices go where
    #                                                                       the person was last seen

    user: Mapped[User] = relationship(back_populates="identities")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    delivered_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    reliability_bps: Mapped[int] = mapped_column(Integer, default=10_000, server_default="10000")  # see
    outcome_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")    # bot.domain.reputation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class Host(Base):
    """A provider's machine. The bot's SSH private key for it is sealed with the master key."""

    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("provider_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    login_user: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(Text)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    host_key: Mapped[str | None] = mapped_column(Text)            # pinned "type base64"
    host_key_fingerprint: Mapped[str | None] = mapped_column(String(100))
    gpu_report: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Offer(Base):
    """A listing. `reserved` counts rentals holding capacity; it only moves by conditional
    UPDATEs (reserved < capacity), so two renters can never both get the last slot."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("reserved >= 0 AND reserved <= capacity", name="reserved_within_capacity"),
        CheckConstraint("min_hours >= 1 AND max_hours >= min_hours", name="hours_range"),
        # covers every /offers filter, so browsing scans the index and never the table
        Index("ix_offers_browse", "status", "gpu_key", "region", "gpu_count", "vram_gb", "price_nano",
              "reliability_bps", "provider_id"),
        # the same columns in price order: cheapest-first pages stop after `limit` hits
        Index("ix_offers_by_price", "status", "price_nano", "gpu_key", "region", "gpu_count", "vram_gb",
              "reliability_bps", "provider_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    gpu_model: Mapped[str] = mapped_column(String(64))
    gpu_key: Mapped[str] = mapped_column(String(64))
    gpu_count: Mapped[int] = mapped_column(Integer)
    vram_gb: Mapped[int] = mapped_column(Integer)
    token_symbol: Mapped[str] = mapped_column(String(12))
    price_per_hour: Mapped[int] = mapped_column(TokenAmount())
    price_nano: Mapped[int] = mapped_column(BigInteger)   # price in 1e-9 tokens: for filter/sort only
    min_hours: Mapped[int] = mapped_column(Integer)
    max_hours: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(32))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")   # active|unlisted|paused|removed|flagged
    flag_reason: Mapped[str | None] = mapped_column(Text)   # why it was flagged (plain words), while flagged
    flags: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # times flagged (self-review bound)
    reliability_bps: Mapped[int] = mapped_column(Integer, default=10_000)   # the provider's, copied for the index
    provider_outcomes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # likewise
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()


class Rental(Base):
    __tablename__ = "rentals"
    __table_args__ = (Index(None, "state", "deposit_deadline"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escrow_id: Mapped[str] = mapped_column(String(66), unique=True)   # bytes32 hex used on chain
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    renter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    token_symbol: Mapped[str] = mapped_column(String(12))
    token_address: Mapped[str | None] = mapped_column(String(42))
    token_decimals: Mapped[int] = mapped_column(Integer)
    price_per_hour: Mapped[int] = mapped_column(TokenAmount())
    hours: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(TokenAmount())
    fee_bps: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int] = mapped_column(TokenAmount())
    state: Mapped[str] = mapped_column(String(24), index=True)
    deposit_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unix_user: Mapped[str | None] = mapped_column(String(32))
    credentials_sealed: Mapped[str | None] = mapped_column(Text)     # wiped when the rental closes
    refund_reason: Mapped[str | None] = mapped_column(Text)          # set: the bot must cancel on chain
    renter_address: Mapped[str | None] = mapped_column(String(42))   # quoted wallet addresses: the deposit
    provider_address: Mapped[str | None] = mapped_column(String(42)) # must come from / pay exactly these
    quote_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the last signed deposit quote:
    quote_signature: Mapped[str | None] = mapped_column(String(132))         # the operator's EIP-712 signature
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # provisioning tries
    # when a worker may next take up the rental's current step: a claim's lease (a crashed worker's
    # claim runs out) or the next try after a transient failure (an unreachable host)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # a matching deposit was seen in a block not yet confirmed: the account is prepared meanwhile
    # (nothing is handed over, nothing is sent on chain before the deposit is confirmed)
    deposit_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # SSH access removed
    ssh_public_key: Mapped[str | None] = mapped_column(Text)   # the key installed for it (public half only)
    host_expiry: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the host's key expires, as last set
    outcome: Mapped[str | None] = mapped_column(String(16))   # a provider-side failure, for reputation
    platform: Mapped[str | None] = mapped_column(String(16))   # where it was rented: its DMs go there
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    offer: Mapped[Offer] = relationship()
    renter: Mapped[User] = relationship(foreign_keys=[renter_id])


class WalletChallenge(Base):
    """A Sign-In-with-Ethereum message the bot asked someone to sign; usable once, until expiry."""

    __tablename__ = "wallet_challenges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    message: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyValue(Base):
    """Small sealed records kept across restarts (WalletConnect sessions and identity)."""

    __tablename__ = "kv_store"
    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TimelineEntry(Base):
    """Append-only history of a rental: every transition, message and decision, in order."""

    __tablename__ = "rental_timeline"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rental_id: Mapped[int] = mapped_column(ForeignKey("rentals.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(Text, default="")


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rental_id: Mapped[int] = mapped_column(ForeignKey("rentals.id"), unique=True)
    opened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")    # open|resolved
    renter_bps: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    thread_ref: Mapped[str | None] = mapped_column(String(128))        # platform thread/topic id
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Tables owned by other packages; importing them registers them on Base.metadata.
for _module in ("bot.chain.models", "bot.wallet.models", "bot.delivery.models"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if not (_exc.name and _module.startswith(_exc.name)):
            raise
