"""The kinds of notice and what each one means for delivery: who hears it, whether it edits a
message that shows its subject, whether it must reach the person by DM.

One table, so fan-out, rendering and front-ends agree on every kind (the way
bot/domain/states.py is one table of transitions).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(str, enum.Enum):
    TEXT = "text"                        # finished prose (the compatibility path of `enqueue`)
    # listings: edit the listing post on every platform
    LISTING_CREATED = "listing-created"
    LISTING_UPDATED = "listing-updated"
    LISTING_PAUSED = "listing-paused"
    LISTING_RESUMED = "listing-resumed"
    LISTING_BOOKED_OUT = "listing-booked-out"
    LISTING_AVAILABLE = "listing-available"
    LISTING_REMOVED = "listing-removed"
    # a rental's progress: edited into the message that showed the deposit request
    DEPOSIT_SEEN = "deposit-seen"
    FUNDED = "funded"
    PROVISIONING = "provisioning"
    GPU_VERIFIED = "gpu-verified"
    READY = "ready"
    CREDENTIALS = "credentials"          # sensitive: the SSH login, by DM only
    ENDING_SOON = "ending-soon"
    ENDED = "ended"
    REFUNDED = "refunded"
    # a rental's other news for the person
    DEPOSIT_REMINDER = "deposit-reminder"
    DEPOSIT_MISMATCH = "deposit-mismatch"
    EXTENDED = "extended"
    PROVIDER_FAILED = "provider-failed"
    ACCESS_FAILED = "access-failed"      # running on chain, but its access could not be set up
    STARTED = "started"                  # the clock started on chain after the login was handed over
    DISPUTE_ACCESS = "dispute-access"
    DISPUTE_RESOLVED = "dispute-resolved"
    # support
    DISPUTE_OPENED = "dispute-opened"
    DISPUTE_TIMEOUT = "dispute-timeout"
    SETTLED_UNRESOLVED = "settled-unresolved"
    UNKNOWN_DEPOSIT = "unknown-deposit"
    ACCESS_FAILED_SUPPORT = "access-failed-support"
    DEPOSIT_MISMATCH_SUPPORT = "deposit-mismatch-support"
    CONTRACT_DISAGREES = "contract-disagrees"
    DELIVERY_FAILED = "delivery-failed"
    # wallet conversations
    WALLET = "wallet"


class Audience(str, enum.Enum):
    PERSON = "person"        # a DM to one user (the platform of the rental, else where last seen)
    LISTINGS = "listings"    # every listings place of every enabled platform
    SUPPORT = "support"      # every support place of every enabled platform


@dataclass(frozen=True)
class KindSpec:
    audience: Audience
    action: str = "post"               # post | upsert (post, then edit that message) | delete
    progress: bool = False             # edited into the rental's progress message, where one is known
    dm: bool = True                    # also tell the person by DM (progress-only kinds do not)
    thread: bool = False               # support: the front-end opens a thread/topic for the rental
    sensitive: bool = False            # its data is sealed and goes to a DM only


K, A = Kind, Audience
PROGRESS_STEPS: tuple[Kind, ...] = (K.DEPOSIT_SEEN, K.FUNDED, K.PROVISIONING, K.GPU_VERIFIED, K.READY,
                                    K.ENDING_SOON, K.ENDED)

SPECS: dict[Kind, KindSpec] = {
    K.TEXT: KindSpec(A.PERSON),
    K.LISTING_CREATED: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_UPDATED: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_PAUSED: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_RESUMED: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_BOOKED_OUT: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_AVAILABLE: KindSpec(A.LISTINGS, "upsert"),
    K.LISTING_REMOVED: KindSpec(A.LISTINGS, "delete"),
    K.DEPOSIT_SEEN: KindSpec(A.PERSON, progress=True, dm=False),
    K.FUNDED: KindSpec(A.PERSON, progress=True),
    K.PROVISIONING: KindSpec(A.PERSON, progress=True, dm=False),
    K.GPU_VERIFIED: KindSpec(A.PERSON, progress=True, dm=False),
    K.READY: KindSpec(A.PERSON, progress=True, dm=False),     # the credentials DM is its own notice
    K.CREDENTIALS: KindSpec(A.PERSON, sensitive=True),
    K.ENDING_SOON: KindSpec(A.PERSON, progress=True),
    K.ENDED: KindSpec(A.PERSON, progress=True),
    K.REFUNDED: KindSpec(A.PERSON, progress=True),           # ends the progress message too
    K.DEPOSIT_REMINDER: KindSpec(A.PERSON),
    K.DEPOSIT_MISMATCH: KindSpec(A.PERSON),
    K.EXTENDED: KindSpec(A.PERSON),
    K.PROVIDER_FAILED: KindSpec(A.PERSON),
    K.ACCESS_FAILED: KindSpec(A.PERSON),
    K.STARTED: KindSpec(A.PERSON),
    K.DISPUTE_ACCESS: KindSpec(A.PERSON),
    K.DISPUTE_RESOLVED: KindSpec(A.PERSON),
    K.DISPUTE_OPENED: KindSpec(A.SUPPORT, thread=True),
    K.DISPUTE_TIMEOUT: KindSpec(A.SUPPORT),
    K.SETTLED_UNRESOLVED: KindSpec(A.SUPPORT),
    K.UNKNOWN_DEPOSIT: KindSpec(A.SUPPORT),
    K.ACCESS_FAILED_SUPPORT: KindSpec(A.SUPPORT),
    K.DEPOSIT_MISMATCH_SUPPORT: KindSpec(A.SUPPORT),
    K.CONTRACT_DISAGREES: KindSpec(A.SUPPORT),
    K.DELIVERY_FAILED: KindSpec(A.SUPPORT),
    K.WALLET: KindSpec(A.PERSON),
}


def spec_of(kind: Kind | str) -> KindSpec:
    return SPECS[Kind(kind)]
