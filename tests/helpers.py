"""Small helpers for service-level tests: people, providers with offers, a database snapshot."""
from __future__ import annotations

import socket

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from sqlalchemy import select

from bot.chat import Invocation
from bot.db.base import Base
from bot.services import Actor, OfferSpec
from devnet.machines import stand_in_verification


def console(name: str) -> Invocation:
    """A console user's direct message to the bot, as the router receives it."""
    return Invocation(platform="console", platform_user_id=name, display_name=name, is_dm=True)


def closed_port() -> int:
    """A loopback port nothing listens on: bound once and closed again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def verify_over_ssh(app, name: str, host: str = "rig"):
    """`/host verify HOST` typed by `name` with a real SSH pool (one attempt, 2 s to connect), for
    tests whose host is unreachable; the context's own pool is put back afterwards."""
    from bot.ssh import SshLimits, SshPool

    previous, app.services.ctx.ssh = app.services.ctx.ssh, SshPool(SshLimits(attempts=1, connect_timeout=2))
    try:
        return await app.router.handle_text(console(name), f"/host verify {host}")
    finally:
        await app.services.ctx.ssh.aclose()
        app.services.ctx.ssh = previous


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
