"""End-to-end fixtures: a real anvil with the real escrow, a real sshd set up like a provider
host, and the bot's runtime over a real database, driven through its command router.

Nothing is mocked. The service clock is a hand-moved Clock kept equal to the chain's clock (the
two run separately in tests; in production both are wall time), so "time passes" moves both.
"""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select

from bot.chain.deploy import deploy_escrow
from bot.chain.escrow import EscrowClient
from bot.chain.rpc import make_web3, wait_for_receipt
from bot.chain.sender import TxSender
from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key
from bot.db.models import Rental, TimelineEntry
from bot.runtime import Runtime, start_runtime
from bot.services import Actor
from bot.ssh.keys import fingerprint, generate_keypair
from tests.conftest import Clock
from tests.support.anvil import ANVIL_KEYS, Anvil, start_anvil
from tests.support.sshd import SshdServer

CHAIN_ID = 31337
FEE_BPS = 100
START_WINDOW = 3600
DISPUTE_WINDOW = 600
DISPUTE_TIMEOUT = 7 * 86400
MAX_DURATION = 30 * 86400
MAX_TICKS = 20

DEPLOYER_KEY, OPERATOR_KEY, ARBITER_KEY, FEE_KEY, RENTER_KEY, PROVIDER_KEY, RENTER2_KEY = ANVIL_KEYS[:7]
ADDRESS = {k: Account.from_key(k).address for k in ANVIL_KEYS}
TX_LINE = re.compile(r"to (0x[0-9a-fA-F]{40}) value ([0-9]+) data (0x[0-9a-fA-F]*)")


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with start_anvil() as node:
        yield node


@dataclass
class Person:
    actor: Actor
    key: str | None = None            # anvil key = the person's wallet
    ssh_private: Path | None = None   # the renter's own SSH key file

    @property
    def address(self) -> str:
        return ADDRESS[self.key]


