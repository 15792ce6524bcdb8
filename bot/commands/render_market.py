"""Offers and rentals as platform-neutral messages: lines of spans (provider- and user-written
text as USER spans) and actions, with no column alignment (chat fonts are proportional)."""
from __future__ import annotations

from datetime import datetime

from bot.chat import Action, ActionStyle, Line, Message, bold, code, plain, user
from bot.domain.pricing import format_amount
from bot.domain.states import RentalState, human
from bot.services.views import OfferPage, OfferView, RentalView

SEP = " · "


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "-"


def reliability_text(o: OfferView) -> str:
    return "new provider" if o.provider_new else f"{o.reliability_bps / 100:g}%"


def availability(o: OfferView) -> str:
    return "booked" if o.available == 0 else (f"{o.available} free" if o.capacity > 1 else "free")


def offer_line(o: OfferView) -> Line:
    return (bold(f"#{o.id}"), plain(" "), user(f"{o.gpu_count}x {o.gpu_model}"),
            plain(f" {o.vram_gb} GB{SEP}{format_amount(o.price_per_hour, o.token)}/h{SEP}"), user(o.region),
            plain(f"{SEP}{o.min_hours}-{o.max_hours} h{SEP}"), user(o.provider),
            plain(f" ({reliability_text(o)}){SEP}{availability(o)}"))


def _query_with_page(query: str, page: int) -> str:
    terms = [t for t in query.split() if not t.startswith("page=")]
    if page > 1:
        terms.append(f"page={page}")
    return " ".join(terms)


def offer_page(page: OfferPage) -> Message:
    q = page.query
    if not page.offers:
        return Message().add("No offers match", *((" ", user(q)) if q else ()), ".")
    msg = Message()
    msg.add("Offers", *((" for ", user(q)) if q else ()),
            f" — page {page.page}/{page.pages}, {page.total} in all")
    msg.extend(offer_line(o) for o in page.offers)
    if page.page < page.pages:
        msg.add("More: ", code(f"/offers {_query_with_page(q, page.page + 1)}"))
    msg.add("Rent one: ", code("/rent <offer> <hours>"))
    if page.page > 1:
        msg.actions.append(Action("Previous page", "offers", {"query": _query_with_page(q, page.page - 1)}))
    if page.page < page.pages:
        msg.actions.append(Action("Next page", "offers", {"query": _query_with_page(q, page.page + 1)},
                                  ActionStyle.PRIMARY))
    return msg


STATUS_TEXT = {"unlisted": "not listed yet"}


def offer_heading(o: OfferView, done: str) -> str:
    """'Offer #3 is listed.' or, while something is missing, 'Offer #3 is saved, not listed yet.'"""
    if o.status == "unlisted":
        return f"Offer #{o.id} is saved, not listed yet."
    return f"Offer #{o.id} {done}."


def listing_state(o: OfferView) -> list[Line]:
    """Why an offer is not listed (and the commands that fix it), or why it is flagged and how it
    gets reviewed: the reasons are in the owner's view only (OfferService.show)."""
    lines: list[Line] = []
    if o.status == "flagged":
        lines.append((plain("Paused after a failed delivery"),
                      *((plain(": "), user(o.flag_reason)) if o.flag_reason else ())))
        if o.review:     # our words and the host's name (lowercase letters, digits, '-')
            lines.append((plain(f"To get it reviewed: {o.review}"),))
    if o.missing:
        lines.append((plain("Not listed until this is done:" if o.status == "unlisted" else
                            "Not shown to renters until this is done:"),))
        lines.extend((plain(f"  - {g.what}: "), code(g.fix)) for g in o.missing)
    elif o.status == "unlisted":
        lines.append((plain("Not listed right now: its provider has not finished setting it up."),))
    return lines


