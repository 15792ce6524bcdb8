"""Benchmark: deposit confirmed -> the SSH login's DM received by Discord, for 1 rental and for 20
at once.

Run as root from the repo root: .venv/bin/python bench/discord_credentials.py [rounds]
Real parts: anvil with the deployed escrow, a local sshd set up like a provider host, SQLite, the
bot's Runtime driven by its tick, and the product's Discord front-end (the real discord.py client)
delivering through the loopback Discord. The renter is a Discord member; the clock from the
timeline's "deposit_confirmed" stamp (service clock, running in real time) to the moment the
emulator stores the credentials DM. Ticks run back to back with confirmations=0, so the figures
are the bot's own work (provisioning over SSH, the start transaction, the delivery queue and
Discord's REST round trips); a deployment adds its poll interval and the chain's block time.
"""
from __future__ import annotations

import asyncio
import logging
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bench.rental_flow import RunningClock, pct  # noqa: E402
from bot.chain.deploy import deploy_escrow  # noqa: E402
from bot.chain.rpc import make_web3  # noqa: E402
from bot.config import Settings, TokenSettings  # noqa: E402
from bot.crypto import generate_master_key  # noqa: E402
from bot.db.models import TimelineEntry  # noqa: E402
from devnet.anvil import start_anvil  # noqa: E402
from devnet.discord import DiscordEmulator, point_discord_py, restore_discord_py  # noqa: E402
from devnet.sshd import start_sshd  # noqa: E402
from handlers.discord.client import DiscordFrontend  # noqa: E402
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT,  # noqa: E402
                                DISPUTE_WINDOW, FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, PROVIDER_KEY,
                                RENTER_KEY, START_WINDOW, Market, Person)

MAX_TICKS = 80


class DmClock:
    """Stamps, with the service clock, each DM the emulator stores that carries a login (the
    renter has an SSH key of their own here, so no key file is attached)."""

    def __init__(self, emu: DiscordEmulator, clock) -> None:
        self.at: dict[int, float] = {}
        original = emu.message_posted

        def posted(message) -> None:
            channel = emu.state.channels[message.channel_id]
            found = re.search(r"Rental #([0-9]+) is ready", message.content + str(message.embeds))
            if channel.is_dm and found:
                self.at.setdefault(int(found.group(1)), clock().timestamp())
            original(message)
        emu.message_posted = posted          # type: ignore[method-assign]


async def confirmed_at(m: Market, rental_id: int) -> float:
    async with m.runtime.services.ctx.sessions() as session:
        rows = (await session.scalars(select(TimelineEntry).where(TimelineEntry.rental_id == rental_id))).all()
    return next(r.at.timestamp() for r in rows if r.kind == "deposit_confirmed")


async def round_of(m: Market, renter: Person, offer_id: int, n: int, dms: DmClock) -> list[float]:
    ids = []
    for _ in range(n):
        reply = await m.ok(renter, f"/rent {offer_id} 1")
        ids.append(int(re.search(r"Rental #([0-9]+) reserved", reply.text).group(1)))
        await m.pay_reply(renter, reply.text)
    for _ in range(MAX_TICKS):
        if all(rid in dms.at for rid in ids):
            break
        await m.runtime.tick()
        await asyncio.sleep(0.05)          # the delivery loop shares the event loop
    else:
        raise SystemExit(f"not every login delivered after {MAX_TICKS} ticks: {sorted(dms.at)} of {ids}")
    return [(dms.at[rid] - await confirmed_at(m, rid)) * 1000 for rid in ids]


async def main(rounds: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    server, anvil = start_sshd(), start_anvil()
    tmp = tempfile.TemporaryDirectory(prefix="gpuflow-bench-")
    w3 = make_web3(anvil.rpc_url)
    emu = DiscordEmulator()
    await emu.start()
    old = point_discord_py(emu)
    m = front = task = None
    try:
        guild = emu.add_guild("Bench", channels=["general"])
        member = emu.add_user("ren")
        emu.add_member(guild, member)
        address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY],
                                      arbiter=ADDRESS[ARBITER_KEY], admin=ADDRESS[DEPLOYER_KEY],
                                      fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS, start_window=START_WINDOW,
                                      dispute_window=DISPUTE_WINDOW, dispute_timeout=DISPUTE_TIMEOUT,
                                      max_duration=MAX_DURATION)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp.name}/bench.db", data_dir=Path(tmp.name),
            master_key=generate_master_key(), operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY, fee_bps=FEE_BPS,
            chain={"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address, "confirmations": 0,
                   "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
                   "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
                   "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
            ssh={"helper_path": server.helper},
            discord={"enabled": True, "guild_id": guild.id, "rest_base_url": emu.rest_base,
                     "gateway_url": emu.gateway_url},
            discord_token=emu.token)
        m = Market(anvil=anvil, sshd=server, settings=settings, clock=RunningClock(), tmp_path=Path(tmp.name),
                   escrow_address=address, start_block=await w3.eth.block_number, w3=w3)
        m.sync_clock()
        await m.start()
        front = DiscordFrontend(m.runtime, settings.discord, emu.token)
        task = await front.start()
        await asyncio.wait_for(front.ready.wait(), 60)
        dms = DmClock(emu, m.clock)
        provider = await m.person("prov", PROVIDER_KEY)
        renter = Person(await m.runtime.services.users.identify("discord", str(member.id), "ren"), RENTER_KEY)
        await m.link_wallet(provider)
        await m.link_wallet(renter)
        await m.set_ssh_key(renter)
        await m.add_host(provider)
        reply = await m.ok(provider, f"/offer create gpu=rtx4090 count=1 vram=24 price=0.01 token=ETH hours=1-24 "
                                     f"region=eu host=rig capacity={rounds + 20 * max(1, rounds // 10)}")
        offer_id = int(re.search(r"Offer #([0-9]+) is listed", reply.text).group(1))
        single = [ms for _ in range(rounds) for ms in await round_of(m, renter, offer_id, 1, dms)]
        burst = [ms for _ in range(max(1, rounds // 10)) for ms in await round_of(m, renter, offer_id, 20, dms)]
        print("deposit confirmed -> credentials DM stored by the loopback Discord (SQLite, confirmations=0, "
              "ticks back to back, the real discord.py client)")
        for label, values in ((f"1 rental   (n={len(single):3d})", single), (f"20 at once (n={len(burst):3d})", burst)):
            print(f"{label}: p50 {statistics.median(values):6.0f} ms, p95 {pct(values, .95):6.0f} ms, "
                  f"max {max(values):6.0f} ms")
        print(f"burst/single p50 ratio: {statistics.median(burst) / statistics.median(single):.1f}x; "
              f"DMs sent: {len(dms.at)}; emulator violations: {len(emu.violations)}")
    finally:
        if front is not None:
            await front.close()
            await asyncio.wait({task}, timeout=10)
        if m is not None and m.runtime is not None:
            await m.runtime.close()
        restore_discord_py(old)
        await emu.stop()
        await w3.provider.disconnect()
        anvil.stop()
        server.stop()
        tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
