"""Small helpers for service-level tests: people, providers with offers, a database snapshot."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.base import Base
from bot.services import Actor, OfferSpec


async def person(app, name: str) -> Actor:
    return await app.services.users.identify("console", name, name)


async def provider_with_offer(app, name: str = "prov", **spec) -> tuple[Actor, int]:
    actor = await person(app, name)
    await app.services.hosts.add(actor, "rig", f"{name}.example.net", 22, "gpuflow")
    fields = dict(gpu="rtx4090", count=1, vram=24, price="0.5", token="USDC", min_hours=1, max_hours=24,
                  region="eu")
    fields.update(spec)
    view = await app.services.offers.create(actor, OfferSpec(**fields))
    return actor, view.id


async def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused command changed nothing."""
    out: dict[str, list[tuple]] = {}
    async with app.services.ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(r) for r in rows]
    return out
