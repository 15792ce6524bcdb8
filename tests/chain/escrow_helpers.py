"""Small helpers shared by the escrow contract tests (funding, reading records, expected splits)."""
from __future__ import annotations

import os
from typing import Any

from tests.chain.conftest import FEE_BPS, OPERATOR, PROVIDER, RENTER, ZERO, Chain

NONE, FUNDED, ACTIVE, DISPUTED, SETTLED, CANCELLED, RESOLVED = range(7)
HOUR = 3600
PANIC = "4e487b71"      # selector of Panic(uint256): an arithmetic error instead of a custom one


def rid() -> bytes:
    return os.urandom(32)


def rec(c: Chain, i: bytes) -> dict[str, Any]:
    names = [x["name"] for x in next(a for a in c.escrow.abi if a.get("name") == "getRental")["outputs"][0]["components"]]
    return dict(zip(names, c.escrow.functions.getRental(i).call()))


def owed(c: Chain, who: str, token: str = ZERO) -> int:
    return c.escrow.functions.owed(who, token).call()


def fund(c: Chain, amount: int = 10**18, duration: int = 10 * HOUR, token: str = ZERO,
         renter: str = RENTER, provider: str = PROVIDER) -> bytes:
    i = rid()
    c.send(renter, c.deposit(renter, i, provider, token, amount, duration), amount if token == ZERO else 0)
    return i


def started(c: Chain, **kw: Any) -> bytes:
    i = fund(c, **kw)
    c.send(OPERATOR, c.escrow.functions.start(i))
    return i


def split(amount: int, gross: int) -> tuple[int, int, int]:
    fee = gross * FEE_BPS // 10_000
    return amount - gross, gross - fee, fee
