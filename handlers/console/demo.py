"""`gpuflow-bot demo`: seed a small market in a temporary database and play a session (part 1),
then the money, wallet and SSH steps with local stand-ins for the outside world (part 2,
handlers/console/demo_live.py)."""
from __future__ import annotations

from pathlib import Path

from bot.app import open_app
from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key
from handlers.console import ConsoleFrontend

USDC = "0x" + "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"

SEED = [
    # provider, host, offer settings
    ("nordic-gpus", "rig-1", "gpu=rtx4090 count=2 vram=24 price=0.75 token=USDC hours=1-72 region=eu"),
    ("nordic-gpus", "rig-2", "gpu=a100 count=1 vram=80 price=1.6 token=USDC hours=2-168 region=eu host=rig-2"),
    ("tokyo-compute", "box-a", "gpu=rtx4090 count=1 vram=24 price=0.42 token=USDC hours=1-24 region=ap"),
    ("tokyo-compute", "box-b", "gpu=h100 count=8 vram=80 price=19.5 token=USDC hours=4-720 region=ap host=box-b"),
    ("ohio-basement", "tower", "gpu=rtx3090 count=4 vram=24 price=0.9 token=USDC hours=1-48 region=us-east"),
    ("ohio-basement", "tower2", "gpu=rtx4090 count=4 vram=24 price=0.0012 token=ETH hours=1-48 region=us-east host=tower2"),
]

SCRIPT = """
# A renter browses, filters, sorts and pages
/as alice
/help
/offers
/offers gpu=rtx4090 vram>=24 sort=price
/offers count>=2 price<=1 sort=-count limit=2
/offers count>=2 price<=1 sort=-count limit=2 page=2
/offer 3
# Mistakes get a plain answer and change nothing
!/offers vram>=lots
!/rent 3 500
!/rent 999 2
# Rent offer 3 for 4 hours, see it, then cancel it
/rent 3 4
/rentals
/rental 1
/cancel 1
# Bob takes the same slot, then a provider edits a listing
/as bob
/rent 3 2
/as ohio-basement
/offer edit 5 price=0.85 max_hours=24
!/offer edit 3 price=0.01
/offers provider=ohio-basement
"""


async def run_demo(tmp: Path) -> int:
    from handlers.console.demo_live import run_live_demo

    market = await run_market_demo(tmp)
    live = await run_live_demo(tmp / "live")
    print(f"\ngpuflow demo: {'OK' if not (market or live) else 'something did not go as expected (see above)'}")
    return market or live


async def run_market_demo(tmp: Path) -> int:
    settings = Settings(
        data_dir=tmp, deposit_timeout_s=1800, fee_bps=100, master_key=generate_master_key(),
        chain={"tokens": [TokenSettings(symbol="USDC", decimals=6, address=USDC),
                          TokenSettings(symbol="ETH", decimals=18)]},
    )
    app = await open_app(settings)
    try:
        front = ConsoleFrontend(app, echo=True)
        print("=" * 78)
        print("Part 1: the market (a throw-away database, no chain: renting stops at the reservation)")
        print("=" * 78)
        print(f"gpuflow demo: a throw-away market in {tmp}\n")
        seeded = 0
        for provider, host, spec in SEED:
            await front.switch_user(provider)
            await app.router.handle_text(front.invocation, f"/host add {host} {host}.{provider}.example 22 gpuflow")
            reply = await app.router.handle_text(front.invocation, f"/offer create {spec}")
            seeded += reply.ok
        await front.deliver_notices()
        print(f"\n(seeded {seeded} offers from 3 providers)\n")
        failures = await front.run_lines(SCRIPT.splitlines())
        print(f"\nmarket part finished: {'all commands behaved as expected' if not failures else f'{failures} unexpected result(s)'}")
        return 1 if failures or seeded != len(SEED) else 0
    finally:
        await app.close()
