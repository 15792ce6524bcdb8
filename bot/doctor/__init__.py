"""`gpuflow-bot doctor`: every outside part the bot needs, checked against the live configuration.

Why: a misconfigured bot fails late and far from the cause (a refund hours later because the
operator had no gas, a deaf WalletConnect because the project id was wrong). Each check says in
one line what it found; expected failures are described, never raised.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.doctor.explain import describe_failure, is_expected

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str          # "ok" | "FAIL" | "skip"
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        return f"{self.status:>4}  {self.name}: {self.detail}"


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, "FAIL", detail)


def skip(name: str, detail: str) -> Check:
    return Check(name, "skip", detail)


async def guarded(name: str, work: Callable[[], Awaitable[list[Check]]], timeout: float = CHECK_TIMEOUT_S
                  ) -> list[Check]:
    """Run one group of checks; an exception or a hang becomes a FAIL line, not a traceback."""
    try:
        return await asyncio.wait_for(work(), timeout)
    except TimeoutError:
        return [fail(name, f"no answer within {timeout:.0f} s")]
    except Exception as exc:  # noqa: BLE001 - described in one line; the doctor must finish
        if not is_expected(exc):
            log.error("doctor check %s failed unexpectedly", name, exc_info=True)
        return [fail(name, describe_failure(exc))]


async def run_doctor(settings: Settings) -> list[Check]:
    """Every check, in a stable order: store, chain, WalletConnect, chat platforms, hosts."""
    from bot.doctor import chain, remote, store

    checks = await guarded("database", lambda: store.check_database(settings))
    checks += await chain.check_chain(settings)
    checks += await guarded("walletconnect relay", lambda: remote.check_relay(settings))
    checks += await guarded("discord", lambda: remote.check_discord(settings))
    checks += await guarded("telegram", lambda: remote.check_telegram(settings))
    if not any(c.failed for c in checks if c.name == "database"):
        from bot.doctor import hosts
        checks += await guarded("hosts", lambda: hosts.check_hosts(settings), timeout=120)
    return checks
