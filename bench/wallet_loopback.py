"""Loopback figures for WalletConnect: time to link a wallet and time per signed request.

Real parts only: our SignClient, the loopback relay from devnet/, the official WalletKit wallet
(node) and anvil. Run: .venv/bin/python bench/wallet_loopback.py [--requests 20]

The wallet SDK holds its request queue for 1 s after each answer (requestQueueDelay in
sign-client), so requests are spaced by --gap seconds to time the round trip itself; --gap 0 shows
the back-to-back rate a user sending several requests would see.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from bot.crypto import SecretBox  # noqa: E402
from bot.wallet.walletconnect import MemoryBackend, SealedStore, SignClient  # noqa: E402
from devnet.anvil import ANVIL_KEYS, start_anvil  # noqa: E402
from devnet.node_wallet import NodeWallet  # noqa: E402
from devnet.relay import LoopbackRelay  # noqa: E402


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{name}: n={len(ms)} median={statistics.median(ms):.1f} ms p95={p95:.1f} ms max={ms[-1]:.1f} ms"


async def main(requests: int, links: int, gap: float) -> None:
    relay = LoopbackRelay()
    await relay.start()
    address = Account.from_key(ANVIL_KEYS[1]).address
    with start_anvil() as chain, tempfile.TemporaryDirectory() as tmp:
        client = SignClient(SealedStore(SecretBox(os.urandom(32)), MemoryBackend()), metadata={"name": "bench"},
                            relay_url=relay.url)
        await client.start()
        link_times, pair_times, wallets = [], [], []
        for _ in range(links):
            started = time.perf_counter()
            pending = await client.connect([31337])
            wallet = await NodeWallet.start({"relayUrl": relay.url, "uri": pending.uri, "privateKey": ANVIL_KEYS[1],
                                             "rpcUrl": chain.rpc_url, "chainId": 31337}, Path(tmp))
            await wallet.wait_for("ready", 60)
            ready = time.perf_counter()
            session = await asyncio.wait_for(pending.approval, 60)
            link_times.append(time.perf_counter() - started)
            pair_times.append(time.perf_counter() - ready)
            wallets.append(wallet)
        sign_times, tx_times = [], []
        for i in range(requests):
            await asyncio.sleep(gap)
            started = time.perf_counter()
            await client.request(session, 31337, "personal_sign", ["0x" + f"bench {i}".encode().hex(), address])
            sign_times.append(time.perf_counter() - started)
        for _ in range(max(1, requests // 5)):
            await asyncio.sleep(gap)
            started = time.perf_counter()
            await client.request(session, 31337, "eth_sendTransaction",
                                 [{"from": address, "to": Account.create().address, "value": "0x1"}])
            tx_times.append(time.perf_counter() - started)
        print(summary("link (connect -> settled, includes node wallet start-up)", link_times))
        print(summary("pairing (wallet ready -> session settled)", pair_times))
        print(summary("personal_sign round trip", sign_times))
        print(summary("eth_sendTransaction round trip (wallet signs + anvil)", tx_times))
        for wallet in wallets:
            await wallet.stop()
        await client.close()
    await relay.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.1)
    parser.add_argument("--links", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.links, args.gap))
