"""Crash safety with real processes: the bot's back office runs as a process of its own and is
SIGKILLed at each named step of a rental's life (bot.faults), then started again. Each rental
must still end correctly, with every effect exactly once: on chain (one Started, one Settled),
on the host (one account while it runs, none after) and in the store (one credentials message).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import open_app
from bot.db.models import Rental, TimelineEntry
from bot.delivery.models import DeliveryRow, NoticeRow
from bot.faults import POINTS
from tests.e2e.conftest import DISPUTE_WINDOW, Market
from tests.support.bot_process import write_clock

ROOT = Path(__file__).resolve().parents[2]
LATE_POINTS = {"end-due", "revoked", "settle-sent"}       # reached only once the paid hour is over


def child_settings(m: Market, path: Path) -> None:
    """The bot process's configuration, secrets included (it stands for the operator's environment)."""
    data = m.settings.model_dump(mode="json")
    for name in ("master_key", "operator_key", "arbiter_key"):
        secret = getattr(m.settings, name)
        data[name] = secret.get_secret_value() if secret is not None else None
    data["chain"]["poll_interval_s"] = 0.2
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def spawn(m: Market, settings: Path, clock: Path, kill_at: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    if kill_at:
        env["GPUFLOW_FAULT_KILL_AT"] = kill_at
    log = open(settings.with_name(f"bot-{kill_at or 'restart'}.log"), "wb")
    return subprocess.Popen([sys.executable, "-m", "tests.support.bot_process", str(settings), str(clock),
                             str(m.start_block)], cwd=ROOT, env=env, stdout=log, stderr=log)


class World:
    """The world around the bot: blocks keep coming; once the rental runs (seen once), the host's
    renter accounts are counted and its hour and the dispute window pass on both clocks."""

    def __init__(self, m: Market, rental_id: int, clock: Path) -> None:
        self.m, self.rental_id, self.clock = m, rental_id, clock
        self.warped = False
        self.accounts: list[int] = []

    async def drive(self, proc: subprocess.Popen, *, until, seconds: float) -> None:
        """Until `until(rental)` holds or the process exits."""
        m = self.m
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m.mine()
            write_clock(self.clock, m.chain_now())
            rental = await m.rental(self.rental_id)
            if until(rental) or proc.poll() is not None:
                return
            if rental.state == "active" and not self.warped:
                self.accounts.append(len(m.sshd.renters()))
                m.anvil.rpc("evm_increaseTime", [3600 + DISPUTE_WINDOW + 60])
                self.warped = True
            await asyncio.sleep(0.3)
        raise AssertionError(f"timed out: rental is {(await m.rental(self.rental_id)).state}")


# every point on SQLite; on PostgreSQL the ones around chain transactions and the host
CASES = [("sqlite", p) for p in POINTS] + [("postgres", p) for p in ("account-created", "start-sent", "settle-sent")]


@pytest.mark.parametrize(("database_url", "point"), CASES, indirect=["database_url"])
async def test_a_kill_at_each_step_still_ends_the_rental_once(market: Market, point: str, tmp_path: Path):
    m = market
    _, renter, offer_id = await m.market_with_offer()
    rental_id, reply = await m.rent(renter, offer_id)
    await m.pay_reply(renter, reply)
    escrow_id = (await m.rental(rental_id)).escrow_id
    await m.runtime.close()                         # from here on only the separate process runs the bot
    m.runtime = await open_app_as_runtime(m)
    settings, clock = tmp_path / "bot-settings.json", tmp_path / "clock"
    child_settings(m, settings)
    write_clock(clock, m.chain_now())

    world = World(m, rental_id, clock)
    first = spawn(m, settings, clock, point)
    try:
        await world.drive(first, until=lambda r: False, seconds=120)
        assert first.wait(10) == -signal.SIGKILL, f"the bot never reached {point}"
    finally:
        if first.poll() is None:
            first.kill()
    second = spawn(m, settings, clock, None)
    try:
        await world.drive(second, until=lambda r: r.state == "settled" and r.revoked_at is not None, seconds=150)
        assert second.poll() is None, "the restarted bot died"
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()

    # the chain: one start, one settlement, nothing cancelled; the provider paid for the whole hour
    assert len(await m.escrow_events("Started", escrow_id)) == 1
    assert len(await m.escrow_events("Settled", escrow_id)) == 1
    assert await m.escrow_events("Cancelled", escrow_id) == []
    # the host: one account while it ran, none after
    assert world.accounts == [1] and m.sshd.renters() == []
    # the store: one credentials message, one provisioning, one start, one revocation in the timeline
    async with m.runtime.services.ctx.sessions() as session:
        creds = (await session.scalars(select(NoticeRow.id).where(
            NoticeRow.rental_id == rental_id, NoticeRow.kind == "credentials"))).all()
        creds_deliveries = await session.scalar(select(func.count()).select_from(DeliveryRow).where(
            DeliveryRow.notice_id.in_(creds)))
        kinds = (await session.scalars(select(TimelineEntry.kind).where(TimelineEntry.rental_id == rental_id))).all()
    assert len(creds) == 1 and creds_deliveries == 1     # one message, to one place: the renter's DM
    for kind in ("deposit_confirmed", "provisioned", "start", "settle"):
        assert kinds.count(kind) == 1, (kind, kinds)


async def open_app_as_runtime(m: Market):
    """The test's own view of the store (no back office: the separate process is the bot)."""
    return await open_app(m.settings, migrate=False, clock=m.clock)
