"""When an offer may be listed, and what a flagged offer needs to be listed again.

An offer is shown to renters (in /offers, in the listings channels, rentable with /rent) only while
its host is verified (the bot logged in with the pinned host key and read the GPUs) and its
provider has linked the payout wallet the escrow pays. Until then it is saved as "unlisted" and
its owner is told exactly what is missing and which command fixes it; the moment the last gap
closes, the offer is listed by itself (bot.services.listing).

A flagged offer (paused by the worker after deliveries failed, see
bot/services/fulfilment/refunding.py) protects renters from paying for a machine that cannot be
handed over. A passing /host verify shows the machine answers with its pinned key, the bot's
login is unprivileged and the helper runs; if its GPUs also match the offer, the provider may
clear the flag themselves, a bounded number of times: every flag also counts against the
provider's reputation, and after SELF_REVIEWS flags of one offer a person (support) decides.
"""
from __future__ import annotations

from dataclasses import dataclass

ACTIVE, UNLISTED, PAUSED, FLAGGED, REMOVED = "active", "unlisted", "paused", "flagged", "removed"
SELF_REVIEWS = 2          # flags of one offer its provider may clear with /host verify


@dataclass(frozen=True)
class Gap:
    """One thing missing before an offer can be listed: in plain words, with the command that fixes it."""

    what: str
    fix: str

    def text(self) -> str:
        return f"{self.what}: {self.fix}"


def listing_gaps(host_name: str | None, host_verified: bool, wallet_linked: bool) -> list[Gap]:
    gaps = []
    if host_name is None:
        gaps.append(Gap("the offer has no host", "/offer edit <offer> host=<name>"))
    elif not host_verified:
        gaps.append(Gap(f"host {host_name} is not verified", f"/host verify {host_name}"))
    if not wallet_linked:
        gaps.append(Gap("no payout wallet is linked", "/wallet link"))
    return gaps


def listed_status(wanted: str, gaps: list[Gap]) -> str:
    """The status an offer gets when its provider wants it `wanted`: active only without gaps."""
    return UNLISTED if wanted == ACTIVE and gaps else wanted


def may_self_review(flags: int) -> bool:
    return flags <= SELF_REVIEWS


def review_path(host_name: str | None, flags: int) -> str:
    """How a flagged offer gets reviewed, in one sentence for its owner."""
    host = host_name or "<host>"
    if may_self_review(flags):
        return (f"fix the machine, then run /host verify {host}: when it passes and the GPUs match the offer, "
                f"the offer is listed again; or ask support")
    return (f"it was flagged {flags} times, so support has to review it: fix the machine, run /host verify {host} "
            "and ask support")
