"""The whole market through Discord with real parts: anvil and the deployed escrow, the official
WalletKit wallet over a loopback WalletConnect relay, a real sshd with the provider's helper, and
the real discord.py client (the product's front-end) on the loopback Discord.

A provider links a wallet by signature, adds and verifies a host and lists it (slash command,
then a modal); the listing appears in #listings with a Rent button. A renter links a wallet with
WalletConnect (the QR code as an image, links as buttons), presses Rent (hours in a modal); the
wallet pays the deposit, progress is edited into the deposit message. The renter's DMs are closed
when the login is ready (50007): support is told, /credentials says privately how to open them,
then resends by DM, where the bot-made private key arrives as a file and works with the real ssh
client. The gateway drops and resumes mid-flow, a DM send meets a 429. The reminder before the end
comes by DM with an Extend button that works from the DM. A dispute opens a private
thread in #support with both parties, pinging the support role; staff resolve it there with a
confirmation button, the thread is archived and locked, both sides are told by DM.
"""
from __future__ import annotations

import asyncio
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
from tests.conftest import Clock
from tests.e2e.conftest import (ADDRESS, ARBITER_KEY, CHAIN_ID, DEPLOYER_KEY, DISPUTE_TIMEOUT, DISPUTE_WINDOW,
                                FEE_BPS, FEE_KEY, MAX_DURATION, OPERATOR_KEY, PROVIDER_KEY, RENTER_KEY, START_WINDOW, Market,
                                anvil)

__all__ = ["anvil"]
KEY_HEADER = "BEGIN OPENSSH PRIVATE KEY"
needs_walletkit = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@reown" / "walletkit").exists(),
    reason="node and node_modules (npm ci) are needed for WalletKit")


def text_of(message) -> str:
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def buttons(message) -> dict[str, dict]:
    return {c.get("label", ""): c for row in message.components for c in row["components"]}


@pytest.fixture
async def relay():
    server = LoopbackRelay()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def dc_market(anvil, sshd, relay, emu, tmp_path):
    guild = emu.add_guild("GPU Club", channels=["general", "listings", "support"])
    general, listings, support = (emu.state.channels[c] for c in guild.channel_ids)
    staff = emu.add_role(guild, "support")
    w3 = make_web3(anvil.rpc_url)
    address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY], arbiter=ADDRESS[ARBITER_KEY],
                                  admin=ADDRESS[DEPLOYER_KEY], fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                  start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                  dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
    start_block = await w3.eth.block_number
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'market.db'}", data_dir=tmp_path,
        master_key=generate_master_key(), operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY, fee_bps=FEE_BPS,
        chain={"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address, "confirmations": 1,
               "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
               "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
               "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
        ssh={"helper_path": sshd.helper, "retries": 2, "command_timeout_s": 30},
        walletconnect={"relay_url": relay.url, "project_id": "gpuflow-tests"},
        discord={"enabled": True, "guild_id": guild.id, "listings_channel_id": listings.id,
                 "support_channel_id": support.id, "support_role_id": staff.id,
                 "rest_base_url": emu.rest_base, "gateway_url": emu.gateway_url},
        delivery={"retry_base_s": 0.2, "retry_max_s": 1.0, "max_attempts": 2},
        discord_token=emu.token,
    )
    m = Market(anvil=anvil, sshd=sshd, settings=settings, clock=Clock(), tmp_path=tmp_path,
               escrow_address=address, start_block=start_block, w3=w3)
    m.sync_clock()
    await m.start()
    from handlers.discord.client import DiscordFrontend

    front = DiscordFrontend(m.runtime, settings.discord, emu.token)
    task = await front.start()
    await asyncio.wait_for(front.ready.wait(), 30)
    m.dc = {"guild": guild, "general": general, "listings": listings, "support": support, "staff": staff,
            "relay": relay}  # type: ignore[attr-defined]
    try:
        yield m
    finally:
        await front.close()
        await asyncio.wait({task}, timeout=10)
        await m.runtime.close()
        for user in sshd.renters():
            sshd.run_helper("revoke", user)
        await w3.provider.disconnect()


