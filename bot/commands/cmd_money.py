"""Paying and being paid: /pay, /extend, /end, /credentials, /wallet ..., /sshkey, /earnings, /withdraw."""
from __future__ import annotations

import re

from bot.chat import Attachment, Message, code
from bot.commands import render_account as ra
from bot.commands.call import Call
from bot.commands.cmd_market import hours_param, rental_param
from bot.commands.reply import Reply
from bot.commands.spec import Param, PType, command, group

_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----\n?", re.S)
_KEY_NAME = re.compile(r"Your private key \(([A-Za-z0-9._-]{1,64})\)")


def _payment(kind: str, request) -> Reply:
    return Reply(kind, ra.payment_request(request), views=(request,))


@command("pay", "show (or resend to your wallet) the deposit for a rental awaiting payment", rental_param(),
         example="/pay 7")
async def _pay(call: Call) -> Reply:
    return _payment("payment.request", await call.services.payments.deposit(call.actor, call.int("rental")))


@command("extend", "add hours to an active rental", rental_param(), hours_param("how many hours to add"),
         example="/extend 7 2")
async def _extend(call: Call) -> Reply:
    return _payment("payment.request", await call.services.payments.extend(call.actor, call.int("rental"),
                                                                           call.int("hours")))


@command("end", "end an active rental early; the unused time is refunded", rental_param(), example="/end 7")
async def _end(call: Call) -> Reply:
    return _payment("payment.request", await call.services.payments.end_early(call.actor, call.int("rental")))


def credentials_message(rental_id: int, text: str) -> Message:
    """The SSH login; a private key the bot made travels as a file (sensitive: DMs only), and the
    plain text says where it is."""
    msg = Message()
    key = _KEY_BLOCK.search(text)
    body = _KEY_BLOCK.sub("", text).rstrip() if key else text
    for line in body.splitlines():
        msg.add(code(line.strip()) if line.startswith("  ") else line)
    if key:
        found = _KEY_NAME.search(text)
        name = found.group(1) if found else f"gpuflow-rental-{rental_id}.key"
        msg.attachments.append(Attachment(name, key.group(0).encode(), "application/x-pem-file",
                                          "your SSH private key for this rental", sensitive=True))
        msg.add(f"(attached as {name})")
    return msg


@command("credentials", "your SSH login for an active rental (sent privately)", rental_param(), private=True,
         example="/credentials 7")
async def _credentials(call: Call) -> Reply:
    rental_id = call.int("rental")
    text = await call.services.payments.credentials(call.actor, rental_id)
    return Reply("rental.credentials", credentials_message(rental_id, text), private=True)


# ---- wallet ------------------------------------------------------------------------------------

group("wallet", "link the wallet that pays and gets refunds (Sign-In with Ethereum)", default="show")


@command("wallet show", "the wallet linked to your account")
async def _wallet_show(call: Call) -> Reply:
    address = await call.services.wallets.linked_address(call.actor)
    if address:
        return Reply("wallet.show", Message().add("Your linked wallet: ", code(address)), views=(address,))
    return Reply("wallet.show", Message().add("No wallet linked yet: ", code("/wallet link")))


@command("wallet link", "link a wallet: with WalletConnect, or by signing a message for the address you give",
         Param("address", PType.TEXT, "your wallet's address (0x...), to sign the message yourself",
               required=False, max_length=42), private=True, example="/wallet link 0x1234...")
async def _wallet_link(call: Call) -> Reply:
    s = call.services
    address = call.opt("address")
    if address is None:
        if s.ctx.bridge is None:
            return Reply("wallet.link", Message().add(
                "Send ", code("/wallet link <your address>"), " and you will get a message to sign in your wallet."),
                private=True)
        offer = await s.ctx.bridge.start_link(call.actor)
        return Reply("wallet.connect", ra.wallet_link_offer(offer), private=True, views=(offer,))
    challenge = await s.wallets.challenge(call.actor, str(address))
    return Reply("wallet.sign", ra.sign_in_message(challenge.message), private=True, views=(challenge,))


@command("wallet verify", "finish linking: paste the signature your wallet made",
         Param("signature", PType.TEXT, "the signature, 0x followed by 130 hex digits", max_length=140),
         example="/wallet verify 0xabc...")
async def _wallet_verify(call: Call) -> Reply:
    address = await call.services.wallets.verify(call.actor, call.str("signature"))
    return Reply("wallet.linked", Message().add(
        "Wallet ", code(address), " is linked. Deposits come from it and refunds go back to it."), views=(address,))


@command("wallet unlink", "forget your linked wallet")
async def _wallet_unlink(call: Call) -> Reply:
    address = await call.services.wallets.unlink(call.actor)
    return Reply("wallet.unlinked", Message().add("Wallet ", code(address), " is no longer linked."))


@command("sshkey", "set the SSH public key your rentals will accept",
         Param("key", PType.TEXT, "one line from ~/.ssh/id_ed25519.pub: ssh-ed25519 AAAA... you@laptop",
               rest=True, max_length=2200), example="/sshkey ssh-ed25519 AAAA... you@laptop")
async def _sshkey(call: Call) -> Reply:
    fp = await call.services.users.set_ssh_key(call.actor, call.str("key"))
    return Reply("sshkey.saved", Message().add(
        "SSH key saved (", code(fp), "). New rentals will accept it; no private key ever passes through chat."))


@command("earnings", "what the escrow contract owes you")
async def _earnings(call: Call) -> Reply:
    address, owed = await call.services.payments.earnings(call.actor)
    if not owed:
        return Reply("earnings", Message().add("The escrow owes ", code(address), " nothing right now."))
    return Reply("earnings", Message().add("The escrow owes ", code(address), f": {', '.join(owed)}. Collect it with ",
                                           code("/withdraw"), "."), views=(address, tuple(owed)))


@command("withdraw", "withdraw what the escrow contract owes you")
async def _withdraw(call: Call) -> Reply:
    return _payment("payment.request", await call.services.payments.withdraw(call.actor))

