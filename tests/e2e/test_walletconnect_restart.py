"""WalletConnect flows survive a restart of the bot (issue 10 #8): the official WalletKit wallet
answers while the bot is down or after it came back, through the loopback relay; anvil, the
escrow and the bot's runtime are real, restarted as the process would be."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.config import WalletConnectSettings
from bot.services import walletflow
from devnet.node_wallet import NodeWallet
from tests.e2e.conftest import PROVIDER_KEY, RENTER_KEY, Market, Person
from tests.wallet.conftest import needs_node, relay  # noqa: F401 - the loopback relay fixture
from tests.wallet.relay import LoopbackRelay

pytestmark = needs_node
URI = re.compile(r"Any WalletConnect wallet: (wc:\S+)")


async def dm_containing(market: Market, who: Person, text: str, timeout: float = 45.0) -> str:
    for _ in range(int(timeout / 0.1)):
        for notice in await market.notices(who):
            if text in notice.body:
                return notice.body
        await asyncio.sleep(0.1)
    bodies = [n.body for n in await market.notices(who)]
    raise AssertionError(f"no DM containing {text!r}; DMs: {bodies}")


async def wallet_request(wallet: NodeWallet, method: str) -> None:
    """The wallet was asked for `method` (earlier requests, e.g. the sign-in, are skipped)."""
    while (await wallet.wait_for("request"))["method"] != method:
        pass


async def with_walletconnect(market: Market, relay: LoopbackRelay) -> None:  # noqa: F811
    market.settings = market.settings.model_copy(update={"walletconnect": WalletConnectSettings(
        relay_url=relay.url, project_id="gpuflow-tests")})
    await market.restart()
    assert market.runtime.services.ctx.bridge is not None


async def provider_offer(market: Market) -> int:
    provider = await market.person("prov", PROVIDER_KEY)
    await market.link_wallet(provider)
    await market.add_host(provider)
    reply = await market.ok(provider, "/offer create gpu=rtx4090 count=1 vram=24 price=0.01 token=ETH hours=1-24 "
                                      "region=eu host=rig")
    return int(re.search(r"Offer #([0-9]+) is listed", reply.text).group(1))


async def start_wallet(market: Market, relay: LoopbackRelay, uri: str, tmp_path: Path,  # noqa: F811
                       **opts) -> NodeWallet:
    home = tmp_path / "wallet-home"
    home.mkdir(exist_ok=True)
    return await NodeWallet.start({"relayUrl": relay.url, "uri": uri, "privateKey": RENTER_KEY,
                                   "rpcUrl": market.anvil.rpc_url, "chainId": 31337, **opts}, home)


async def test_link_and_deposit_requests_survive_restarts(market: Market, relay: LoopbackRelay,  # noqa: F811
                                                          tmp_path: Path) -> None:
    await with_walletconnect(market, relay)
    offer_id = await provider_offer(market)
    renter = await market.person("ren", RENTER_KEY)
    await market.set_ssh_key(renter)
    uri = URI.search((await market.ok(renter, "/wallet link")).text).group(1)
    await market.restart()                 # the bot restarts before the person scans the code
    wallet = await start_wallet(market, relay, uri, tmp_path)
    try:
        assert renter.address in await dm_containing(market, renter, "is linked")
        await wallet.send({"cmd": "set", "requests": "ignore"})
        rental_id, reply = await market.rent(renter, offer_id)
        assert "check your wallet" in reply.lower() or "wallet" in reply.lower()
        await wallet_request(wallet, "eth_sendTransaction")
        await market.restart()             # the bot restarts while the deposit waits in the wallet
        await wallet.send({"cmd": "answer-pending"})
        while (await wallet.wait_for("answered"))["method"] != "eth_sendTransaction":
            pass
        assert f"rental #{rental_id}" in await dm_containing(market, renter, "your wallet sent it")
        await market.watch_until_funded(rental_id)      # and the bot acts on the deposit
    finally:
        await wallet.stop()


async def test_a_request_that_lapses_while_the_bot_is_down_is_explained(
        market: Market, relay: LoopbackRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(walletflow, "SEND_EXPIRY_S", 3)
    await with_walletconnect(market, relay)
    offer_id = await provider_offer(market)
    renter = await market.person("ren", RENTER_KEY)
    await market.set_ssh_key(renter)
    uri = URI.search((await market.ok(renter, "/wallet link")).text).group(1)
    wallet = await start_wallet(market, relay, uri, tmp_path, requests="answer")
    try:
        await dm_containing(market, renter, "is linked")
        await wallet.send({"cmd": "set", "requests": "ignore"})
        rental_id, _ = await market.rent(renter, offer_id)
        await wallet_request(wallet, "eth_sendTransaction")
        await market.runtime.close()       # the bot is down longer than the request's expiry
        market.runtime = None
        await asyncio.sleep(4)
        await market.start()
        text = await dm_containing(market, renter, "expired while the bot was restarting")
        assert f"rental #{rental_id}" in text and "otherwise ask again" in text
    finally:
        await wallet.stop()
