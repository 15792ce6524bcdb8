"""Part 2 of `gpuflow-bot demo`: the money, the wallet and the machine, played with local stand-ins.

Every outside part is replaced by a local one from devnet/ and the output says so:
- a local chain (anvil) standing in for Ethereum, with the real GpuEscrow deployed on it;
- a local WalletConnect relay standing in for relay.walletconnect.org;
- the official WalletKit SDK in a local Node process standing in for the renter's phone wallet;
- when run as root with OpenSSH installed, a local sshd standing in for the provider's machine
  (a provider account whose only root power is the shipped helper, and a fake nvidia-smi).

The bot itself is the real runtime (bot/runtime.py) on a throw-away SQLite database, driven
through its command router like any chat front-end. Everything started here is stopped again,
on failure too. No secret is printed: the anvil accounts' keys are well known but still not
shown, and the private key block in the credentials message is redacted.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import stat
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct

from bot.chain.deploy import deploy_escrow
from bot.chain.rpc import make_web3
from bot.config import Settings, TokenSettings
from bot.crypto import generate_master_key
from bot.runtime import Runtime, start_runtime
from bot.services.views import Notice
from bot.wallet.links import qr_text
from devnet.machines import stand_in_verification
from handlers.console.repl import ConsoleFrontend

CHAIN_ID = 31337
FEE_BPS = 100
START_WINDOW = 3600
MAX_DURATION = 90 * 86400
DISPUTE_WINDOW = 600
DISPUTE_TIMEOUT = 7 * 86400
STEP_TIMEOUT_S = 45.0
SSHD_BIN = "/usr/sbin/sshd"
OFFER = "gpu=rtx4090 count=1 vram=24 price=0.01 token=ETH hours=1-24 region=eu host=rig"
_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


class StepFailed(Exception):
    """A step of the live demo did not go as expected; the message says which."""


def live_parts_missing() -> str | None:
    """Why the live part cannot run here, or None when it can."""
    from devnet.anvil import ANVIL_BIN, NODE_MODULES

    if not ANVIL_BIN.exists():
        return "anvil is not in node_modules (run `make demo`, or `npm ci`)"
    if shutil.which("node") is None or not (NODE_MODULES / "@reown" / "walletkit").exists():
        return "node and the WalletKit SDK in node_modules are needed (run `make demo`, or `npm ci`)"
    return None


def ssh_sandbox_missing() -> str | None:
    """Why the local sshd cannot stand in for a provider's machine here, or None when it can."""
    if os.geteuid() != 0:
        return "it needs root (it runs sshd and creates system accounts)"
    if not os.path.exists(SSHD_BIN) or shutil.which("ssh") is None or shutil.which("sudo") is None:
        return "it needs openssh-server, openssh-client and sudo (`bash scripts/system-deps.sh` as root)"
    return None


