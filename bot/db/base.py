"""Declarative base shared by every table, and column types that keep money exact.

Every model module (bot/db/models.py, bot/chain/models.py, bot/wallet/models.py) derives from
`Base`, so one metadata (and one Alembic history) covers the whole schema.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TokenAmount(TypeDecorator):
    """An unsigned integer amount in token base units, of any size (uint256).

    Stored as decimal digits: SQLite's NUMERIC would silently turn amounts above 2**63 into
    floats, and 18-decimal tokens pass that bound at ~9.2 tokens.
    """

    impl = String(78)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 2**256:
            raise ValueError(f"token amount must be an int in [0, 2**256): {value!r}")
        return str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
