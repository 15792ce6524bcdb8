"""A reference model of GpuEscrow v2, written from its specification (the README's rules table and
the contract's doc comment), for the random-walk tests: given who calls what at which block time,
it says whether the call must succeed and what every account is then owed."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

BPS = 10_000
U128 = 2**128 - 1
NONE, FUNDED, ACTIVE, DISPUTED, SETTLED, CANCELLED, RESOLVED = range(7)
ZERO = "0x" + "00" * 20


@dataclass
class ModelRental:
    renter: str
    provider: str
    token: str
    amount: int
    duration: int
    fee_bps: int
    deposited_at: int
    status: int = FUNDED
    started_at: int = 0
    stopped_at: int = 0
    disputed_at: int = 0

    def end(self) -> int:
        return self.stopped_at if self.stopped_at else self.started_at + self.duration


@dataclass
class Payout:
    renter: int
    provider: int
    fee: int


@dataclass
class EscrowModel:
    operator: str
    arbiter: str
    admin: str
    fee_recipient: str
    fee_bps: int
    start_window: int
    dispute_window: int
    dispute_timeout: int
    max_duration: int
    allowed: set[str] = field(default_factory=set)
    rejecting: set[str] = field(default_factory=set)       # accounts that refuse native coin
    rentals: dict[bytes, ModelRental] = field(default_factory=dict)
    owed: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    payouts: dict[bytes, Payout] = field(default_factory=dict)

    def roles(self) -> set[str]:
        return {self.operator, self.arbiter, self.admin}

    def live(self, token: str) -> int:
        return sum(r.amount for r in self.rentals.values() if r.token == token and r.status in (FUNDED, ACTIVE, DISPUTED))

    def _pull_ok(self, token: str, amount: int, value: int) -> bool:
        if token == ZERO:
            return value == amount
        return value == 0 and token in self.allowed

    # ------------------------------------------------------------ operations: True = must succeed

    def deposit(self, now: int, sender: str, rid: bytes, provider: str, token: str, amount: int, duration: int,
                expiry: int, quote_ok: bool, value: int) -> bool:
        if rid == bytes(32) or rid in self.rentals or now >= expiry:
            return False
        if provider == ZERO or provider == sender or sender in self.roles() or provider in self.roles():
            return False
        if not 0 < amount <= U128 or not 0 < duration <= self.max_duration or not quote_ok:
            return False
        if not self._pull_ok(token, amount, value):
            return False
        self.rentals[rid] = ModelRental(sender, provider, token, amount, duration, self.fee_bps, now)
        return True

    def start(self, now: int, sender: str, rid: bytes) -> bool:
        r = self.rentals.get(rid)
        if sender != self.operator or r is None or r.status != FUNDED or now >= r.deposited_at + self.start_window:
            return False
        r.status, r.started_at = ACTIVE, now
        return True

    def cancel(self, now: int, sender: str, rid: bytes) -> bool:
        r = self.rentals.get(rid)
        if r is None or r.status != FUNDED:
            return False
        if sender == r.renter:
            if now < r.deposited_at + self.start_window:
                return False
        elif sender not in (self.operator, r.provider):
            return False
        r.status = CANCELLED
        self.owed[(r.renter, r.token)] += r.amount
        return True

    def _running(self, now: int, r: ModelRental | None) -> bool:
        return r is not None and r.status == ACTIVE and r.stopped_at == 0 and now < r.started_at + r.duration

    def end_early(self, now: int, sender: str, rid: bytes) -> bool:
        r = self.rentals.get(rid)
        if not self._running(now, r) or sender != r.renter:
            return False
        r.stopped_at = now
        return True

    def extend(self, now: int, sender: str, rid: bytes, extra_duration: int, extra_amount: int, value: int) -> bool:
        r = self.rentals.get(rid)
        if not self._running(now, r) or sender != r.renter:
            return False
        if not 0 < extra_duration <= self.max_duration - r.duration or not 0 < extra_amount <= U128 - r.amount:
            return False
        if extra_duration * r.amount != extra_amount * r.duration or not self._pull_ok(r.token, extra_amount, value):
            return False
        r.duration += extra_duration
        r.amount += extra_amount
        return True

    def dispute(self, now: int, sender: str, rid: bytes) -> bool:
        r = self.rentals.get(rid)
        if r is None or r.status != ACTIVE or sender not in (r.renter, r.provider):
            return False
        end = r.end()
        if now >= end + self.dispute_window:
            return False
        if r.stopped_at == 0:
            r.stopped_at = min(now, end)
        r.status, r.disputed_at = DISPUTED, now
        return True

    def resolve(self, now: int, sender: str, rid: bytes, renter_bps: int) -> bool:
        r = self.rentals.get(rid)
        if sender != self.arbiter or r is None or r.status != DISPUTED:
            return False
        if now >= r.disputed_at + self.dispute_timeout or renter_bps > BPS:
            return False
        self._pay(rid, r, r.amount * (BPS - renter_bps) // BPS)
        r.status = RESOLVED
        return True

    def settle(self, now: int, sender: str, rid: bytes) -> bool:
        r = self.rentals.get(rid)
        if r is None:
            return False
        if r.status == ACTIVE:
            if now < r.end() + self.dispute_window:
                return False
        elif r.status == DISPUTED:
            if now < r.disputed_at + self.dispute_timeout:
                return False
        else:
            return False
        elapsed = min(r.end() - r.started_at, r.duration)
        self._pay(rid, r, r.amount * elapsed // r.duration)
        r.status = SETTLED
        return True

    def _pay(self, rid: bytes, r: ModelRental, gross: int) -> None:
        fee = gross * r.fee_bps // BPS
        self.owed[(r.renter, r.token)] += r.amount - gross
        self.owed[(r.provider, r.token)] += gross - fee
        self.owed[(self.fee_recipient, r.token)] += fee
        self.payouts[rid] = Payout(r.amount - gross, gross - fee, fee)

    def withdraw(self, sender: str, token: str, to: str) -> bool:
        if to == ZERO or self.owed[(sender, token)] == 0:
            return False
        if token == ZERO and to in self.rejecting:
            return False
        self.owed[(sender, token)] = 0
        return True

    def set_token_allowed(self, sender: str, token: str, allowed: bool) -> bool:
        if sender != self.admin or token == ZERO:
            return False
        (self.allowed.add if allowed else self.allowed.discard)(token)
        return True
