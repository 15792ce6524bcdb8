"""The whole market through Telegram with real parts: anvil and the deployed escrow, the official
WalletKit wallet over a loopback WalletConnect relay, a real sshd with the provider's helper, and
the real python-telegram-bot client on the loopback Telegram.

A provider links a wallet, registers and verifies a host and lists it, all in the private chat;
a renter links a wallet with WalletConnect (the QR code comes as a photo), rents from a group
(handed to the private chat by deep link, hours asked with buttons), the wallet pays the deposit,
progress is edited into the deposit message, the login and the bot-made private key arrive only
in the private chat (the key as a document) and work with the real ssh client; a dispute opens a
forum topic in the support group, support resolves it there with a confirmation button, both
sides are told privately and the topic is closed.
"""
from __future__ import annotations

import re
import shutil

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from bot.chain.deploy import deploy_escrow
from bot.chain.rpc import make_web3
from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key
from devnet.node_wallet import ROOT, NodeWallet
from devnet.relay import LoopbackRelay
from devnet.telegram import LoopbackTelegram
from tests.conftest import Clock
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT, DISPUTE_WINDOW,
                                FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, PROVIDER_KEY, RENTER_KEY, START_WINDOW,
                                Market, anvil)

__all__ = ["anvil"]        # the session's anvil (tests/e2e/conftest.py)

needs_walletkit = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@reown" / "walletkit").exists(),
    reason="node and node_modules (npm ci) are needed for WalletKit")


@pytest.fixture
async def relay():
    server = LoopbackRelay()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tg_market(anvil, sshd, relay, tg: LoopbackTelegram, tmp_path, frontend_factory):
    w3 = make_web3(anvil.rpc_url)
    address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY], arbiter=ADDRESS[ARBITER_KEY],
                                  admin=ADDRESS[DEPLOYER_KEY], fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                  start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                  dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
    start_block = await w3.eth.block_number
    support = tg.add_supergroup("GPU support", forum=True)
    group = tg.add_supergroup("GPU renters")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'market.db'}", data_dir=tmp_path,
        master_key=generate_master_key(), operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY, fee_bps=FEE_BPS,
        chain={"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address, "confirmations": 1,
               "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
               "dispute_timeout_s": DISPUTE_TIMEOUT, "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
        ssh={"helper_path": sshd.helper, "retries": 2, "command_timeout_s": 30},
        walletconnect={"relay_url": relay.url, "project_id": "gpuflow-tests"},
        telegram={"enabled": True, "base_url": tg.base_url, "base_file_url": tg.base_file_url,
                  "support_chat_id": support.id},
        telegram_token=tg.token,
    )
    m = Market(anvil=anvil, sshd=sshd, settings=settings, clock=Clock(), tmp_path=tmp_path,
               escrow_address=address, start_block=start_block, w3=w3)
    m.sync_clock()
    await m.start()
    await frontend_factory(runtime=m.runtime)
    m.support, m.group, m.relay = support, group, relay  # type: ignore[attr-defined]
    try:
        yield m
    finally:
        await m.runtime.close()
        for user in sshd.renters():
            sshd.run_helper("revoke", user)
        await w3.provider.disconnect()


async def ask(tg: LoopbackTelegram, who, text: str, expect: str, chat=None, timeout: float = 20.0):
    await who.send(text, chat=chat)
    return await tg.wait_for(chat or who.dm, expect, timeout=timeout)


async def link_by_signature(tg: LoopbackTelegram, who, key: str) -> None:
    address = Account.from_key(key).address
    reply = await ask(tg, who, f"/wallet link {address}", "Sign this message")
    head, _, rest = reply.text.partition("\n\n")
    message, _, _tail = rest.rpartition("\n\n")
    signature = Account.sign_message(encode_defunct(text=message), key).signature.to_0x_hex()
    await ask(tg, who, f"/wallet verify {signature}", address)


