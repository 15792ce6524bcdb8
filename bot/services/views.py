"""Plain read-only views handed to front-ends, so no ORM object leaves the service layer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.listing import Gap
from bot.domain.pricing import Token


@dataclass(frozen=True)
class OfferView:
    id: int
    provider: str
    gpu_model: str
    gpu_count: int
    vram_gb: int
    token: Token
    price_per_hour: int
    min_hours: int
    max_hours: int
    region: str
    capacity: int
    reserved: int
    status: str
    reliability_bps: int
    host: str | None
    provider_new: bool = False      # too few closed rentals to judge: shown as "new", not scored
    flag_reason: str | None = None  # while flagged: why (plain words; may quote the host's helper, escaped)
    missing: tuple[Gap, ...] = ()   # what keeps it from being listed (its owner's and staff's views only)
    review: str | None = None       # while flagged: how its owner gets it reviewed (their views only)

    @property
    def available(self) -> int:
        return max(self.capacity - self.reserved, 0)


@dataclass(frozen=True)
class OfferPage:
    offers: list[OfferView]
    total: int
    page: int
    pages: int
    query: str


@dataclass(frozen=True)
class TimelineView:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True)
class RentalView:
    id: int
    escrow_id: str
    offer_id: int
    renter: str
    provider: str
    gpu_summary: str
    token: Token
    hours: int
    price_per_hour: int
    amount: int
    fee: int
    fee_bps: int
    state: str
    deposit_deadline: datetime
    started_at: datetime | None
    ends_at: datetime | None
    timeline: list[TimelineView] = field(default_factory=list)
    renter_id: int | None = None      # the renter's user id (who may pay, extend, end)


@dataclass(frozen=True)
class DisputeView:
    rental_id: int
    opened_by: str
    reason: str
    status: str
    renter_bps: int | None
    note: str | None
    opened_at: datetime


@dataclass(frozen=True)
class HostView:
    name: str
    address: str
    port: int
    login_user: str
    public_key: str
    host_key_fingerprint: str | None
    verified: bool
    gpu_report: str | None = None     # what the host reported, as the provider's machine wrote it (user text)
    offers: tuple[OfferView, ...] = ()            # after /host verify: its offers as they are now
    kept_flagged: tuple[tuple[int, str], ...] = ()  # flagged offers a passing verify did not clear, and why


@dataclass(frozen=True)
class Notice:
    """A queued notice as plain text (for tests and checks; front-ends claim deliveries)."""

    id: int
    target: str            # dm | listings | support
    user_id: int | None
    body: str
    sensitive: bool
    rental_id: int | None = None
    offer_id: int | None = None
    kind: str = "text"