async def link_by_signature(emu, who, key: str, channel) -> None:
    address = Account.from_key(key).address
    reply = await (await emu.slash(who, "wallet link", channel=channel, address=address)).done(timeout=30)
    assert reply.ephemeral
    to_sign = re.search(r"```\n(.*?)\n```", text_of(reply), re.S).group(1)
    signature = Account.sign_message(encode_defunct(text=to_sign), key).signature.to_0x_hex()
    done = await (await emu.slash(who, "wallet verify", channel=channel, signature=signature)).done(timeout=30)
    assert address in text_of(done), text_of(done)


@needs_walletkit
async def test_the_whole_rent_flow_through_discord(emu, dc_market):
    m, dc = dc_market, dc_market.dc
    guild, general = dc["guild"], dc["general"]
    prov, ren, sue = emu.add_user("prov"), emu.add_user("ren"), emu.add_user("sue")
    for person in (prov, ren):
        emu.add_member(guild, person)
    emu.add_member(guild, sue, roles=[dc["staff"]])

    # the provider: wallet by signature, host added and verified, the offer listed (options + modal)
    await link_by_signature(emu, prov, PROVIDER_KEY, general)
    setup = await (await emu.slash(prov, "host add", channel=general, name="rig", address="127.0.0.1",
                                   port=m.sshd.port, user=m.sshd.provider_user)).done(timeout=30)
    assert setup.ephemeral
    (installed,) = re.findall(r"echo 'restrict (ssh-ed25519 [A-Za-z0-9+/=]+)'", text_of(setup))
    m.sshd.authorize(installed)
    verified = await (await emu.slash(prov, "host verify", channel=general, name="rig")).done(timeout=90)
    assert "RTX 4090" in text_of(verified), text_of(verified)
    opened = await emu.slash(prov, "offer create", channel=general, gpu="rtx4090", count=1, vram=24, region="eu",
                             token="ETH", host="rig")
    await opened.answered()
    listed = await (await emu.submit_modal(opened, {"price": "0.01", "min_hours": "1", "max_hours": "24"})).done()
    assert "is listed" in text_of(listed)
    post = await emu.wait_message(dc["listings"], timeout=20)
    assert "Rent" in buttons(post)

    # the renter links a wallet with WalletConnect: QR code as an image, wallet links as buttons
    pairing = await (await emu.slash(ren, "wallet link", channel=general)).done(timeout=30)
    assert pairing.ephemeral and pairing.attachments[0].data.startswith(b"\x89PNG")
    assert pairing.embeds[0]["image"]["url"] == "attachment://walletconnect.png"
    assert all(b["url"].startswith("https://") for b in buttons(pairing).values())
    uri = re.search(r"`(wc:[^`]+)`", text_of(pairing)).group(1)
    wallet_dir = m.tmp_path / "wallet"
    wallet_dir.mkdir(mode=0o700)
    wallet = await NodeWallet.start({"relayUrl": dc["relay"].url, "uri": uri, "privateKey": RENTER_KEY,
                                     "rpcUrl": m.anvil.rpc_url, "chainId": CHAIN_ID}, wallet_dir)
    try:
        await emu.wait_message(ren, lambda x: "is linked" in text_of(x), timeout=60)

        # Rent on the listing post: hours in a modal, the deposit request shown, the wallet pays
        click = await emu.click(ren, post, buttons(post)["Rent"]["custom_id"])
        await click.answered()
        deposit = await (await emu.submit_modal(click, {"hours": "1"})).done(timeout=30)
        assert "reserved" in text_of(deposit) and not deposit.ephemeral
        rental_id = int(re.search(r"Rental #([0-9]+)", text_of(deposit)).group(1))
        await emu.gateway.drop()                                         # mid-flow: the gateway fails
        while (await wallet.wait_for("answered", timeout=60))["method"] != "eth_sendTransaction":
            pass
        ren.dms_open = False                                             # closes DMs before the login comes
        emu.faults.rate_limit(r"^/channels/\d+/messages$", method="POST", retry_after=0.3)

        async def active() -> bool:
            return await m.state(rental_id) == "active"
        await m.tick_until(active, "rental active")
        await emu.wait_until(lambda: emu.gateway.resumes >= 1 and emu.gateway.connected, 30, "the gateway resumed")
        await emu.wait_until(lambda: "ready" in text_of(deposit).lower() and deposit.edited_timestamp, 30,
                             "progress edited into the deposit message")
        told = await emu.wait_message(dc["support"], lambda x: "credentials" in text_of(x).lower() or
                                      "could not" in text_of(x).lower(), timeout=30)
        assert str(rental_id) in text_of(told)

        # /credentials: first the way to open DMs (privately), then the login by DM
        refused = await (await emu.slash(ren, "credentials", channel=general, rental=rental_id)).done(timeout=30)
        assert refused.ephemeral and "DMs are closed" in refused.content
        ren.dms_open = True
        sent = await (await emu.slash(ren, "credentials", channel=general, rental=rental_id)).done(timeout=30)
        assert sent.ephemeral and "direct message" in sent.content
        login = await emu.wait_message(ren, lambda x: any(KEY_HEADER.encode() in a.data for a in x.attachments),
                                       timeout=30)
        assert "is ready" in text_of(login) and KEY_HEADER not in text_of(login)   # the key travels as a file
        key_path = m.tmp_path / "renter.key"
        key_path.write_bytes(login.attachments[0].data)
        key_path.chmod(0o600)
        row = await m.rental(rental_id)
        out = m.sshd.ssh(row.unix_user, key_path, "id -un")
        assert out.returncode == 0 and out.stdout.decode().strip() == row.unix_user, out
        for channel in emu.state.channels.values():                     # no secret outside the DM
            if not channel.is_dm:
                for message in channel.messages.values():
                    assert KEY_HEADER not in text_of(message)
                    assert all(KEY_HEADER.encode() not in a.data for a in message.attachments)

        # a reminder before the end arrives by DM with an Extend button, which works from the DM
        m.warp(46 * 60)

        async def reminded() -> bool:
            return any("Extend" in " ".join(buttons(x)) for x in emu.dms(ren))
        await m.tick_until(reminded, "the ending-soon reminder")
        reminder = next(x for x in emu.dms(ren) if "Extend" in " ".join(buttons(x)))
        extend_id = next(b["custom_id"] for label, b in buttons(reminder).items() if label.startswith("Extend"))
        extended = await emu.click(ren, reminder, extend_id)
        await extended.answered(timeout=10)
        answer = await extended.done(timeout=30)
        assert "went wrong" not in text_of(answer) and emu.state.channels[answer.channel_id].is_dm
        while (await wallet.wait_for("answered", timeout=60))["method"] != "eth_sendTransaction":
            pass                                                   # the wallet pays the extension

        async def extended_on_chain() -> bool:
            return any(t.startswith("extend") for t in await m.timeline(rental_id))
        await m.tick_until(extended_on_chain, "the extension applied")

        # a dispute: a private thread in #support with both parties, the support role pinged
        opened = await (await emu.slash(ren, "dispute", channel=general, rental=rental_id,
                                        reason="the GPU is far slower than listed")).done(timeout=30)
        assert "Dispute" in text_of(opened) or "dispute" in text_of(opened)

        async def has_thread() -> bool:
            return bool(emu.threads(dc["support"]))
        await m.tick_until(has_thread, "dispute thread")
        (thread,) = emu.threads(dc["support"])
        assert thread.type == 12 and {prov.id, ren.id} <= thread.thread_members
        first = await emu.wait_message(thread, timeout=20)
        users, roles, everyone = emu.pinged(first)
        assert roles == [dc["staff"].id] and users == [] and not everyone
        assert sue.id in thread.thread_members                            # the role mention brought staff in

        async def disputed_on_chain() -> bool:     # the renter's wallet sent the dispute transaction
            return any("registered on chain" in t for t in await m.timeline(rental_id, detail=True))
        while (await wallet.wait_for("answered", timeout=60))["method"] != "eth_sendTransaction":
            pass
        await m.tick_until(disputed_on_chain, "the dispute registered on chain")
        prompt = await (await emu.slash(sue, "resolve", channel=thread, renter_percent=60,
                                        note="the host was slow half the time")).done(timeout=30)
        assert prompt.ephemeral and "60%" in text_of(prompt)
        confirm = await emu.click(sue, prompt, buttons(prompt)["Confirm"]["custom_id"])
        await confirm.answered()
        await emu.wait_until(lambda: thread.archived and thread.locked, 60, "the thread archived and locked")
        outcome = [x for x in emu.messages(thread) if "60" in text_of(x) and x.id != first.id]
        assert outcome and not outcome[0].ephemeral

        async def both_told() -> bool:
            return all(any("is decided" in text_of(x) for x in emu.dms(p)) for p in (ren, prov))
        await m.tick_until(both_told, "both sides told of the outcome")
    finally:
        await wallet.stop()
