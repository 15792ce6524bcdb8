"""Money: integers in token base units everywhere, Decimal only at the edges (parse, show).

The platform fee is charged on the provider's part, in basis points, rounded down, exactly as
the escrow contract does it, so a quote shown in chat equals what the contract will pay.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from bot.domain.errors import InvalidInput

BPS = 10_000
MAX_FEE_BPS = 1_000          # the contract's hard cap (10 %)
MAX_DECIMALS = 36
UINT256_MAX = 2**256 - 1

# Enough digits for any uint256 with 36 decimals: the default context (28 digits) would round.
_EXACT = Context(prec=120)
_AMOUNT_RE = re.compile(r"[0-9]{1,78}(?:\.[0-9]{1,36})?|\.[0-9]{1,36}")   # ASCII digits only


@dataclass(frozen=True)
class Token:
    """A token the market accepts. address None means the chain's native coin."""

    symbol: str
    decimals: int
    address: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= MAX_DECIMALS:
            raise ValueError(f"token {self.symbol}: decimals must be 0..{MAX_DECIMALS}")

    @property
    def is_native(self) -> bool:
        return self.address is None


def parse_amount(text: str, decimals: int, *, what: str = "amount") -> int:
    """'0.8' with 6 decimals -> 800000. Rejects signs, exponents, and digits past `decimals`."""
    cleaned = text.strip()
    if not _AMOUNT_RE.fullmatch(cleaned):
        raise InvalidInput(f"{what} must be a plain positive number like 0.8 (got {_show(text)})")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"{what} must be a plain number (got {_show(text)})") from None
    scaled = value.scaleb(decimals, context=_EXACT)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{what} has more than {decimals} decimal places (got {_show(text)})")
    base = int(scaled)
    if base > UINT256_MAX:
        raise InvalidInput(f"{what} is too large")
    return base


def to_decimal(base_units: int, decimals: int) -> Decimal:
    return Decimal(base_units).scaleb(-decimals, context=_EXACT)


def format_amount(base_units: int, token: Token) -> str:
    """Exact, without trailing zeros: 800000 (6 dp) -> '0.8 USDC'."""
    value = to_decimal(base_units, token.decimals)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {token.symbol}"


@dataclass(frozen=True)
class Quote:
    """What a rental costs, in base units; parts always sum to `total`."""

    hours: int
    price_per_hour: int
    total: int
    fee: int
    provider_net: int
    fee_bps: int

    def __post_init__(self) -> None:
        assert self.fee + self.provider_net == self.total


def quote(price_per_hour: int, hours: int, fee_bps: int) -> Quote:
    if not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0:
        raise InvalidInput("hours must be a whole number greater than 0")
    if price_per_hour <= 0:
        raise InvalidInput("price per hour must be greater than 0")
    if not 0 <= fee_bps <= MAX_FEE_BPS:
        raise InvalidInput(f"fee must be between 0 and {MAX_FEE_BPS} basis points")
    total = price_per_hour * hours
    if total > UINT256_MAX:
        raise InvalidInput("that rental is too large")
    fee = fee_share(total, fee_bps)
    return Quote(hours=hours, price_per_hour=price_per_hour, total=total, fee=fee,
                 provider_net=total - fee, fee_bps=fee_bps)


def fee_share(provider_gross: int, fee_bps: int) -> int:
    """Fee on the provider's gross part, rounded down (the contract's rule)."""
    return provider_gross * fee_bps // BPS


def pro_rata(total: int, elapsed: int, duration: int, fee_bps: int) -> tuple[int, int, int]:
    """(provider_net, renter_refund, fee) for a rental that ran `elapsed` of `duration` seconds.

    Mirrors GpuEscrow.settle: provider gross = total*min(elapsed,duration)//duration; the renter
    gets the rest; the fee comes out of the provider's gross. The three parts sum to `total`.
    """
    if duration <= 0:
        raise ValueError("duration must be positive")
    used = min(max(elapsed, 0), duration)
    gross = total * used // duration
    fee = fee_share(gross, fee_bps)
    return gross - fee, total - gross, fee


def _show(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)
