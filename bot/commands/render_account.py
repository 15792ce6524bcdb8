"""Payments, wallets, hosts, disputes and set-ups as platform-neutral messages."""
from __future__ import annotations

from bot.chat import Action, ActionStyle, Attachment, Message, bold, code, link, plain, pre, user
from bot.commands.render_market import when
from bot.services.payments import PaymentRequest
from bot.services.places import ChatSetup
from bot.services.views import DisputeView, HostView
from bot.wallet.links import qr_png


def payment_request(req: PaymentRequest) -> Message:
    msg = Message().add(f"{req.what}:")
    if req.sent_to_wallet:
        msg.add(f"  check your wallet: it asks you to send {len(req.txs)} transaction(s)"
                + (" (approve, then deposit)" if len(req.txs) == 2 else "") + ".")
    if req.payment_link:
        msg.add(f"  {'or pay' if req.sent_to_wallet else 'pay'} with this link in any wallet: ",
                link(req.payment_link, req.payment_link))
        msg.attachments.append(Attachment("payment.png", qr_png(req.payment_link), "image/png",
                                          "QR code of the payment link: scan it with your wallet"))
    if not req.sent_to_wallet:
        msg.add("  or send from your linked wallet, in this order:")
        for tx in req.txs:
            msg.add("    to ", code(tx["to"]), " value ", code(str(tx["value"])), " data ", code(tx["data"]))
    if req.valid_until:
        msg.add(f"  Only your linked wallet can send it, until {when(req.valid_until)}; after that the escrow "
                "refuses it (nothing is taken but gas): send ", code(req.renew), " for a fresh one.")
    msg.add("  The bot acts once the chain confirms it.")
    return msg


def wallet_link_offer(offer) -> Message:
    msg = Message().add("Scan the attached QR code with your wallet, or open one of these links on your phone:")
    for wl in offer.links:
        msg.add(f"  {wl.wallet}: ", link(wl.universal, wl.universal))
        if wl.universal.startswith("https://"):
            msg.actions.append(Action(f"Open {wl.wallet}", url=wl.universal))
    msg.add("Your wallet will then ask you to sign a free sign-in message. "
            "No WalletConnect wallet? Send ", code("/wallet link <your address>"), " instead.")
    msg.attachments.append(Attachment("walletconnect.png", offer.qr_png, "image/png",
                                      "WalletConnect pairing QR code: scan it with your wallet"))
    return msg


def sign_in_message(text: str) -> Message:
    msg = Message().add("Sign this message in your wallet (\"Sign message\" / personal_sign); it costs nothing:")
    msg.add()
    msg.add(pre(text))
    msg.add()
    return msg.add("Then send ", code("/wallet verify <signature>"), ".")


def host_line(h: HostView) -> Message:
    state = f"verified, {h.host_key_fingerprint}" if h.verified else "not verified"
    msg = Message().add(bold(h.name), f": {h.login_user}@{h.address}:{h.port} ({state})")
    if h.gpu_report:
        msg.add("  GPUs: ", user(h.gpu_report))
    return msg


def host_list(hosts: list[HostView]) -> Message:
    if not hosts:
        return Message().add("You have no hosts: ", code("/host add <name> <address> <port> <user>"))
    msg = Message()
    for h in hosts:
        msg.extend(host_line(h).lines)
    return msg


def host_setup(text: str) -> Message:
    """The set-up steps: our sentences as lines, each run of indented commands as one block."""
    msg = Message()
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith("   "):
            block.append(line)
            continue
        if block:
            msg.add(pre("\n".join(block)))
            block = []
        msg.add(line)
    if block:
        msg.add(pre("\n".join(block)))
    return msg


def host_verified(h: HostView, result) -> Message:
    msg = Message().add(f"Host {h.name} verified. Host key ", code(result.fingerprint),
                        " is now pinned: the bot will refuse any other.")
    gpus = ", ".join(f"{g.name} ({g.memory_gb:.0f} GB)" for g in result.gpus)
    msg.add("GPUs found: ", user(gpus) if gpus else plain("none"))
    kept = dict(h.kept_flagged)
    for o in h.offers:
        if o.status == "active":
            msg.add(f"Offer #{o.id} is listed.")
        elif o.id in kept:
            msg.add(f"Offer #{o.id} stays paused after a failed delivery: {kept[o.id]}. Ask support to review it.")
        elif o.status == "unlisted":
            msg.add(f"Offer #{o.id} is not listed yet: ", *[s for i, g in enumerate(o.missing) for s in (
                *((plain("; "),) if i else ()), plain(f"{g.what}: "), code(g.fix))])
    return msg


def dispute_list(items: list[DisputeView]) -> Message:
    if not items:
        return Message().add("No open disputes.")
    msg = Message().add("Open disputes:")
    for d in items:
        msg.add(f"rental #{d.rental_id} by ", user(d.opened_by), f" since {when(d.opened_at)}: ", user(d.reason[:120]))
    return msg.add("Decide: ", code("/resolve #<rental> <renter_percent> [note]"))


def setup_view(setup: ChatSetup, *, saved: bool) -> Message:
    msg = Message().add("Saved. " if saved else "", "This chat's set-up:")
    for label, value in (("listings", setup.listings), ("support", setup.support), ("support role", setup.support_role)):
        msg.add(f"  {label}: ", code(value) if value else plain("not set"))
    if not saved:
        msg.add("Change it with ", code("/setup listings=<channel> support=<channel> support_role=<role>"))
    return msg


def resolve_confirmation(rental_id: int, percent: int, note: str) -> Message:
    """Support's button to confirm a decision typed in a dispute thread."""
    msg = Message().add(f"Give {percent}% of rental #{rental_id} to the renter and {100 - percent}% to the provider?")
    args: dict[str, str | int] = {"rental": rental_id, "renter_percent": percent}
    if note:
        args["note"] = note
    msg.actions.append(Action("Confirm", "resolve", args, ActionStyle.DANGER))
    return msg


def status_view(v) -> Message:
    """/status: one line per figure, in the order an operator checks them."""
    from decimal import Decimal

    msg = Message(title="Bot status")
    rentals = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(v.rentals.items())) or "none yet"
    msg.add("Rentals: ", rentals)
    waiting = ", ".join(f"{n} on {p}" for p, n in sorted(v.deliveries_waiting.items())) or "none"
    line = ["Messages waiting: ", waiting]
    if v.oldest_waiting_s is not None:
        line.append(f" (oldest {v.oldest_waiting_s:.0f} s)")
    msg.add(*line)
    if v.deliveries_failed:
        msg.add("Messages failed for good: ",
                ", ".join(f"{n} on {p}" for p, n in sorted(v.deliveries_failed.items())))
    if v.operator is None and v.chain_head is None:
        msg.add("Chain: no escrow contract configured")
        return msg
    if v.chain_head is None:
        msg.add("Chain: the RPC does not answer")
    else:
        behind = "" if v.watcher_block is None else f", {max(v.chain_head - v.watcher_block, 0)} behind the head"
        msg.add("Chain: head ", code(str(v.chain_head)), "; watcher at ",
                code(str(v.watcher_block) if v.watcher_block is not None else "not started"), behind)
    if v.operator is not None:
        balance = "unknown" if v.operator_balance is None else f"{Decimal(v.operator_balance).scaleb(-18).normalize():f}"
        msg.add("Operator ", code(v.operator), f": {balance} in the chain's coin, for gas")
    return msg
