"""Small helpers for service-level tests: people, providers with offers, a database snapshot."""
from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from sqlalchemy import select

from bot.db.base import Base
from bot.services import Actor, OfferSpec
from devnet.machines import stand_in_verification


async def person(app, name: str) -> Actor:
    return await app.services.users.identify("console", name, name)


def wallet_key(name: str) -> str:
    """A test wallet's private key, the same for the same name."""
    return "0x" + keccak(text=f"gpuflow-test-wallet:{name}").hex().removeprefix("0x")


async def link_wallet(app, actor: Actor, key: str | None = None) -> str:
    """Link a wallet through the real Sign-In-with-Ethereum path (challenge, signature, verify)."""
    account = Account.from_key(key or wallet_key(actor.name))
    challenge = await app.services.wallets.challenge(actor, account.address)
    signature = Account.sign_message(encode_defunct(text=challenge.message), account.key).signature.to_0x_hex()
    return await app.services.wallets.verify(actor, signature)


async def verify_host(app, actor: Actor, host: str = "rig", gpu: str = "rtx4090", count: int = 1, vram: int = 24):
    """/host verify without a machine: the real recording path with a stand-in result (these tests
    have no sshd; tests/e2e verify against a real one)."""
    return await app.services.hosts.record_verification(
        actor, host, stand_in_verification(gpu, count, vram, machine=f"{actor.user_id}:{host}"))


async def provider_with_offer(app, name: str = "prov", *, listed: bool = True, **spec) -> tuple[Actor, int]:
    """A provider with one offer; `listed` (the default): its host verified and a payout wallet
    linked first, so the offer is listed at once, as a set-up provider's is."""
    actor = await person(app, name)
    await app.services.hosts.add(actor, "rig", f"{name}.example.net", 22, "gpuflow")
    fields = dict(gpu="rtx4090", count=1, vram=24, price="0.5", token="USDC", min_hours=1, max_hours=24,
                  region="eu")
    fields.update(spec)
    if listed:
        await verify_host(app, actor, "rig", fields["gpu"], fields["count"], fields["vram"])
        await link_wallet(app, actor)
    view = await app.services.offers.create(actor, OfferSpec(**fields))
    assert view.status == ("active" if listed else "unlisted"), view
    return actor, view.id


async def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused command changed nothing."""
    out: dict[str, list[tuple]] = {}
    async with app.services.ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(r) for r in rows]
    return out