class ChainClock:
    """The bot's clock, kept on the local chain's time so "time passes" moves both together."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class LiveDemo:
    def __init__(self, tmp: Path, stack: contextlib.AsyncExitStack) -> None:
        self.tmp = tmp
        self.stack = stack
        self.clock = ChainClock()
        self.notices: list[Notice] = []
        self.anvil = self.w3 = self.relay = self.sshd = self.wallet = None
        self.runtime: Runtime | None = None
        self.ssh_problem: str | None = None
        self.front: ConsoleFrontend | None = None
        self._wallet_seen = 0
        from devnet.anvil import ANVIL_KEYS

        self.secrets = list(ANVIL_KEYS)
        (self.deployer_key, self.operator_key, self.arbiter_key, self.fee_key,
         self.renter_key, self.provider_key) = ANVIL_KEYS[:6]

    # ---- output -------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        text = _KEY_BLOCK.sub("[private key block redacted in the demo output; the real message carries it]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[secret]").replace(secret.removeprefix("0x"), "[secret]")
        return text

    def say(self, text: str = "") -> None:
        print(self.redact(text), flush=True)

    def _on_notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    def got(self, user_id: int, needle: str, *, sensitive: bool | None = None) -> Notice | None:
        for n in self.notices:
            if n.user_id == user_id and needle in n.body and (sensitive is None or n.sensitive == sensitive):
                return n
        return None

    def show_wallet_events(self) -> None:
        if self.wallet is None:
            return
        events = self.wallet.events
        while self._wallet_seen < len(events):
            e = events[self._wallet_seen]
            self._wallet_seen += 1
            kind = e["event"]
            text = {
                "ready": f"started with the renter's account {e.get('address')}",
                "paired": "opened the pairing URI and reached the bot through the local relay",
                "proposal": f"{e.get('proposer')} asks to connect",
                "approved": f"the renter taps Approve: account {e.get('address')} connected on chain {CHAIN_ID}",
                "rejected_session": "the renter taps Reject",
                "rejected_request": "the renter rejects the request",
                "request": f"the bot asks for {e.get('method')}",
                "answered": {"personal_sign": "signed the sign-in message (free, no transaction)",
                             "eth_sendTransaction": f"signed and sent the transaction {e.get('result')}"
                             }.get(e.get("method"), f"answered {e.get('method')}"),
                "error": f"error in {e.get('where')}: {e.get('message')}",
            }.get(kind)
            if text:
                self.say(f"  [renter's phone = WalletKit] {text}")
            if kind == "error":
                raise StepFailed(f"the wallet reported an error: {e.get('message')}")

    # ---- chain and time -----------------------------------------------------------------------

    def chain_now(self) -> datetime:
        ts = int(self.anvil.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        return datetime.fromtimestamp(ts, tz=timezone.utc)

    def sync_clock(self) -> None:
        self.clock.now = max(self.clock.now, self.chain_now())

    def warp(self, seconds: int) -> None:
        self.anvil.rpc("evm_increaseTime", [seconds])
        self.anvil.rpc("evm_mine")
        self.sync_clock()

    async def until(self, what: str, done: Callable[[], Awaitable[bool]], *,
                    step: Callable[[], Awaitable[object]] | None = None, timeout: float | None = None) -> None:
        """Mine a block and run one round of the bot's periodic work until `done()`; a block and a
        tick are what the chain and the bot's loop do by themselves in production."""
        loop = asyncio.get_running_loop()
        timeout = STEP_TIMEOUT_S if timeout is None else timeout
        deadline = loop.time() + timeout
        step = step or self.runtime.tick
        while True:
            self.show_wallet_events()
            await self.front.deliver_notices()
            if await done():
                return
            if loop.time() > deadline:
                raise StepFailed(f"{what}: not reached within {timeout:.0f} s")
            self.anvil.rpc("evm_mine")
            self.sync_clock()
            await step()
            await asyncio.sleep(0.1)    # the wallet conversation runs in the background meanwhile

    async def cmd(self, text: str, *, expect_ok: bool = True):
        reply = await self.front.command(text)
        if reply is None or reply.ok != expect_ok:
            raise StepFailed(f"{text.split()[0]} did not go as expected")
        return reply

    async def as_user(self, name: str):
        await self.front.command(f"/as {name}")
        return self.front.actor

    async def rental(self, actor, rental_id: int):
        return await self.runtime.services.rentals.show(actor, rental_id)

    # ---- the play -----------------------------------------------------------------------------

    async def start_parts(self, ssh_problem: str | None) -> None:
        from devnet.anvil import start_anvil
        from devnet.relay import LoopbackRelay

        self.anvil = start_anvil()
        self.stack.callback(self.anvil.stop)
        self.sync_clock()
        self.w3 = make_web3(self.anvil.rpc_url)
        self.stack.push_async_callback(self.w3.provider.disconnect)
        address = lambda key: Account.from_key(key).address  # noqa: E731
        escrow = await deploy_escrow(self.w3, self.deployer_key, operator=address(self.operator_key),
                                     arbiter=address(self.arbiter_key), admin=address(self.deployer_key),
                                     fee_recipient=address(self.fee_key),
                                     fee_bps=FEE_BPS, start_window=START_WINDOW, dispute_window=DISPUTE_WINDOW,
                                     dispute_timeout=DISPUTE_TIMEOUT, max_duration=MAX_DURATION)
        start_block = await self.w3.eth.block_number
        self.say(f"- local chain (anvil) standing in for Ethereum: {self.anvil.rpc_url}, chain id {CHAIN_ID}; "
                 f"the real GpuEscrow contract deployed at {escrow}. The bot's operator and arbiter, the fee "
                 "recipient, the renter and the provider use anvil's built-in test accounts (no real money).")

        self.relay = LoopbackRelay()
        await self.relay.start()
        self.stack.push_async_callback(self.relay.stop)
        self.say(f"- local relay standing in for WalletConnect's relay (relay.walletconnect.org): {self.relay.url}")
        self.say("- WalletKit standing in for the renter's phone: the official @reown/walletkit SDK in a local "
                 "Node process (devnet/wallet.mjs) opens the pairing link and approves what the renter would.")

        if ssh_problem is None:
            from devnet.sshd import SshdUnavailable, start_sshd

            try:
                self.sshd = await asyncio.to_thread(start_sshd)
            except SshdUnavailable as exc:
                ssh_problem = f"the local sshd did not start ({exc})"
            else:
                self.stack.callback(self.sshd.stop)
        if self.sshd is not None:
            self.say(f"- local sshd standing in for the provider's machine: OpenSSH on 127.0.0.1:{self.sshd.port}, "
                     f"provider account {self.sshd.provider_user} whose only root power is the shipped "
                     "gpuflow-helper (through sudo), and a fake nvidia-smi that reports one RTX 4090 (24 GB).")
        else:
            self.say(f"- no provider machine: the local sshd that stands in for one cannot run here: {ssh_problem}. "
                     "The demo stops once the deposit is confirmed on chain.")
        self.ssh_problem = ssh_problem

        settings = Settings(
            data_dir=self.tmp, database_url=f"sqlite+aiosqlite:///{self.tmp / 'live.db'}",
            master_key=generate_master_key(), operator_key=self.operator_key, arbiter_key=self.arbiter_key,
            fee_bps=FEE_BPS, deposit_timeout_s=1800,
            chain={"rpc_url": self.anvil.rpc_url, "chain_id": CHAIN_ID, "escrow_address": escrow,
                   "confirmations": 1, "start_window_s": START_WINDOW, "dispute_window_s": DISPUTE_WINDOW,
                   "dispute_timeout_s": DISPUTE_TIMEOUT, "max_duration_s": MAX_DURATION,
                   "tokens": [TokenSettings(symbol="ETH", decimals=18)]},
            walletconnect={"relay_url": self.relay.url, "app_name": "gpuflow demo"},
            ssh={"helper_path": self.sshd.helper if self.sshd else "/usr/local/sbin/gpuflow-helper",
                 "retries": 2, "command_timeout_s": 30},
        )
        self.runtime = await start_runtime(settings, clock=self.clock, start_block=start_block)
        self.stack.push_async_callback(self.runtime.close)
        self.front = ConsoleFrontend(self.runtime.app, sys.stdout, echo=True, redact=self.redact,
                                     on_notice=self._on_notice)
        self.say("- the bot: the real runtime (chain watcher, WalletConnect client, SSH provisioning) on a "
                 "throw-away SQLite database, driven through its chat commands.")

    async def provider_setup(self) -> None:
        self.say("\n## The provider links a payout wallet, registers the machine and lists it")
        provider = await self.as_user("sandbox-gpus")
        address = Account.from_key(self.provider_key).address
        reply = await self.cmd(f"/wallet link {address}")
        head, _, rest = reply.text.partition("\n\n")
        message, _, _ = rest.rpartition("\n\n")
        if address not in message:
            raise StepFailed("the sign-in message does not name the provider's address")
        signature = Account.sign_message(encode_defunct(text=message), self.provider_key).signature.to_0x_hex()
        self.say("(the provider signs that message in their own wallet, as you would in any wallet; "
                 "here with the provider's anvil test account)")
        await self.cmd(f"/wallet verify {signature}")

        if self.sshd is not None:
            reply = await self.cmd(f"/host add rig 127.0.0.1 {self.sshd.port} {self.sshd.provider_user}")
            keys = re.findall(r"echo 'restrict (ssh-ed25519 [A-Za-z0-9+/=]+)' >> ~"
                              + re.escape(self.sshd.provider_user) + r"/\.ssh/authorized_keys", reply.text)
            if len(keys) != 1:
                raise StepFailed("/host add did not give one key to install")
            self.sshd.authorize(keys[0])
            self.say("(the provider runs those set-up steps on their machine; here the demo installs that key "
                     "for the provider account of the local sshd)")
            reply = await self.cmd("/host verify rig")
            if "RTX 4090" not in reply.text:
                raise StepFailed("/host verify did not see the GPU")
        else:
            await self.cmd("/host add rig rig.sandbox-gpus.example 22 gpuflow")
            self.say("(no provider machine in this run: a stand-in answers the bot's /host verify as a machine "
                     "with one RTX 4090 would, so the offer can be listed; offers are listed only on verified hosts)")
            await self.runtime.services.hosts.record_verification(
                provider, "rig", stand_in_verification("rtx4090", 1, 24, machine="sandbox-gpus:rig"))
        reply = await self.cmd(f"/offer create {OFFER}")
        found = re.search(r"Offer #([0-9]+) is listed", reply.text)
        if not found:
            raise StepFailed("the offer was not listed")
        self.provider = provider
        self.offer_id = int(found.group(1))

    async def renter_links_wallet(self) -> None:
        from devnet.node_wallet import NodeWallet

        self.say("\n## The renter links a wallet with WalletConnect")
        renter = await self.as_user("carol")
        reply = await self.cmd("/wallet link")
        found = re.search(r"Any WalletConnect wallet: (wc:\S+)", reply.text)
        if not found:
            raise StepFailed("/wallet link gave no pairing URI")
        uri = found.group(1)
        qr = qr_text(uri)
        if len(qr.splitlines()[0]) <= min(shutil.get_terminal_size((100, 40)).columns, 100):
            self.say("(in chat the reply also carries the pairing URI as a QR code image; here it is as text:)")
            self.say(qr)
        else:
            self.say("(in chat the reply also carries the pairing URI as a QR code image; too wide for this terminal)")
        self.say("(the renter's phone is played here by the official WalletKit SDK in a local Node process, "
                 "connected to a local relay: it opens that URI as a phone does after scanning the code)")
        wallet_dir = self.tmp / "wallet"
        wallet_dir.mkdir(mode=0o700)
        self.wallet = await NodeWallet.start({"relayUrl": self.relay.url, "uri": uri, "privateKey": self.renter_key,
                                              "rpcUrl": self.anvil.rpc_url, "chainId": CHAIN_ID}, wallet_dir)
        self.stack.push_async_callback(self.wallet.stop)

        async def linked() -> bool:
            failed = self.got(renter.user_id, "Wallet not linked")
            if failed:
                raise StepFailed(f"the wallet link failed: {failed.body}")
            return self.got(renter.user_id, "is linked") is not None
        await self.until("the renter's wallet linked", linked)
        self.renter = renter

    async def rent_and_pay(self, *, provisioning: bool) -> None:
        self.say("\n## The renter rents the machine for 1 hour; the wallet sends the deposit to the escrow")
        reply = await self.cmd(f"/rent {self.offer_id} 1")
        found = re.search(r"Rental #([0-9]+) reserved", reply.text)
        if not found:
            raise StepFailed("/rent reserved nothing")
        self.rental_id = int(found.group(1))
        self.say("(each round below: the local chain mines a block and the bot "
                 + ("runs its periodic work once)" if provisioning else "reads the chain once)"))

        async def confirmed() -> bool:
            asked = [n for n in self.notices if n.user_id == self.renter.user_id
                     and n.body.startswith(f"Deposit 0.01 ETH for rental #{self.rental_id}:")]
            if asked and "your wallet sent it" not in asked[0].body:
                raise StepFailed(f"the wallet did not send the deposit: {asked[0].body}")
            return self.got(self.renter.user_id, f"Rental #{self.rental_id}: your deposit is confirmed") is not None
        # without a provider machine only the chain watcher runs: provisioning would refund at once
        step = None if provisioning else self.runtime.watcher.poll_once
        await self.until("the deposit confirmed on chain", confirmed, step=step)
        self.say(f"(deposit confirmed on chain: the escrow holds the renter's payment for rental #{self.rental_id})")

    async def deliver_and_settle(self) -> None:
        self.say("\n## The bot sets up SSH access on the provider's machine, checks the GPU, starts the rental "
                 "on chain and sends the login by direct message")

        async def credentials() -> bool:
            return self.got(self.renter.user_id, "is ready", sensitive=True) is not None
        await self.until("the credentials delivered", credentials)

        async def started() -> bool:   # the login is handed over with the start transaction, before it is mined
            return (await self.rental(self.renter, self.rental_id)).state == "active"
        await self.until("the rental started on chain", started)
        self.say("(credentials delivered privately to the renter)")
        body = self.got(self.renter.user_id, "is ready", sensitive=True).body
        user = re.search(r"user (r_[a-z0-9_]+)", body).group(1)
        key = _KEY_BLOCK.search(body)
        key_file = None
        if key:
            key_dir = self.tmp / "renter"
            key_dir.mkdir(mode=0o700)
            key_file = key_dir / f"gpuflow-{user}.key"
            key_file.write_text(key.group(0) + "\n")
            key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
            smi = self.sshd.base / "bin" / "nvidia-smi"
            command = f"id -un; {smi} --query-gpu=name,memory.total --format=csv,noheader"
            self.say(f"\nThe renter logs in with the key from that message (nvidia-smi is the sandbox's fake):\n"
                     f"$ ssh -i gpuflow-{user}.key -p {self.sshd.port} {user}@127.0.0.1 '{command}'")
            out = await asyncio.to_thread(self.sshd.ssh, user, key_file, command)
            for line in (out.stdout.decode() + out.stderr.decode()).strip().splitlines():
                self.say(f"  {line}")
            if out.returncode != 0 or "RTX 4090" not in out.stdout.decode():
                raise StepFailed("the SSH login with the delivered key failed")

        self.say("\n## One hour later (the demo moves the chain's clock and the bot's clock together)")
        self.warp(3600 + 5)

        async def revoked() -> bool:
            v = await self.rental(self.renter, self.rental_id)
            return v.state == "ended" and any(t.kind == "revoked" for t in v.timeline)
        await self.until("the rental ended and access revoked", revoked)
        if user in self.sshd.renters() or self.sshd.user_exists(user):
            raise StepFailed(f"the account {user} is still on the provider's machine")
        self.say(f"(rental ended; the account {user} and its files are gone from the provider's machine)")
        if key_file is not None:
            out = await asyncio.to_thread(self.sshd.ssh, user, key_file, "true")
            refused = out.returncode != 0
            self.say(f"$ ssh -i gpuflow-{user}.key -p {self.sshd.port} {user}@127.0.0.1 true\n  "
                     + ("refused: " + out.stderr.decode().strip().splitlines()[-1] if refused else "still logged in!"))
            if not refused:
                raise StepFailed("the login still works after the rental ended")

        self.say(f"\n## The {DISPUTE_WINDOW // 60}-minute dispute window passes with no dispute; the bot settles "
                 "on chain")
        self.warp(DISPUTE_WINDOW + 5)

        async def settled() -> bool:
            return (await self.rental(self.renter, self.rental_id)).state == "settled"
        await self.until("the rental settled", settled)
        self.say("(rental settled on chain: the provider is owed the price minus the platform fee)")
        await self.cmd(f"/rental {self.rental_id}")
        await self.as_user("sandbox-gpus")
        reply = await self.cmd("/earnings")
        if "0.0099 ETH" not in reply.text:
            raise StepFailed("/earnings does not show the provider's 0.0099 ETH")


