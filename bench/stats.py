"""What the benchmarks share to report their figures: one percentile rule, one wall clock."""
from __future__ import annotations

from datetime import datetime, timezone


def pct(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `values`: an observed value, never an interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wall() -> datetime:
    """Wall time in UTC, comparable with the stamps the bot's service clock writes in these runs."""
    return datetime.now(timezone.utc)
