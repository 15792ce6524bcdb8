"""End to end: our SignClient <-> loopback relay <-> the official WalletKit wallet <-> anvil."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from bot.wallet import siwe
from bot.wallet.mismatch import explain_mismatch
from bot.wallet.walletconnect import (FileBackend, ProposalExpired, RequestExpired, SealedStore, Session,
                                      RelayUnavailable, SessionGone, SignClient, UserRejected, crypto)
from tests.support.anvil import Anvil
from tests.wallet.conftest import WALLET_KEY, needs_node
from tests.wallet.node_wallet import NodeWallet
from tests.wallet.relay import LoopbackRelay

pytestmark = needs_node
WALLET_ADDRESS = Account.from_key(WALLET_KEY).address
DOMAIN = "gpuflow.test"


async def link(make_client: Any, start_wallet: Any, client: SignClient | None = None, chains: tuple[int, ...] = (31337,),
               **wallet_opts: Any) -> tuple[SignClient, NodeWallet, Session]:
    client = client or await make_client()
    pending = await client.connect(list(chains))
    wallet = await start_wallet(pending.uri, **wallet_opts)
    session = await asyncio.wait_for(pending.approval, 30)
    return client, wallet, session


async def sign_in(client: SignClient, session: Session, chain_id: int = 31337) -> siwe.SiweMessage:
    address = session.addresses(chain_id)[0]
    message = siwe.build_message(domain=DOMAIN, address=address, uri=f"https://{DOMAIN}/link", chain_id=chain_id,
                                 statement="Link this wallet to your gpuflow account.")
    signature = await client.request(session, chain_id, "personal_sign", message.personal_sign_params())
    return siwe.verify(message.to_text(), signature, domain=DOMAIN, nonce=message.nonce, chain_id=chain_id)


async def test_link_a_wallet_with_siwe_signed_by_walletkit(make_client: Any, start_wallet: Any,
                                                           tmp_path: Path) -> None:
    client, wallet, session = await link(make_client, start_wallet)
    approved = await wallet.wait_for("approved")
    assert approved["topic"] == session.topic
    proposal = next(e for e in wallet.events if e["event"] == "proposal")
    assert proposal["optionalNamespaces"]["eip155"]["chains"] == ["eip155:31337"]
    assert proposal["proposer"] == "gpuflow tests"
    assert [a.lower() for a in session.addresses(31337)] == [WALLET_ADDRESS.lower()]
    assert session.peer_metadata["name"] == "interop test wallet"
    verified = await sign_in(client, session)
    assert verified.address == WALLET_ADDRESS
    assert explain_mismatch(session.accounts, 31337, WALLET_ADDRESS) is None
    assert list(tmp_path.iterdir()) == []  # the wallet's cwd/HOME/TMPDIR: WalletKit wrote nothing


async def test_signed_typed_data_recovers_to_the_wallet(make_client: Any, start_wallet: Any) -> None:
    client, _, session = await link(make_client, start_wallet)
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
                  "Deposit": [{"name": "rental", "type": "uint256"}, {"name": "amount", "type": "uint256"}]},
        "primaryType": "Deposit", "domain": {"name": "gpuflow", "chainId": 31337},
        "message": {"rental": 7, "amount": str(10**18)},  # big ints as strings: see the next test
    }
    signature = await client.request(session, 31337, "eth_signTypedData_v4", [WALLET_ADDRESS, json.dumps(typed)])
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == WALLET_ADDRESS


async def test_big_integers_the_sdk_would_corrupt_are_refused(make_client: Any, start_wallet: Any) -> None:
    client, _, session = await link(make_client, start_wallet)
    with pytest.raises(ValueError, match="17\\+ digits"):
        await client.request(session, 31337, "eth_signTypedData_v4",
                             [WALLET_ADDRESS, json.dumps({"message": {"amount": 10**18}})])


async def test_send_transaction_lands_on_anvil(make_client: Any, start_wallet: Any, chain: Anvil) -> None:
    client, _, session = await link(make_client, start_wallet)
    to = Account.create().address
    value = 12345 * 10**12
    tx_hash = await client.request(session, 31337, "eth_sendTransaction",
                                   [{"from": WALLET_ADDRESS, "to": to, "value": hex(value)}])
    receipt = chain.rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    assert receipt["from"].lower() == WALLET_ADDRESS.lower()
    assert int(chain.rpc("eth_getBalance", [to, "latest"]), 16) == value


async def test_user_rejects_the_session(make_client: Any, start_wallet: Any) -> None:
    client = await make_client()
    pending = await client.connect([31337])
    wallet = await start_wallet(pending.uri, session="reject")
    with pytest.raises(UserRejected, match="you rejected the connection in your wallet"):
        await asyncio.wait_for(pending.approval, 30)
    await wallet.wait_for("rejected_session")
    assert client.sessions == {}


async def test_user_rejects_a_request(make_client: Any, start_wallet: Any) -> None:
    client, wallet, session = await link(make_client, start_wallet, requests="reject")
    with pytest.raises(UserRejected, match="^you rejected the request in your wallet$") as info:
        await client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS])
    assert info.value.code == 5000
    await wallet.wait_for("rejected_request")


async def test_request_expires_when_the_wallet_never_answers(make_client: Any, start_wallet: Any) -> None:
    client, wallet, session = await link(make_client, start_wallet, requests="ignore")
    started = time.monotonic()
    with pytest.raises(RequestExpired, match="expired before you answered"):
        await client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS], expiry=2)
    assert 1.9 < time.monotonic() - started < 5
    await wallet.wait_for("request")  # it did reach the wallet


async def test_relay_restart_mid_session(make_client: Any, start_wallet: Any, relay: LoopbackRelay) -> None:
    client, _, session = await link(make_client, start_wallet)
    await relay.restart()
    verified = await asyncio.wait_for(sign_in(client, session), 30)
    assert verified.address == WALLET_ADDRESS
    assert client.relay.reconnects >= 1
    ours = [params for cid, params in relay.methods_called("irn_batchSubscribe") if cid == client.identity.client_id]
    assert any(session.topic in params["topics"] for params in ours)


async def test_bot_starts_while_the_relay_is_down(make_client: Any, start_wallet: Any,
                                                  relay: LoopbackRelay) -> None:
    await relay.stop()
    client = await make_client(connect_timeout=0.3, relay_call_timeout=1.0)
    assert not client.relay.connected
    with pytest.raises(RelayUnavailable, match="did not answer in time"):
        await client.connect([31337])
    await relay.start()
    _, _, session = await link(make_client, start_wallet, client=client)
    assert (await sign_in(client, session)).address == WALLET_ADDRESS


async def test_request_in_flight_survives_a_relay_restart(make_client: Any, start_wallet: Any,
                                                          relay: LoopbackRelay) -> None:
    client, wallet, session = await link(make_client, start_wallet, requests="ignore")
    task = asyncio.create_task(client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS]))
    await wallet.wait_for("request")
    await relay.restart()
    await wallet.send({"cmd": "answer-pending"})  # the wallet answers while it reconnects
    signature = await asyncio.wait_for(task, 30)
    assert Account.recover_message(encode_defunct(hexstr="0x68690a"), signature=signature) == WALLET_ADDRESS


async def test_tampered_and_foreign_envelopes_are_ignored(make_client: Any, start_wallet: Any, relay: LoopbackRelay,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.wallet.walletconnect")
    client, wallet, session = await link(make_client, start_wallet, requests="ignore")
    task = asyncio.create_task(client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS]))
    request_id = (await wallet.wait_for("request"))["id"]
    forged = json.dumps({"id": request_id, "jsonrpc": "2.0", "result": "0xforged"})
    genuine = crypto.encrypt(session.sym_key, forged)
    flipped = bytearray(base64.b64decode(genuine))
    flipped[-1] ^= 1
    await relay.inject(session.topic, crypto.encrypt(crypto.generate_sym_key(), forged))     # wrong key
    await relay.inject(session.topic, base64.b64encode(bytes(flipped)).decode())  # bad tag
    await relay.inject(session.topic, "not base64 at all!")                                  # garbage
    await relay.inject(crypto.topic_for(crypto.generate_sym_key()), genuine, force=True)     # unknown topic
    await asyncio.sleep(0.5)
    assert not task.done()
    await wallet.send({"cmd": "answer-pending"})
    signature = await asyncio.wait_for(task, 30)
    assert signature != "0xforged"
    text = caplog.text
    assert text.count("did not open") >= 3 and "unknown topic" in text
    assert session.sym_key.hex() not in text


async def test_restarted_client_restores_its_session(make_client: Any, start_wallet: Any, master_box: Any,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "wc-sessions.json"
    first = await make_client(SealedStore(master_box, FileBackend(path)))
    _, _, session = await link(make_client, start_wallet, client=first)
    await first.close()
    stored = path.read_text()
    assert session.sym_key.hex() not in stored
    second = await make_client(SealedStore(master_box, FileBackend(path)))
    assert second.identity.client_id == first.identity.client_id
    restored = second.get_session(session.topic)
    assert restored.sym_key == session.sym_key
    verified = await asyncio.wait_for(sign_in(second, restored), 30)
    assert verified.address == WALLET_ADDRESS


async def test_wallet_disconnects_and_pings(make_client: Any, start_wallet: Any) -> None:
    deleted: list[tuple[str, str]] = []
    client = await make_client(on_session_deleted=lambda s, reason: deleted.append((s.topic, reason)))
    _, wallet, session = await link(make_client, start_wallet, client=client)
    await wallet.send({"cmd": "ping"})
    await wallet.wait_for("pinged")
    await client.ping(session)
    await wallet.send({"cmd": "disconnect"})
    await wallet.wait_for("disconnected")
    for _ in range(100):
        if deleted:
            break
        await asyncio.sleep(0.05)
    assert deleted == [(session.topic, "deleted by the wallet")]
    with pytest.raises(SessionGone):
        await client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS])


async def test_bot_disconnects(make_client: Any, start_wallet: Any) -> None:
    client, wallet, session = await link(make_client, start_wallet)
    await client.disconnect(session)
    assert (await wallet.wait_for("session_deleted"))["topic"] == session.topic
    assert client.sessions == {}


async def test_wallet_on_another_chain_is_explained(make_client: Any, start_wallet: Any) -> None:
    client, _, session = await link(make_client, start_wallet, accountChainId=1)
    assert explain_mismatch(session.accounts, 31337, WALLET_ADDRESS) == (
        "your wallet is on Ethereum (1), switch it to a local test chain (31337) "
        "and link it again with /wallet link")


async def test_wallet_switching_chain_is_seen_and_explained(make_client: Any, start_wallet: Any) -> None:
    client, wallet, session = await link(make_client, start_wallet)
    await wallet.send({"cmd": "switch-chain", "chainId": 1})
    await wallet.wait_for("switched")
    for _ in range(100):
        if session.current_chain_id == 1:
            break
        await asyncio.sleep(0.05)
    assert session.current_chain_id == 1 and "eip155:1" in session.chains  # update, then event
    assert explain_mismatch(session.accounts, 31337, WALLET_ADDRESS, current_chain=session.current_chain_id) == \
        "your wallet is on Ethereum (1), switch it to a local test chain (31337)"


async def test_expired_session_and_unused_proposal(make_client: Any, start_wallet: Any) -> None:
    client, _, session = await link(make_client, start_wallet)
    session.expiry = int(time.time()) - 1
    with pytest.raises(SessionGone, match="expired"):
        await client.request(session, 31337, "personal_sign", ["0x68690a", WALLET_ADDRESS])
    short = await make_client(proposal_ttl=1)
    pending = await short.connect([31337])
    with pytest.raises(ProposalExpired):
        await asyncio.wait_for(pending.approval, 5)
