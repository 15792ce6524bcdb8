"""WalletConnect after a relay hiccup (issue 8 #11): the official WalletKit wallet, our SignClient,
and the loopback relay checking the auth JWT as the public relay does, with faults injected."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.wallet.conftest import needs_node
from tests.wallet.relay import LoopbackRelay
from tests.wallet.test_walletkit_e2e import WALLET_ADDRESS, link, sign_in

pytestmark = needs_node


async def wait_until(condition, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def test_a_refused_batch_subscribe_is_retried_until_it_succeeds(make_client: Any, start_wallet: Any,
                                                                     relay: LoopbackRelay) -> None:
    client = await make_client(relay_retry_s=0.5)
    _, _, session = await link(make_client, start_wallet, client=client)
    relay.fail_next("irn_batchSubscribe", times=2, client_id=client.identity.client_id)
    await relay.restart()
    await wait_until(lambda: client.relay.reconnects >= 1 and client.relay.connected)
    ours = lambda: [p for cid, p in relay.methods_called("irn_batchSubscribe")   # noqa: E731
                    if cid == client.identity.client_id]
    await wait_until(lambda: len(ours()) >= 3)       # refused twice, then accepted
    # the wallet's answer reaches the bot on its session topic: it is not deaf
    verified = await asyncio.wait_for(sign_in(client, session), 30)
    assert verified.address == WALLET_ADDRESS
    assert all(session.topic in p["topics"] for p in ours())


async def test_a_subscribe_refused_on_a_new_session_is_retried(make_client: Any, start_wallet: Any,
                                                              relay: LoopbackRelay) -> None:
    client = await make_client(relay_retry_s=0.5)
    # the session topic, right after the wallet approves (the wallet's own SDK retries its refusals)
    relay.fail_next("irn_subscribe", client_id=client.identity.client_id)
    _, _, session = await link(make_client, start_wallet, client=client)
    assert (await asyncio.wait_for(sign_in(client, session), 30)).address == WALLET_ADDRESS


async def test_an_auth_refusal_is_a_configuration_error_with_a_growing_backoff(
        make_client: Any, start_wallet: Any, relay: LoopbackRelay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.wallet.walletconnect")
    relay.clock_skew_s = -3600               # the relay's clock is an hour behind: our JWT "is not yet valid"
    client = await make_client(connect_timeout=0.5)
    assert not client.relay.connected
    await asyncio.sleep(3.5)
    attempts = relay.connections
    # before: the backoff restarted at every socket open, ~105 ms apart (about 30 tries in 3.5 s)
    assert 1 <= attempts <= 4, attempts
    assert relay.refusals and all("not yet valid" in r for r in relay.refusals)
    refusal = [r for r in caplog.records if "3000" in r.getMessage()]
    assert refusal, caplog.text
    text = refusal[0].getMessage()
    assert "Authorization error: JWT validation error: JWT Token is not yet valid" in text
    assert "clock" in text and "project_id" in text and refusal[0].levelno >= logging.ERROR
    assert client.relay.refused == (3000, "Authorization error: JWT validation error: JWT Token is not yet valid")
    relay.clock_skew_s = 0                   # the operator fixed it: the client comes back by itself
    await wait_until(lambda: client.relay.connected, timeout=40)
    assert client.relay.refused is None
    _, _, session = await link(make_client, start_wallet, client=client)
    assert (await asyncio.wait_for(sign_in(client, session), 30)).address == WALLET_ADDRESS


async def test_an_unknown_project_id_fails_calls_fast_and_plainly(make_client: Any, relay: LoopbackRelay) -> None:
    relay.project_ids = {"the-real-project"}
    client = await make_client(connect_timeout=0.5)          # it sends "gpuflow-tests"
    await wait_until(lambda: client.relay.refused is not None)
    from bot.wallet.walletconnect import RelayUnavailable
    with pytest.raises(RelayUnavailable, match="refuses this bot"):
        await asyncio.wait_for(client.connect([31337]), 5)   # no 20 s wait for an answer that cannot come


async def test_a_handshake_401_counts_as_an_auth_refusal(make_client: Any, relay: LoopbackRelay) -> None:
    relay.refuse_with, relay.project_ids = "http", {"the-real-project"}
    client = await make_client(connect_timeout=0.5)
    await wait_until(lambda: client.relay.refused is not None)
    assert client.relay.refused[0] == 401
    await asyncio.sleep(2)
    assert relay.connections <= 3


async def test_shutdown_closes_with_1000(make_client: Any, start_wallet: Any, relay: LoopbackRelay) -> None:
    client, _, _ = await link(make_client, start_wallet)
    client_id = client.identity.client_id
    await client.close()
    await wait_until(lambda: any(cid == client_id for cid, _, _ in relay.closes))
    assert [code for cid, code, _ in relay.closes if cid == client_id] == [1000]
