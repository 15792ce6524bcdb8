"""One table of commands, used by every front-end: parse text, call a service, render a reply.

Front-ends (console, Discord, Telegram) turn their events into `handle(actor, text)` calls and
show the Reply; they hold no business rules. Slash-command front-ends build their command
trees from COMMANDS too, so names and usage stay identical everywhere.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from bot.commands import render
from bot.commands.args import parse_int, parse_offer_spec, split_command, words
from bot.domain.errors import InvalidInput, UserError
from bot.services import Actor, Services
from bot.ssh import helper_script

log = logging.getLogger(__name__)


@dataclass
class Reply:
    text: str
    ok: bool = True
    private: bool = False          # show only to the caller (ephemeral / DM)
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class CommandInfo:
    name: str
    usage: str
    summary: str
    role: str = "everyone"       # everyone | provider | support


Handler = Callable[["CommandRouter", Actor, str], Awaitable[Reply]]
COMMANDS: dict[str, tuple[CommandInfo, Handler]] = {}


def command(name: str, usage: str, summary: str, role: str = "everyone"):
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = (CommandInfo(name, usage, summary, role), fn)
        return fn
    return register


class CommandRouter:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, actor: Actor, text: str) -> Reply:
        """Never raises for bad input: a UserError becomes a plain reply with ok=False."""
        try:
            name, rest = split_command(text)
            entry = COMMANDS.get(name)
            if entry is None:
                raise InvalidInput(f"unknown command /{name}: try /help")
            return await entry[1](self, actor, rest)
        except UserError as exc:
            return Reply(f"Sorry: {exc.message}", ok=False)


# ---- browsing --------------------------------------------------------------------------------

@command("offers", "/offers [query]", "browse offers, e.g. /offers gpu=rtx4090 vram>=24 price<=0.8 sort=price")
async def _offers(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    return Reply(render.offer_page(await r.services.offers.browse(rest)))


@command("offer", "/offer <id> | /offer create|edit|pause|resume|remove ...",
         "show an offer; providers manage their own listings")
async def _offer(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    sub, _, args = rest.partition(" ")
    offers = r.services.offers
    if sub == "create":
        view = await offers.create(actor, parse_offer_spec(args))
        return Reply(f"Offer #{view.id} is listed.\n" + render.offer_detail(view))
    if sub == "edit":
        oid, _, spec = args.strip().partition(" ")
        view = await offers.edit(actor, parse_int(oid, "offer id"), parse_offer_spec(spec, allow_empty=True))
        return Reply(f"Offer #{view.id} updated.\n" + render.offer_detail(view))
    if sub in ("pause", "resume", "remove"):
        (oid,) = words(args, 1, f"/offer {sub} <id>")
        status = {"pause": "paused", "resume": "active", "remove": "removed"}[sub]
        view = await offers.set_status(actor, parse_int(oid, "offer id"), status)
        return Reply(f"Offer #{view.id} is now {view.status}.")
    (oid,) = words(rest, 1, "/offer <id>  (or /offer create|edit|pause|resume|remove ...)")
    return Reply(render.offer_detail(await offers.show(parse_int(oid, "offer id"))))


# ---- renting ---------------------------------------------------------------------------------

@command("rent", "/rent <offer> <hours>", "reserve an offer for some hours and get the deposit request")
async def _rent(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    oid, hours = words(rest, 2, "/rent <offer> <hours>, e.g. /rent 12 4")
    view = await r.services.rentals.create(actor, parse_int(oid, "offer id"), parse_int(hours, "hours", hi=99_999))
    if r.services.ctx.escrow is None:
        note = "Payment: the escrow contract is not configured on this bot, so no deposit can be made yet."
    else:
        note = render.payment_request(await r.services.payments.deposit(actor, view.id))
    return Reply(render.rental_created(view, note))


@command("pay", "/pay <id>", "show (or resend to your wallet) the deposit for a rental awaiting payment")
async def _pay(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    (rid,) = words(rest, 1, "/pay <id>")
    return Reply(render.payment_request(await r.services.payments.deposit(actor, parse_int(rid, "rental id"))))


@command("rentals", "/rentals", "your rentals, as renter or provider")
async def _rentals(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    words(rest, 0, "/rentals")
    return Reply(render.rental_list(await r.services.rentals.mine(actor)))


@command("rental", "/rental <id>", "one rental with its whole timeline")
async def _rental(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    (rid,) = words(rest, 1, "/rental <id>")
    return Reply(render.rental_detail(await r.services.rentals.show(actor, parse_int(rid, "rental id"))))


@command("cancel", "/cancel <id>", "cancel a rental you have not paid yet")
async def _cancel(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    (rid,) = words(rest, 1, "/cancel <id>")
    view = await r.services.rentals.cancel(actor, parse_int(rid, "rental id"))
    return Reply(f"Rental #{view.id} cancelled; nothing was paid.")


@command("credentials", "/credentials <id>", "your SSH login for an active rental (sent privately)")
async def _credentials(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    (rid,) = words(rest, 1, "/credentials <id>")
    return Reply(await r.services.payments.credentials(actor, parse_int(rid, "rental id")), private=True)


@command("extend", "/extend <id> <hours>", "add hours to an active rental")
async def _extend(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    rid, hours = words(rest, 2, "/extend <id> <hours>")
    request = await r.services.payments.extend(actor, parse_int(rid, "rental id"), parse_int(hours, "hours", hi=99_999))
    return Reply(render.payment_request(request))


@command("end", "/end <id>", "end an active rental early; the unused time is refunded")
async def _end(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    (rid,) = words(rest, 1, "/end <id>")
    return Reply(render.payment_request(await r.services.payments.end_early(actor, parse_int(rid, "rental id"))))


@command("dispute", "/dispute <id> <reason>", "ask support to decide a rental that went wrong")
async def _dispute(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    rid, _, reason = rest.partition(" ")
    if not rid or not reason.strip():
        raise InvalidInput("usage: /dispute <id> <reason>, e.g. /dispute 7 the GPU is an RTX 3060, not a 4090")
    view = await r.services.disputes.open(actor, parse_int(rid, "rental id"), reason)
    text = f"Dispute opened on rental #{view.id}; support has been told and the timeline attached."
    on_chain = await r.services.payments.dispute_on_chain(actor, view.id)
    if on_chain is not None:
        text += "\nTo freeze the rental clock on chain too:\n" + render.payment_request(on_chain)
    return Reply(text)


# ---- wallet, keys, money ---------------------------------------------------------------------

@command("wallet", "/wallet [link [address] | verify <signature> | unlink]",
         "link the wallet that pays and gets refunds (Sign-In with Ethereum)")
async def _wallet(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    parts = rest.split()
    sub = parts[0].lower() if parts else ""
    wallets = r.services.wallets
    if sub == "":
        address = await wallets.linked_address(actor)
        return Reply(f"Your linked wallet: {address}" if address else "No wallet linked yet: /wallet link")
    if sub == "link" and len(parts) == 1:
        bridge = r.services.ctx.bridge
        if bridge is None:
            return Reply("Send /wallet link <your address> and you will get a message to sign in your wallet.")
        offer = await bridge.start_link(actor)
        return Reply(render.wallet_link_offer(offer), private=True, attachments=[("walletconnect.png", offer.qr_png)])
    if sub == "link" and len(parts) == 2:
        challenge = await wallets.challenge(actor, parts[1])
        return Reply(render.sign_in_message(challenge.message), private=True)
    if sub == "verify" and len(parts) == 2:
        address = await wallets.verify(actor, parts[1])
        return Reply(f"Wallet {address} is linked. Deposits come from it and refunds go back to it.")
    if sub == "unlink" and len(parts) == 1:
        return Reply(f"Wallet {await wallets.unlink(actor)} is no longer linked.")
    raise InvalidInput("usage: /wallet [link [address] | verify <signature> | unlink]")


@command("sshkey", "/sshkey <public key>", "set the SSH public key your rentals will accept")
async def _sshkey(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    if not rest:
        raise InvalidInput("usage: /sshkey ssh-ed25519 AAAA... (the contents of ~/.ssh/id_ed25519.pub)")
    fp = await r.services.users.set_ssh_key(actor, rest)
    return Reply(f"SSH key saved ({fp}). New rentals will accept it; no private key ever passes through chat.")


@command("earnings", "/earnings", "what the escrow contract owes you")
async def _earnings(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    words(rest, 0, "/earnings")
    address, owed = await r.services.payments.earnings(actor)
    if not owed:
        return Reply(f"The escrow owes {address} nothing right now.")
    return Reply(f"The escrow owes {address}: {', '.join(owed)}. Collect it with /withdraw.")


@command("withdraw", "/withdraw", "withdraw what the escrow contract owes you")
async def _withdraw(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    words(rest, 0, "/withdraw")
    return Reply(render.payment_request(await r.services.payments.withdraw(actor)))


# ---- providers -------------------------------------------------------------------------------

@command("host", "/host add <name> <address> <port> <user> | verify <name> | list",
         "register and check the machines you rent out", role="provider")
async def _host(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    sub, _, args = rest.partition(" ")
    if sub == "add":
        name, address, port, user = words(args, 4, "/host add <name> <address> <port> <user>")
        view = await r.services.hosts.add(actor, name, address, parse_int(port, "port", hi=65535), user)
        return Reply(r.services.hosts.setup_text(view), private=True,
                     attachments=[("gpuflow-helper", helper_script())])
    if sub == "list":
        hosts = await r.services.hosts.list(actor)
        return Reply("\n".join(map(render.host_line, hosts)) if hosts else "You have no hosts: /host add ...")
    if sub == "verify":
        (name,) = words(args, 1, "/host verify <name>")
        view, result = await r.services.hosts.verify(actor, name)
        return Reply(render.host_verified(view, result))
    raise InvalidInput("usage: /host add <name> <address> <port> <user> | /host verify <name> | /host list")


# ---- support ---------------------------------------------------------------------------------

@command("disputes", "/disputes", "open disputes", role="support")
async def _disputes(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    return Reply(render.dispute_list(await r.services.disputes.list_open(actor)))


@command("resolve", "/resolve [#rental] <renter_percent> [note]",
         "decide a dispute: the renter's share in percent (in a dispute thread the rental is implied)",
         role="support")
async def _resolve(r: CommandRouter, actor: Actor, rest: str, *, rental_id: int | None = None) -> Reply:
    parts = rest.split(maxsplit=1)
    if parts and parts[0].startswith("#"):
        rental_id = parse_int(parts[0], "rental id")
        parts = parts[1].split(maxsplit=1) if len(parts) > 1 else []
    if rental_id is None or not parts:
        raise InvalidInput("usage: /resolve #<rental> <renter_percent> [note], e.g. /resolve #7 60 host was down 2 h")
    percent = parse_int(parts[0].rstrip("%"), "renter percent", lo=0, hi=100)
    view = await r.services.disputes.resolve(actor, rental_id, percent, parts[1] if len(parts) > 1 else "")
    text = f"Rental #{view.id} resolved: {percent}% to the renter, {100 - percent}% to the provider."
    unpaid = await r.services.disputes.payout_tx(view.id, percent)
    if unpaid is not None:
        tx, warning = unpaid
        text += ("\nRecorded only: this bot holds no arbiter key, so nothing is paid yet. The arbiter must send "
                 "resolve before the dispute times out on chain:\n"
                 f"    to {tx['to']} value {tx['value']} data {tx['data']}")
        if warning:
            text += f"\nCareful: {warning}"
    elif r.services.ctx.escrow is not None:
        text += " The escrow paid the split; both sides can /withdraw."
    return Reply(text)


@command("help", "/help [command]", "this list")
async def _help(r: CommandRouter, actor: Actor, rest: str) -> Reply:
    name = rest.strip().lstrip("/").lower()
    if name:
        entry = COMMANDS.get(name)
        if entry is None:
            raise InvalidInput(f"no command /{name[:20]}")
        return Reply(f"{entry[0].usage}\n{entry[0].summary}")
    lines = ["Commands:"]
    for role in ("everyone", "provider", "support"):
        if role != "everyone":
            lines.append("For providers:" if role == "provider" else "For support staff:")
        lines += [f"  {info.usage} — {info.summary}" for info, _ in COMMANDS.values() if info.role == role]
    return Reply("\n".join(lines))
