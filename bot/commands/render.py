"""Plain-text rendering of service results; front-ends may dress these up (embeds, buttons)."""
from __future__ import annotations

from datetime import datetime

from bot.domain.pricing import format_amount
from bot.ssh import chat_escape
from bot.domain.states import RentalState, human
from bot.services.views import DisputeView, HostView, OfferPage, OfferView, RentalView


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "-"


def offer_line(o: OfferView) -> str:
    avail = "booked" if o.available == 0 else (f"{o.available} free" if o.capacity > 1 else "free")
    return (f"#{o.id:<5} {o.gpu_count}x {o.gpu_model:<12} {o.vram_gb:>4} GB  "
            f"{format_amount(o.price_per_hour, o.token):>14}/h  {o.region:<8} {o.min_hours}-{o.max_hours} h  "
            f"{o.provider} ({o.reliability_bps / 100:g}%)  {avail}")


def offer_page(page: OfferPage) -> str:
    if not page.offers:
        return f"No offers match{(' ' + page.query) if page.query else ''}."
    head = f"Offers{(' for ' + page.query) if page.query else ''} — page {page.page}/{page.pages}, {page.total} in all"
    lines = [head, *map(offer_line, page.offers)]
    if page.page < page.pages:
        lines.append(f"More: /offers {page.query + ' ' if page.query else ''}page={page.page + 1}")
    lines.append("Rent one: /rent <offer> <hours>")
    return "\n".join(lines)


def offer_detail(o: OfferView) -> str:
    return "\n".join([
        f"Offer #{o.id} by {o.provider} — {o.status}",
        f"GPU: {o.gpu_count}x {o.gpu_model}, {o.vram_gb} GB each",
        f"Price: {format_amount(o.price_per_hour, o.token)} per hour",
        f"Hours: {o.min_hours} to {o.max_hours}; region {o.region}",
        f"Availability: {o.available} of {o.capacity}; provider reliability {o.reliability_bps / 100:g}%",
        f"Rent: /rent {o.id} <hours>",
    ])


def rental_line(r: RentalView) -> str:
    return (f"#{r.id:<5} {r.gpu_summary:<24} {r.hours:>4} h  {format_amount(r.amount, r.token):>14}  "
            f"{human(RentalState(r.state))}")


def rental_list(rentals: list[RentalView]) -> str:
    if not rentals:
        return "You have no rentals yet. Browse with /offers."
    return "\n".join(["Your rentals:", *map(rental_line, rentals), "Details: /rental <id>"])


def rental_detail(r: RentalView) -> str:
    lines = [
        f"Rental #{r.id}: {r.gpu_summary} from {r.provider}, rented by {r.renter}",
        f"State: {human(RentalState(r.state))}",
        f"{r.hours} h at {format_amount(r.price_per_hour, r.token)}/h = {format_amount(r.amount, r.token)} "
        f"(fee {format_amount(r.fee, r.token)}, {r.fee_bps / 100:g}%)",
        f"Escrow id: {r.escrow_id}",
    ]
    if r.state == RentalState.AWAITING_DEPOSIT.value:
        lines.append(f"Deposit due by {when(r.deposit_deadline)}")
    if r.started_at:
        lines.append(f"Started {when(r.started_at)}, ends {when(r.ends_at)}")
    if r.timeline:
        lines.append("Timeline:")
        lines += [f"  {when(t.at)}  {t.text}" for t in r.timeline]
    return "\n".join(lines)


def rental_created(r: RentalView, payment_note: str) -> str:
    return "\n".join([
        f"Rental #{r.id} reserved: {r.gpu_summary} for {r.hours} h, {format_amount(r.amount, r.token)} "
        f"(fee included: {format_amount(r.fee, r.token)}).",
        f"Deposit it into escrow by {when(r.deposit_deadline)}, or the slot is released.",
        payment_note,
        f"Track it: /rental {r.id}; change your mind: /cancel {r.id}",
    ])


def dispute_list(items: list[DisputeView]) -> str:
    if not items:
        return "No open disputes."
    return "\n".join(["Open disputes:", *[
        f"rental #{d.rental_id} by {d.opened_by} since {when(d.opened_at)}: {d.reason[:120]}" for d in items
    ], "Decide: /resolve #<rental> <renter_percent> [note]"])


def host_line(h: HostView) -> str:
    state = f"verified, {h.host_key_fingerprint}" if h.verified else "not verified"
    return f"{h.name}: {h.login_user}@{h.address}:{h.port} ({state})"


def host_verified(h: HostView, result) -> str:
    gpus = ", ".join(f"{chat_escape(g.name)} ({g.memory_gb:.0f} GB)" for g in result.gpus) or "none"
    return (f"Host {h.name} verified. Host key {result.fingerprint} is now pinned: the bot will refuse any other.\n"
            f"GPUs found: {gpus}")


def payment_request(req) -> str:
    lines = [f"{req.what}:"]
    if req.sent_to_wallet:
        lines.append(f"  check your wallet: it asks you to send {len(req.txs)} transaction(s)"
                     + (" (approve, then deposit)" if len(req.txs) == 2 else "") + ".")
    if req.payment_link:
        lines.append(f"  {'or pay' if req.sent_to_wallet else 'pay'} with this link in any wallet: {req.payment_link}")
    if not req.sent_to_wallet:
        lines.append("  or send from your linked wallet, in this order:")
        for tx in req.txs:
            lines.append(f"    to {tx['to']} value {tx['value']} data {tx['data']}")
    if getattr(req, "valid_until", None):
        lines.append(f"  Only your linked wallet can send it, until {when(req.valid_until)}; after that the escrow "
                     f"refuses it (nothing is taken but gas): send {req.renew} for a fresh one.")
    lines.append("  The bot acts once the chain confirms it.")
    return "\n".join(lines)


def wallet_link_offer(offer) -> str:
    lines = ["Scan the attached QR code with your wallet, or open one of these links on your phone:"]
    lines += [f"  {link.wallet}: {link.universal}" for link in offer.links]
    lines.append("Your wallet will then ask you to sign a free sign-in message. "
                 "No WalletConnect wallet? Send /wallet link <your address> instead.")
    return "\n".join(lines)


def sign_in_message(message: str) -> str:
    return ("Sign this message in your wallet (\"Sign message\" / personal_sign); it costs nothing:\n\n"
            f"{message}\n\nThen send /wallet verify <signature>.")
