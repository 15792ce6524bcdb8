"""The offer query language, in the spirit of Vast.ai's `search offers`.

    gpu=rtx4090 count>=2 vram>=24 price<=0.8 region=eu sort=price page=2

Terms are `field op value` separated by spaces; `sort=field` or `sort=-field` (repeatable,
first wins), `page=N`, `limit=N`. Parsing is pure: it produces typed filters that the store
turns into SQL, and every error names the term that is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable

from bot.domain.errors import InvalidInput

OPS = ("<=", ">=", "!=", "=", "<", ">")
_TERM_RE = re.compile(r"([A-Za-z_]+)\s*(<=|>=|!=|==|=|<|>)\s*(\S+)")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_QUERY_LENGTH = 500
MAX_TERMS = 20
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
PRICE_SCALE = 9     # price filters/sorts compare in units of 1e-9 token


def normalize_gpu(text: str) -> str:
    """'RTX 4090', 'rtx-4090', 'NVIDIA GeForce RTX 4090' -> 'rtx4090'."""
    t = text.lower().replace("nvidia", "").replace("geforce", "")
    return re.sub(r"[^a-z0-9]", "", t)


def _parse_int(value: str, lo: int, hi: int, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise InvalidInput(f"{what} must be a whole number (got {value[:20]!r})")
    n = int(value)
    if not lo <= n <= hi:
        raise InvalidInput(f"{what} must be between {lo} and {hi} (got {n})")
    return n


def _parse_price(value: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,9})?|\.[0-9]{1,9}", value):
        raise InvalidInput(f"{what} must be a number with at most {PRICE_SCALE} decimals, like 0.8 (got {value[:20]!r})")
    return int(Decimal(value).scaleb(PRICE_SCALE))


def _parse_reliability(value: str, what: str) -> int:
    """'0.95' or '95%' -> 9500 basis points."""
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,6})?%?|\.[0-9]{1,6}", value):
        raise InvalidInput(f"{what} must be a fraction like 0.95 or a percentage like 95% (got {value[:20]!r})")
    try:
        if value.endswith("%"):
            d = Decimal(value[:-1]) / 100
        else:
            d = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{what} must be a fraction like 0.95 or a percentage like 95% (got {value[:20]!r})") from None
    if not d.is_finite() or not 0 <= d <= 1:
        raise InvalidInput(f"{what} must be between 0 and 1 (or 0% and 100%)")
    return int(d * 10_000)


def _parse_name(value: str, what: str) -> str:
    v = value.lower()
    if not _NAME_RE.fullmatch(v):
        raise InvalidInput(f"{what} must be letters, digits, '.', '_' or '-' (got {value[:20]!r})")
    return v


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str                      # "text" allows = and != only; "number" allows all ops
    parse: Callable[[str, str], object]
    help: str


FIELDS: dict[str, FieldSpec] = {
    "gpu": FieldSpec("gpu", "text", lambda v, w: normalize_gpu(v) or _bad(w, v), "GPU model, e.g. rtx4090, a100"),
    "count": FieldSpec("count", "number", lambda v, w: _parse_int(v, 0, 64, w), "number of GPUs"),
    "vram": FieldSpec("vram", "number", lambda v, w: _parse_int(v, 0, 4096, w), "memory per GPU in GB"),
    "price": FieldSpec("price", "number", _parse_price, "price per hour in the offer's token"),
    "region": FieldSpec("region", "text", _parse_name, "region code, e.g. eu, us-east"),
    "provider": FieldSpec("provider", "text", _parse_name, "provider name"),
    "reliability": FieldSpec("reliability", "number", _parse_reliability, "share of rentals delivered, 0..1"),
}


def _bad(what: str, value: str):
    raise InvalidInput(f"{what}: {value[:20]!r} is not a usable value")


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: object


@dataclass(frozen=True)
class OfferQuery:
    filters: tuple[Filter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()   # (field, descending)
    page: int = 1
    limit: int = DEFAULT_LIMIT

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def parse_query(text: str) -> OfferQuery:
    """Parse a query string; raise InvalidInput naming the first bad term."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"query is too long (at most {MAX_QUERY_LENGTH} characters)")
    terms = text.split()
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"too many terms (at most {MAX_TERMS})")
    filters: list[Filter] = []
    sort: list[tuple[str, bool]] = []
    page, limit = 1, DEFAULT_LIMIT
    for term in terms:
        m = _TERM_RE.fullmatch(term)
        if not m:
            raise InvalidInput(
                f"{term[:40]!r} is not a term: write field, operator, value with no spaces, "
                f"like gpu=rtx4090 or price<=0.8 (fields: {', '.join(FIELDS)})"
            )
        name, op, value = m.group(1).lower(), m.group(2), m.group(3)
        op = "=" if op == "==" else op
        where = f"in {term[:40]!r}"
        if name in ("sort", "page", "limit"):
            if op != "=":
                raise InvalidInput(f"{name} takes '=' {where}")
            if name == "sort":
                desc = value.startswith("-")
                key = value.lstrip("+-").lower()
                if key not in FIELDS:
                    raise InvalidInput(f"cannot sort by {key[:20]!r} {where} (fields: {', '.join(FIELDS)})")
                if all(k != key for k, _ in sort):
                    sort.append((key, desc))
            elif name == "page":
                page = _parse_int(value, 1, 10_000, f"page {where}")
            else:
                limit = _parse_int(value, 1, MAX_LIMIT, f"limit {where}")
            continue
        spec = FIELDS.get(name)
        if spec is None:
            raise InvalidInput(f"unknown field {name[:20]!r} {where} (fields: {', '.join(FIELDS)}, sort, page, limit)")
        if spec.kind == "text" and op not in ("=", "!="):
            raise InvalidInput(f"{name} only takes = or != {where}")
        filters.append(Filter(name, op, spec.parse(value, f"{name} {where}")))
    return OfferQuery(tuple(filters), tuple(sort), page, limit)


def describe(query: OfferQuery) -> str:
    """A canonical text form: parse(describe(q)) == q for the parts a user can write."""
    parts = [f"{f.field}{f.op}{_show_value(f)}" for f in query.filters]
    parts += [f"sort={'-' if d else ''}{k}" for k, d in query.sort]
    if query.page != 1:
        parts.append(f"page={query.page}")
    if query.limit != DEFAULT_LIMIT:
        parts.append(f"limit={query.limit}")
    return " ".join(parts)


def _show_value(f: Filter) -> str:
    if f.field == "price":
        d = Decimal(f.value).scaleb(-PRICE_SCALE)  # type: ignore[arg-type]
        text = format(d, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if f.field == "reliability":
        return f"{Decimal(f.value) / 100}%"  # type: ignore[arg-type]
    return str(f.value)
