"""A provider's reputation, from what happened to the rentals they took (pure: no store).

Each closed rental is one outcome. Completed rentals and disputes the provider won count for them;
a failed GPU check, a machine that could not be reached (a no-show refund) and a dispute lost
count against; a renter ending early counts half each way (it may be the renter's plan or the
machine's fault). Refunds that are nobody's fault on the provider's side (a late or mismatching
deposit, a bot outage) do not count.

The score is a Bayesian average with two virtual completions, so a new provider starts at 100 %
and is not sunk by one bad rental among few; fewer than NEW_BELOW outcomes marks a provider *new*
(shown as such on listings) rather than scoring them as proven.
"""
from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import Iterable


class Outcome(str, enum.Enum):
    COMPLETED = "completed"
    EARLY_END = "early_end"          # the renter ended it before its paid end
    GPU_FAILED = "gpu_failed"        # the GPU check did not find what the listing promised
    NO_SHOW = "no_show"              # the machine could not be reached or set up: refunded
    DISPUTE_WON = "dispute_won"      # support gave the renter less than half
    DISPUTE_LOST = "dispute_lost"    # support gave the renter half or more


# (for, against) in half-outcomes, so the arithmetic stays in integers
_WEIGHTS: dict[Outcome, tuple[int, int]] = {
    Outcome.COMPLETED: (2, 0), Outcome.DISPUTE_WON: (2, 0), Outcome.EARLY_END: (1, 1),
    Outcome.GPU_FAILED: (0, 2), Outcome.NO_SHOW: (0, 2), Outcome.DISPUTE_LOST: (0, 2),
}
PRIOR_FOR = 4          # two virtual completions, in half-outcomes
NEW_BELOW = 3


@dataclass(frozen=True)
class Reputation:
    reliability_bps: int           # 0..10000
    outcomes: int
    counts: dict[str, int]

    @property
    def is_new(self) -> bool:
        return self.outcomes < NEW_BELOW


def score(outcomes: Iterable[Outcome]) -> Reputation:
    counts = Counter(outcomes)
    good = PRIOR_FOR + sum(_WEIGHTS[o][0] * n for o, n in counts.items())
    bad = sum(_WEIGHTS[o][1] * n for o, n in counts.items())
    return Reputation(reliability_bps=good * 10_000 // (good + bad), outcomes=sum(counts.values()),
                      counts={o.value: n for o, n in counts.items()})


def provider_failure(reason: str) -> Outcome:
    """Which failure a provider-side refund was: the GPU check, or the machine itself."""
    return Outcome.GPU_FAILED if reason.startswith("GPU check failed") else Outcome.NO_SHOW


def dispute_outcome(renter_bps: int) -> Outcome:
    return Outcome.DISPUTE_LOST if renter_bps >= 5_000 else Outcome.DISPUTE_WON