async def run_live_demo(tmp: Path) -> int:
    """The live part; 0 when everything behaved, 1 otherwise (and says why)."""
    print("\n" + "=" * 78)
    print("Part 2: the money, the wallet and the machine, with local stand-ins")
    print("=" * 78)
    missing = live_parts_missing()
    if missing:
        print(f"Skipped: {missing}.")
        return 0
    ssh_problem = ssh_sandbox_missing()
    tmp.mkdir(mode=0o700, exist_ok=True)
    print("Nothing here touches the internet or real money. What stands in for what:")
    # Ctrl-C and SIGTERM stop the demo through the clean-up in _play, which never leaves processes,
    # system accounts or the sandbox behind
    loop, task, stopped_by = asyncio.get_running_loop(), asyncio.current_task(), []
    handled = []

    def stop(signum: int) -> None:
        if not stopped_by:
            stopped_by.append(signum)
            # a database call cut short by the stop is expected here, not worth a logged traceback
            logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
            task.cancel()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):   # not the main thread, or no signals here
            pass
    try:
        return await _play(tmp, ssh_problem)
    except asyncio.CancelledError:
        if not stopped_by:
            raise
        print(f"(stopped by {signal.Signals(stopped_by[0]).name}; everything the demo started is stopped)")
        return 128 + stopped_by[0]
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def _play(tmp: Path, ssh_problem: str | None) -> int:
    async with contextlib.AsyncExitStack() as stack:
        demo = LiveDemo(tmp, stack)
        try:
            await demo.start_parts(ssh_problem)
            await demo.provider_setup()
            await demo.renter_links_wallet()
            await demo.rent_and_pay(provisioning=demo.sshd is not None)
            if demo.sshd is not None:
                await demo.deliver_and_settle()
            else:
                demo.say(f"\nThe SSH step is skipped: {demo.ssh_problem}. The demo stops here, with the deposit "
                         "confirmed on chain (the bot would now set up access on the provider's machine, or refund "
                         "the deposit if it cannot). " + ("Run `sudo make demo` to see the rest: the login by DM, "
                         "the end of the rental, revocation and settlement." if os.geteuid() != 0 else ""))
        except Exception as exc:  # noqa: BLE001 - any failure is reported plainly, then everything is stopped
            what = str(exc) if isinstance(exc, StepFailed) else f"unexpected {type(exc).__name__}: {exc}"
            demo.say(f"\nlive part FAILED: {what}")
            if demo.wallet is not None and demo.wallet.stderr_tail:
                demo.say("  wallet's last words: " + " | ".join(demo.wallet.stderr_tail[-3:]))
            return 1
        finally:
            started = [name for name, part in (("the wallet", demo.wallet), ("the bot", demo.runtime),
                                               ("the relay", demo.relay), ("sshd and its accounts", demo.sshd),
                                               ("anvil", demo.anvil)) if part is not None]
            if started:
                print(f"\n(stopping everything the demo started: {', '.join(started)})")
    print("live part finished: everything behaved as expected")
    return 0