@dataclass
class Market:
    """One deployed escrow, one database, one sshd; the bot's runtime can be restarted."""

    anvil: Anvil
    sshd: SshdServer
    settings: Settings
    clock: Clock
    tmp_path: Path
    escrow_address: str
    start_block: int
    w3: Any
    runtime: Runtime | None = None
    senders: dict[str, TxSender] = field(default_factory=dict)

    # -- runtime ---------------------------------------------------------------------------------

    async def start(self) -> Runtime:
        self.runtime = await start_runtime(self.settings, clock=self.clock, start_block=self.start_block)
        return self.runtime

    async def restart(self) -> Runtime:
        await self.runtime.close()
        return await self.start()

    async def say(self, who: Person, text: str):
        return await self.runtime.router.handle(who.actor, text)

    async def ok(self, who: Person, text: str):
        reply = await self.say(who, text)
        assert reply.ok, f"{text!r} -> {reply.text}"
        return reply

    async def person(self, name: str, key: str | None = None) -> Person:
        return Person(await self.runtime.services.users.identify("console", name, name), key)

    # -- chain -----------------------------------------------------------------------------------

    def mine(self, n: int = 1) -> None:
        for _ in range(n):
            self.anvil.rpc("evm_mine")

    def chain_now(self) -> int:
        return int(self.anvil.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def sync_clock(self) -> None:
        self.clock.now = datetime.fromtimestamp(self.chain_now(), tz=timezone.utc)

    def warp(self, seconds: int) -> None:
        """Time passes on both clocks: the chain's (next block) and the services'."""
        self.anvil.rpc("evm_increaseTime", [seconds])
        self.mine()
        self.sync_clock()

    def escrow(self) -> EscrowClient:
        return EscrowClient(self.w3, self.escrow_address, CHAIN_ID)

    async def send_as(self, key: str, to: str, data: str, value: int) -> dict:
        sender = self.senders.setdefault(key, TxSender(self.w3, key, CHAIN_ID))
        receipt = await wait_for_receipt(self.w3, await sender.send(to, data, value), timeout_s=30)
        assert receipt["status"] == 1
        return receipt

    async def pay_reply(self, who: Person, reply_text: str) -> None:
        """Play the renter's wallet: send exactly the transactions the bot's reply lists."""
        txs = TX_LINE.findall(reply_text)
        assert txs, reply_text
        for to, value, data in txs:
            await self.send_as(who.key, to, data, int(value))

    async def unquoted_deposit(self, who: "Person", row: Rental, amount: int) -> None:
        """A deposit of `amount` for the rental, signed with the operator key but not by this bot's
        quote (what another instance with another fee, or a leaked key, could do): the guard's case."""
        from bot.chain.quotes import QuoteSigner

        rogue = EscrowClient(self.w3, self.escrow_address, CHAIN_ID,
                             quoter=QuoteSigner(OPERATOR_KEY, CHAIN_ID, self.escrow_address))
        signed = rogue.sign_quote(row.escrow_id, who.address, row.provider_address, row.token_address, amount,
                                  row.hours * 3600, row.fee_bps, self.chain_now() + 600)
        for tx in rogue.deposit_txs(signed):
            await self.send_as(who.key, tx["to"], tx["data"], tx["value"])

    async def escrow_events(self, name: str, rental_id: str) -> list[dict]:
        client = self.escrow()
        event = getattr(client.contract.events, name)
        logs = await event.get_logs(from_block=self.start_block, argument_filters={"id": bytes.fromhex(rental_id[2:])})
        return [dict(e["args"]) for e in logs]

    # -- the bot ---------------------------------------------------------------------------------

    async def tick_until(self, predicate, what: str, max_ticks: int = MAX_TICKS) -> None:
        """Mine a block and tick until `predicate()` (async) holds; at most max_ticks rounds."""
        for _ in range(max_ticks):
            if await predicate():
                return
            self.mine()
            await self.runtime.tick()
        assert await predicate(), f"not reached after {max_ticks} ticks: {what}"

    async def watch_until_funded(self, rental_id: int, max_polls: int = 5) -> None:
        """Only the watcher runs (no delivery worker): mine and poll until the deposit is applied."""
        for _ in range(max_polls):
            self.mine()
            await self.runtime.watcher.poll_once()
            if await self.state(rental_id) == "funded":
                return
        assert await self.state(rental_id) == "funded", f"deposit not applied after {max_polls} polls"

    async def rental(self, rental_id: int) -> Rental:
        async with self.runtime.services.ctx.sessions() as session:
            return await session.get(Rental, rental_id)

    async def state(self, rental_id: int) -> str:
        return (await self.rental(rental_id)).state

    async def timeline(self, rental_id: int, *, detail: bool = False) -> list[str]:
        async with self.runtime.services.ctx.sessions() as session:
            rows = (await session.scalars(select(TimelineEntry).where(TimelineEntry.rental_id == rental_id)
                                          .order_by(TimelineEntry.id))).all()
            return [f"{r.kind}: {r.detail}" if detail else r.kind for r in rows]

    async def notices(self, who: Person, rental_id: int | None = None) -> list:
        return [n for n in await self.runtime.services.outbox.pending(limit=1000)
                if n.user_id == who.actor.user_id and (rental_id is None or n.rental_id == rental_id)]

    async def link_wallet(self, who: Person) -> None:
        reply = await self.ok(who, f"/wallet link {who.address}")
        assert reply.private
        # the message (which has blank lines of its own) sits between the first and last blank line
        head, _, rest = reply.text.partition("\n\n")
        message, _, tail = rest.rpartition("\n\n")
        assert head.startswith("Sign this message") and tail.startswith("Then send /wallet verify"), reply.text
        assert who.address in message
        signature = Account.sign_message(encode_defunct(text=message), who.key).signature.to_0x_hex()
        reply = await self.ok(who, f"/wallet verify {signature}")
        assert who.address in reply.text

    async def set_ssh_key(self, who: Person) -> None:
        pair = generate_keypair(f"e2e-{who.actor.name}")
        who.ssh_private = self.tmp_path / f"{who.actor.name}.key"
        who.ssh_private.write_bytes(pair.private_openssh)
        who.ssh_private.chmod(0o600)
        await self.ok(who, f"/sshkey {pair.public}")

    async def add_host(self, provider: Person, name: str = "rig") -> str:
        """/host add with the fixture's address, install the bot's key, /host verify."""
        reply = await self.ok(provider, f"/host add {name} 127.0.0.1 {self.sshd.port} {self.sshd.provider_user}")
        assert reply.private
        # install the key exactly as the setup text tells the provider to
        (installed,) = re.findall(r"echo 'restrict (ssh-ed25519 [A-Za-z0-9+/=]+)' >> ~"
                                  + re.escape(self.sshd.provider_user) + "/.ssh/authorized_keys", reply.text)
        (view,) = [h for h in await self.runtime.services.hosts.list(provider.actor) if h.name == name]
        assert view.public_key.startswith(installed + " ")
        self.sshd.authorize(installed)
        text = (await self.ok(provider, f"/host verify {name}")).text
        assert fingerprint(self.sshd.host_key) in text, text          # the fixture's own host key is pinned
        (view,) = [h for h in await self.runtime.services.hosts.list(provider.actor) if h.name == name]
        assert view.verified and view.host_key_fingerprint == fingerprint(self.sshd.host_key)
        return text

    async def market_with_offer(self, *, gpu: str = "gpu=rtx4090 count=1 vram=24", capacity: int = 1,
                                renter_ssh_key: bool = True) -> tuple[Person, Person, int]:
        provider = await self.person("prov", PROVIDER_KEY)
        renter = await self.person("ren", RENTER_KEY)
        await self.link_wallet(provider)
        await self.link_wallet(renter)
        if renter_ssh_key:
            await self.set_ssh_key(renter)
        verified = await self.add_host(provider)
        assert "RTX 4090" in verified, verified
        reply = await self.ok(provider, f"/offer create {gpu} price=0.01 token=ETH hours=1-24 region=eu host=rig "
                                        f"capacity={capacity}")
        offer_id = int(re.search(r"Offer #([0-9]+) is listed", reply.text).group(1))
        return provider, renter, offer_id

    async def rent(self, renter: Person, offer_id: int, hours: int = 1) -> tuple[int, str]:
        reply = await self.ok(renter, f"/rent {offer_id} {hours}")
        rental_id = int(re.search(r"Rental #([0-9]+) reserved", reply.text).group(1))
        return rental_id, reply.text


@pytest.fixture
async def market(anvil: Anvil, sshd: SshdServer, database_url: str, tmp_path: Path) -> AsyncIterator[Market]:
    w3 = make_web3(anvil.rpc_url)
    address = await deploy_escrow(w3, DEPLOYER_KEY, operator=ADDRESS[OPERATOR_KEY], arbiter=ADDRESS[ARBITER_KEY],
                                  admin=ADDRESS[DEPLOYER_KEY], fee_recipient=ADDRESS[FEE_KEY], fee_bps=FEE_BPS,
                                  start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                  dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
    start_block = await w3.eth.block_number
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, master_key=generate_master_key(),
        operator_key=OPERATOR_KEY, arbiter_key=ARBITER_KEY, fee_bps=FEE_BPS,
        chain={"rpc_url": anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": address, "confirmations": 1,
               "dispute_window_s": DISPUTE_WINDOW, "start_window_s": START_WINDOW,
               "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
               "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
        ssh={"helper_path": sshd.helper, "retries": 2, "command_timeout_s": 30},
    )
    m = Market(anvil=anvil, sshd=sshd, settings=settings, clock=Clock(), tmp_path=tmp_path,
               escrow_address=address, start_block=start_block, w3=w3)
    m.sync_clock()
    await m.start()
    try:
        yield m
    finally:
        if m.runtime is not None:
            await m.runtime.close()
        for user in sshd.renters():     # never leave accounts behind for the next test
            sshd.run_helper("revoke", user)
        await w3.provider.disconnect()