def offer_detail(o: OfferView, heading: str | None = None) -> Message:
    msg = Message()
    if heading:
        msg.add(heading)
    msg.add(f"Offer #{o.id} by ", user(o.provider), f" — {STATUS_TEXT.get(o.status, o.status)}")
    msg.add("GPU: ", user(f"{o.gpu_count}x {o.gpu_model}"), f", {o.vram_gb} GB each")
    msg.add(f"Price: {format_amount(o.price_per_hour, o.token)} per hour")
    msg.add(f"Hours: {o.min_hours} to {o.max_hours}; region ", user(o.region))
    msg.add(f"Availability: {o.available} of {o.capacity}; provider reliability {reliability_text(o)}")
    msg.extend(listing_state(o))
    if o.status == "active":
        msg.add("Rent: ", code(f"/rent {o.id} <hours>"))
    if o.status == "active" and o.available:
        msg.actions.append(Action(f"Rent offer {o.id}", "rent", {"offer": o.id}, ActionStyle.PRIMARY))
    return msg


def rental_line(r: RentalView) -> Line:
    return (bold(f"#{r.id}"), plain(" "), user(r.gpu_summary),
            plain(f"{SEP}{r.hours} h{SEP}{format_amount(r.amount, r.token)}{SEP}{human(RentalState(r.state))}"))


def rental_list(rentals: list[RentalView]) -> Message:
    if not rentals:
        return Message().add("You have no rentals yet. Browse with ", code("/offers"), ".")
    msg = Message().add("Your rentals:")
    msg.extend(rental_line(r) for r in rentals)
    return msg.add("Details: ", code("/rental <id>"))


def rental_actions(r: RentalView, *, is_renter: bool = True) -> list[Action]:
    """What the renter can do next, as buttons."""
    if not is_renter:
        return []
    state = RentalState(r.state)
    if state is RentalState.AWAITING_DEPOSIT:
        return [Action(f"Pay rental {r.id}", "pay", {"rental": r.id}, ActionStyle.PRIMARY),
                Action("Cancel", "cancel", {"rental": r.id}, ActionStyle.DANGER)]
    if state is RentalState.ACTIVE:
        return [Action(f"Extend rental {r.id} by 1 h", "extend", {"rental": r.id, "hours": 1}, ActionStyle.PRIMARY),
                Action("SSH login", "credentials", {"rental": r.id}),
                Action("End now", "end", {"rental": r.id}, ActionStyle.DANGER)]
    return []


def rental_detail(r: RentalView, *, is_renter: bool = True) -> Message:
    msg = Message()
    msg.add(f"Rental #{r.id}: ", user(r.gpu_summary), " from ", user(r.provider), ", rented by ", user(r.renter))
    msg.add(f"State: {human(RentalState(r.state))}")
    msg.add(f"{r.hours} h at {format_amount(r.price_per_hour, r.token)}/h = {format_amount(r.amount, r.token)} "
            f"(fee {format_amount(r.fee, r.token)}, {r.fee_bps / 100:g}%)")
    msg.add("Escrow id: ", code(r.escrow_id))
    if r.state == RentalState.AWAITING_DEPOSIT.value:
        msg.add(f"Deposit due by {when(r.deposit_deadline)}")
    if r.started_at:
        msg.add(f"Started {when(r.started_at)}, ends {when(r.ends_at)}")
    if r.timeline:
        msg.add("Timeline:")
        msg.extend((plain(f"  {when(t.at)}  "), user(t.text)) for t in r.timeline)
    msg.actions.extend(rental_actions(r, is_renter=is_renter))
    return msg


def rental_created(r: RentalView, payment: Message | None) -> Message:
    msg = Message()
    msg.add(f"Rental #{r.id} reserved: ", user(r.gpu_summary),
            f" for {r.hours} h, {format_amount(r.amount, r.token)} (fee included: {format_amount(r.fee, r.token)}).")
    msg.add(f"Deposit it into escrow by {when(r.deposit_deadline)}, or the slot is released.")
    if payment is None:
        msg.add("Payment: the escrow contract is not configured on this bot, so no deposit can be made yet.")
    else:
        msg.extend(payment.lines)
        msg.actions.extend(payment.actions)
        msg.attachments.extend(payment.attachments)
    msg.add("Track it: ", code(f"/rental {r.id}"), "; change your mind: ", code(f"/cancel {r.id}"))
    msg.actions.append(Action("Cancel", "cancel", {"rental": r.id}, ActionStyle.DANGER))
    return msg