@needs_walletkit
async def test_the_whole_rent_flow_through_telegram(tg: LoopbackTelegram, tg_market: Market) -> None:
    m = tg_market
    prov, ren, carol = tg.add_user("Prov"), tg.add_user("Ren"), tg.add_user("Carol")
    m.support.members[carol.id] = type(m.support.members[tg.emu.bot.id])(carol.id, "administrator")
    m.group.members[ren.id] = type(m.support.members[tg.emu.bot.id])(ren.id)

    # the provider, in the private chat: wallet by signature, host added and verified, offer listed
    await prov.start()
    await link_by_signature(tg, prov, PROVIDER_KEY)
    setup = await ask(tg, prov, f"/host add rig 127.0.0.1 {m.sshd.port} {m.sshd.provider_user}", "authorized_keys")
    (installed,) = re.findall(r"echo 'restrict (ssh-ed25519 [A-Za-z0-9+/=]+)'", setup.text)
    m.sshd.authorize(installed)
    await ask(tg, prov, "/host verify rig", "RTX 4090", timeout=60)
    listed = await ask(tg, prov, "/offer create gpu=rtx4090 count=1 vram=24 price=0.01 token=ETH hours=1-24 "
                                 "region=eu host=rig", "is listed")
    offer_id = int(re.search(r"Offer #([0-9]+) is listed", listed.text).group(1))

    # the renter links a wallet with WalletConnect: the pairing QR code is a photo
    await ren.start()
    await ren.send("/wallet link")
    links = await tg.wait_for(ren.dm, "Any WalletConnect wallet")
    photo = next(x for x in tg.messages(ren.dm) if "photo" in x.raw)
    assert photo.file_bytes().startswith(b"\x89PNG")
    uri = re.search(r"Any WalletConnect wallet: (wc:\S+)", links.text).group(1)
    wallet_dir = m.tmp_path / "wallet"
    wallet_dir.mkdir(mode=0o700)
    wallet = await NodeWallet.start({"relayUrl": m.relay.url, "uri": uri, "privateKey": RENTER_KEY,
                                     "rpcUrl": m.anvil.rpc_url, "chainId": CHAIN_ID}, wallet_dir)
    try:
        await tg.wait_for(ren.dm, "is linked", timeout=60, since=0)

        # renting from the group hands over to the private chat, where the hours are asked
        handoff = await ask(tg, ren, f"/rent {offer_id} 1", "renting happens in our private chat", chat=m.group)
        await ren.press(handoff, "Rent offer")
        hours = await tg.wait_for(ren.dm, "which hours?")
        await ren.press(hours, "1")
        deposit = await tg.wait_for(ren.dm, "reserved", timeout=30)
        rental_id = int(re.search(r"Rental #([0-9]+)", deposit.text).group(1))
        while (await wallet.wait_for("answered", timeout=60))["method"] != "eth_sendTransaction":
            pass                                                   # the wallet sends the deposit

        async def active() -> bool:
            return await m.state(rental_id) == "active"
        await m.tick_until(active, "rental active")
        login = await tg.wait_for(ren.dm, "is ready", timeout=60, since=0)
        keyfile = await tg.wait_for(ren.dm, lambda v: v.file_name is not None and "document" in v.raw, since=0)
        assert all("BEGIN OPENSSH PRIVATE KEY" not in x.text for x in tg.messages(m.group))
        assert "BEGIN OPENSSH PRIVATE KEY" not in login.text            # the key travels as a file
        key_path = m.tmp_path / "renter.key"
        key_path.write_bytes(keyfile.file_bytes())
        key_path.chmod(0o600)
        row = await m.rental(rental_id)
        out = m.sshd.ssh(row.unix_user, key_path, "id -un")
        assert out.returncode == 0 and out.stdout.decode().strip() == row.unix_user, out
        await tg.wait_for(ren.dm, lambda v: v.message_id == deposit.message_id and v.edited, since=0, timeout=30)

        # a dispute gets a forum topic in the support group; support resolves it there
        await ren.send(f"/dispute {rental_id} the GPU is far slower than listed")
        await tg.wait_for(ren.dm, "Dispute opened", timeout=30)
        async def has_topic() -> bool:
            return bool(m.support.topics)
        await m.tick_until(has_topic, "dispute topic")
        (topic_id,) = list(m.support.topics)
        await tg.wait_for(m.support, "rental", thread=topic_id, since=0, timeout=30)
        await carol.send("/resolve 60 the host was slow for half the time", chat=m.support, thread=topic_id)
        proposal = await tg.wait_for(m.support, "60% to the renter", thread=topic_id)
        await carol.press(proposal, "Confirm")
        await tg.wait_for(m.support, "resolved", thread=topic_id, timeout=60)
        closed = await tg.wait_for(m.support, lambda v: "forum_topic_closed" in v.raw, thread=topic_id, timeout=10)
        assert m.support.topics[topic_id].closed and closed.thread_id == topic_id
        async def both_told() -> bool:      # after the escrow's Resolved event is seen on chain
            return all(any("is decided" in x.text for x in tg.messages(p.dm)) for p in (ren, prov))
        await m.tick_until(both_told, "both sides told of the outcome")
    finally:
        await wallet.stop()

