"""What every service call needs: who is asking, and the shared machinery."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crypto import SecretBox
from bot.db.base import utcnow


@dataclass(frozen=True)
class Actor:
    """The person behind a command, already resolved to a user."""

    user_id: int
    name: str
    platform: str
    is_support: bool = False
    is_admin: bool = False

    @property
    def is_staff(self) -> bool:
        return self.is_support or self.is_admin


@dataclass
class ServiceContext:
    """Shared machinery. The outside parts are optional: without them the commands that need
    them say so plainly (an escrow client needs a deployed contract; SSH needs the master key)."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    box: SecretBox | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    escrow: Any = None          # bot.chain.escrow.EscrowClient
    ssh: Any = None             # bot.ssh.SshPool
    bridge: Any = None          # bot.services.walletflow.WalletBridge
    contract: Any = None        # bot.services.contract_check.ContractState, once the escrow was read
    doorbell: Any = None        # bot.delivery.doorbell.Doorbell: wakes front-ends when work arrives

    def __post_init__(self) -> None:
        # every session carries the service clock, so records written deep inside (the timeline,
        # also from the chain watcher's transaction) are stamped with the same time the rules use
        # (and the context itself: a notice queued deep inside finds the settings, the secret box
        # and the doorbell there)
        self.sessions.configure(info={"now": self.now, "ctx": self})
        if self.doorbell is None:
            from bot.delivery.doorbell import Doorbell

            self.doorbell = Doorbell()

    def now(self) -> datetime:
        return self.clock()
