"""Small records kept in the store's key-value table (button payloads too long for a platform,
chat set-ups): one namespace each, visible to every process of the bot."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.db.models import KeyValue
from bot.services.context import ServiceContext


class KeyValueService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def get(self, namespace: str, key: str) -> str | None:
        async with self.ctx.sessions() as session:
            row = await session.get(KeyValue, (namespace, key))
            return None if row is None else row.value

    async def put(self, namespace: str, key: str, value: str) -> None:
        """Insert or replace. Two processes inserting the same key at once: the loser retries as
        an update, so both calls succeed and the last write wins."""
        for attempt in (1, 2):
            try:
                async with self.ctx.sessions.begin() as session:
                    row = await session.get(KeyValue, (namespace, key))
                    if row is None:
                        session.add(KeyValue(namespace=namespace, key=key, value=value))
                    else:
                        row.value = value
                return
            except IntegrityError:
                if attempt == 2:
                    raise
