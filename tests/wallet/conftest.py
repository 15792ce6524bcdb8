"""Fixtures for the WalletConnect tests: a loopback relay, anvil, the official wallet SDK, our client.

- `relay`: a started LoopbackRelay (devnet/relay.py).
- `chain`: a running anvil (devnet/anvil.py).
- `start_wallet(uri, **overrides)`: starts devnet/wallet.mjs (WalletKit) against `relay` and
  `chain` with anvil key #1; returns a NodeWallet; stopped after the test.
- `make_client(store=None, connect_timeout=15, **SignClient kwargs)`: a started SignClient on `relay`, its sessions sealed with SecretBox in
  memory (or in the given store); closed after the test.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import SecretBox
from bot.wallet.walletconnect import MemoryBackend, SealedStore, SessionStore, SignClient
from tests.support.anvil import ANVIL_BIN, ANVIL_KEYS, Anvil, start_anvil
from tests.wallet.node_wallet import ROOT, NodeWallet
from tests.wallet.relay import LoopbackRelay

WALLET_KEY = ANVIL_KEYS[1]
METADATA = {"name": "gpuflow tests", "description": "test dApp", "url": "https://gpuflow.test", "icons": []}

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@reown" / "walletkit").exists(),
    reason="node and node_modules (npm ci) are needed for the WalletKit interop tests",
)


@pytest.fixture
async def relay() -> AsyncIterator[LoopbackRelay]:
    server = LoopbackRelay()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def chain() -> Iterator[Anvil]:
    if not ANVIL_BIN.exists():
        pytest.skip("anvil is not installed (npm ci)")
    with start_anvil() as node:
        yield node


@pytest.fixture
def master_box() -> SecretBox:
    return SecretBox(os.urandom(32))


@pytest.fixture
async def make_client(relay: LoopbackRelay, master_box: SecretBox
                      ) -> AsyncIterator[Callable[..., Awaitable[SignClient]]]:
    clients: list[SignClient] = []

    async def factory(store: SessionStore | None = None, connect_timeout: float = 15.0, **kwargs: Any) -> SignClient:
        client = SignClient(store or SealedStore(master_box, MemoryBackend()), metadata=METADATA,
                            relay_url=relay.url, project_id="gpuflow-tests", **kwargs)
        await client.start(connect_timeout=connect_timeout)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def start_wallet(relay: LoopbackRelay, chain: Anvil, tmp_path: Path
                       ) -> AsyncIterator[Callable[..., Awaitable[NodeWallet]]]:
    wallets: list[NodeWallet] = []

    async def factory(uri: str, **overrides: Any) -> NodeWallet:
        config = {"relayUrl": relay.url, "uri": uri, "privateKey": WALLET_KEY, "rpcUrl": chain.rpc_url,
                  "chainId": chain.chain_id, **overrides}
        wallet = await NodeWallet.start(config, tmp_path)
        wallets.append(wallet)
        return wallet

    yield factory
    for wallet in wallets:
        await wallet.stop()
