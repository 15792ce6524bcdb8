"""Gas per GpuEscrow call, measured on anvil (the committed artifact, EVM cancun, optimizer 200 runs).

Prints each call's gas used and who pays it, then what one rental costs the operator's account (the
bot's key pays for start and settle, and for cancel when a rental is refunded): multiply by the
chain's gas price to know how much the operator account needs per rental.

    .venv/bin/python bench/escrow_gas.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chain.conftest import (ADMIN, ARBITER, DEPLOYER, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT,  # noqa: E402
                                  MAX_DURATION, OPERATOR, PROVIDER, RENTER, START_WINDOW, DISPUTE_TIMEOUT, ZERO,
                                  deploy_contracts, load_artifact, make_chain)
from devnet.anvil import start_anvil  # noqa: E402

HOUR = 3600


def main() -> None:
    with start_anvil() as node:
        c = make_chain(node, deploy_contracts(node))
        f, usdc = c.escrow.functions, c.usdc.address
        rows: list[tuple[str, str, int]] = []

        def run(label: str, who: str, sender: str, fn, value: int = 0):
            receipt = c.send(sender, fn, value)
            rows.append((label, who, receipt.gasUsed))
            return receipt

        art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
        factory = c.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        tx = factory.constructor(OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT, FEE_BPS, START_WINDOW, DISPUTE_WINDOW,
                                 DISPUTE_TIMEOUT, MAX_DURATION).transact({"from": DEPLOYER})
        rows.append(("deploy", "deployer (the operator key)", c.w3.eth.wait_for_transaction_receipt(tx).gasUsed))

        def deposit(token: str = ZERO, amount: int = 10**18, duration: int = 10 * HOUR, label: str = "") -> bytes:
            rid = os.urandom(32)
            if label:
                run(label, "renter", RENTER, c.deposit(RENTER, rid, PROVIDER, token, amount, duration),
                    amount if token == ZERO else 0)
            else:
                c.send(RENTER, c.deposit(RENTER, rid, PROVIDER, token, amount, duration), amount if token == ZERO else 0)
            return rid

        a = deposit(label="deposit (native coin, signed quote checked)")
        run("approve (ERC-20, before its deposit)", "renter", RENTER, c.usdc.functions.approve(c.escrow.address, 3600))
        b = deposit(usdc, 3600, HOUR, label="deposit (ERC-20)")
        run("start", "operator", OPERATOR, f.start(a))
        run("start (ERC-20 rental)", "operator", OPERATOR, f.start(b))
        run("extend (native coin)", "renter", RENTER, f.extend(a, HOUR, 10**17), 10**17)
        run("endEarly", "renter", RENTER, f.endEarly(a))
        c.warp(DISPUTE_WINDOW)
        run("settle", "operator (anyone may)", OPERATOR, f.settle(a))
        d = deposit()
        run("cancel (refund before start)", "operator", OPERATOR, f.cancel(d))
        e = deposit()
        c.send(OPERATOR, f.start(e))
        run("dispute", "renter or provider", RENTER, f.dispute(e))
        run("resolve", "arbiter", ARBITER, f.resolve(e, 5_000))
        run("withdraw (native coin)", "anyone owed", PROVIDER, f.withdraw(ZERO))
        run("withdrawTo (native coin)", "anyone owed", RENTER, f.withdrawTo(ZERO, ADMIN))
        run("setTokenAllowed", "admin", ADMIN, f.setTokenAllowed(usdc, False))

    width = max(len(r[0]) for r in rows)
    print(f"{'call':<{width}}  {'paid by':<27}  gas used")
    for label, who, gas in rows:
        print(f"{label:<{width}}  {who:<27}  {gas:>8,}")
    gas = dict((r[0], r[2]) for r in rows)
    delivered = gas["start"] + gas["settle"]
    print(f"operator gas per delivered rental (start + settle): {delivered:,}; per refunded rental (cancel): "
          f"{gas['cancel (refund before start)']:,}")
    print(f"  e.g. at 1 gwei: {delivered / 1e9:.6f} ETH per delivered rental")


if __name__ == "__main__":
    main()
