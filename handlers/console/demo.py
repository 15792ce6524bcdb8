"""`gpuflow-bot demo`: seed a small market in a temporary database and play a session (part 1),
then the money, wallet and SSH steps with local stand-ins for the outside world (part 2,
handlers/console/demo_live.py)."""
from __future__ import annotations

import re
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from bot.app import open_app
from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key
from devnet.machines import stand_in_verification
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
# A new provider's offer is saved but waits: the machine is not verified, no payout wallet is linked
/as fresh-rigs
/offer create gpu=rtx4090 count=1 vram=24 price=0.3 token=USDC hours=1-24 region=eu
/offer 7
/as alice
!/rent 7 2
# Bob takes the same slot, then a provider edits a listing
/as bob
/rent 3 2
/as ohio-basement
/offer edit 5 price=0.85 max_hours=24
!/offer edit 3 price=0.01
/offers provider=ohio-basement
"""


async def _link_demo_wallet(app, actor, name: str) -> None:
    """Sign the provider's wallet sign-in with a throw-away demo key (the real SIWE path)."""
    account = Account.from_key(keccak(text=f"gpuflow-demo-wallet:{name}"))
    challenge = await app.services.wallets.challenge(actor, account.address)
    await app.services.wallets.verify(actor, Account.sign_message(encode_defunct(text=challenge.message),
                                                                   account.key).signature.to_0x_hex())


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
        print("(no machines and no wallets in this part: for the seeded providers, a stand-in answers each "
              "/host verify as the listed GPUs would, and a demo key signs each payout-wallet sign-in; offers are "
              "listed only on verified hosts of providers with a payout wallet)")
        seeded = 0
        for provider, host, spec in SEED:
            await front.switch_user(provider)
            if await app.services.wallets.linked_address(front.actor) is None:
                await _link_demo_wallet(app, front.actor, provider)
            await app.router.handle_text(front.invocation, f"/host add {host} {host}.{provider}.example 22 gpuflow")
            gpu, count, vram = re.search(r"gpu=(\S+) count=(\d+) vram=(\d+)", spec).groups()
            await app.services.hosts.record_verification(
                front.actor, host, stand_in_verification(gpu, int(count), int(vram), machine=f"{provider}:{host}"))
            reply = await app.router.handle_text(front.invocation, f"/offer create {spec}")
            seeded += reply.ok and "is listed" in reply.text
        await front.switch_user("fresh-rigs")        # a provider who has only registered a machine so far
        await app.router.handle_text(front.invocation, "/host add den den.fresh-rigs.example 22 gpuflow")
        await front.deliver_notices()
        print(f"\n(seeded {seeded} offers from 3 providers)\n")
        failures = await front.run_lines(SCRIPT.splitlines())
        print(f"\nmarket part finished: {'all commands behaved as expected' if not failures else f'{failures} unexpected result(s)'}")
        return 1 if failures or seeded != len(SEED) else 0
    finally:
        await app.close()
