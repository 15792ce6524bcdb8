"""The core renderer: each notice kind (with its data) as a platform-neutral `bot.chat.Message`.

Names, reasons and anything else people typed are USER spans (front-ends escape them and
neutralise mentions); ids, commands and addresses are CODE spans. Front-ends may draw some kinds
richly (a listing embed) from the same `data`; this is the plain form everyone can show.
"""
from __future__ import annotations

from typing import Any, Callable

from bot.chat.message import Action, ActionStyle, Attachment, Message, bold, code, plain, user
from bot.delivery.kinds import PROGRESS_STEPS, Kind, spec_of

Data = dict[str, Any]
RENDERERS: dict[Kind, Callable[[Data], Message]] = {}


def renders(*kinds: Kind):
    def register(fn: Callable[[Data], Message]) -> Callable[[Data], Message]:
        for k in kinds:
            RENDERERS[k] = fn
        return fn
    return register


def render(kind: Kind | str, data: Data, purpose: str = "dm") -> Message:
    """The message for one delivery: `purpose` progress gets the rental's progress card."""
    kind = Kind(kind)
    if purpose == "progress":
        return progress_card(kind, data)
    fn = RENDERERS.get(kind)
    if fn is None:
        raise KeyError(f"no renderer for notice kind {kind.value}")
    return fn(data)


@renders(Kind.TEXT, Kind.WALLET)
def _text(d: Data) -> Message:
    """Finished prose (the compatibility path): one plain line per line of text."""
    msg = Message()
    for line in str(d.get("text", "")).split("\n"):
        msg.add(plain(line))
    return msg


# -- listings ---------------------------------------------------------------------------------

LISTING_STATE = {"paused": "Paused by the provider", "flagged": "Paused after a failed delivery",
                 "removed": "No longer listed", "unlisted": "Not listed right now"}
FLAGGED_REVIEW = "Its provider can have it reviewed: fix the machine and verify it again, or ask support."


@renders(Kind.LISTING_CREATED, Kind.LISTING_UPDATED, Kind.LISTING_PAUSED, Kind.LISTING_RESUMED,
         Kind.LISTING_BOOKED_OUT, Kind.LISTING_AVAILABLE, Kind.LISTING_REMOVED)
def listing(d: Data) -> Message:
    """A listing post; `d["offer"]` is `offer_data(view)` of the offer as it is now."""
    o = d["offer"]
    msg = Message(title=f"Offer #{o['id']}: {o['gpu_count']}x {o['gpu_model']} {o['vram_gb']} GB")
    msg.add(bold(f"{o['price']}/h"), plain(f" · {o['min_hours']}-{o['max_hours']} h · region "),
            user(o["region"]))
    msg.add(plain("Provider "), user(o["provider"]), plain(f" · reliability {o['reliability_pct']}%"))
    status = o.get("status", "active")
    if status == "flagged" and o.get("flag_reason"):
        msg.add(bold(LISTING_STATE["flagged"]), plain(": "), user(str(o["flag_reason"])))
        msg.add(plain(FLAGGED_REVIEW))
    elif status != "active":
        msg.add(bold(LISTING_STATE.get(status, status)))
    elif o["available"] <= 0:
        msg.add(bold("Fully booked right now"))
    else:
        msg.add(plain(f"{o['available']} of {o['capacity']} available · rent with "), code(f"/rent {o['id']} <hours>"))
        msg.actions.append(Action("Rent", command="rent", args={"offer": o["id"]}, style=ActionStyle.PRIMARY))
    return msg


def offer_data(view) -> Data:
    """What a listing renderer needs, from a `bot.services.views.OfferView`."""
    from bot.domain.pricing import format_amount

    return {"id": view.id, "gpu_model": view.gpu_model, "gpu_count": view.gpu_count, "vram_gb": view.vram_gb,
            "price": format_amount(view.price_per_hour, view.token), "token": view.token.symbol,
            "min_hours": view.min_hours, "max_hours": view.max_hours, "region": view.region,
            "provider": view.provider, "reliability_pct": view.reliability_bps // 100,
            "capacity": view.capacity, "available": view.available, "status": view.status,
            "flag_reason": view.flag_reason}


# -- a rental's progress message -----------------------------------------------------------------

STEP_LABEL = {
    Kind.DEPOSIT_SEEN: "deposit seen on chain", Kind.FUNDED: "deposit confirmed",
    Kind.PROVISIONING: "setting up SSH access", Kind.GPU_VERIFIED: "GPU checked",
    Kind.READY: "ready: your login is in your direct messages", Kind.ENDING_SOON: "ending soon",
    Kind.ENDED: "ended",
}


def progress_card(kind: Kind, d: Data) -> Message:
    """The message that showed the deposit request, edited as the rental moves on."""
    rid = d.get("rental")
    msg = Message(title=f"Rental #{rid}" + (f": {d['summary']}" if d.get("summary") else ""))
    if kind is Kind.REFUNDED:
        msg.add(bold("Cancelled and refunded"), plain(": "), user(str(d.get("reason", ""))))
        return msg
    reached = PROGRESS_STEPS.index(kind) if kind in PROGRESS_STEPS else -1
    for i, step in enumerate(PROGRESS_STEPS):
        if i > reached:
            break
        if step in (Kind.DEPOSIT_SEEN, Kind.ENDING_SOON) and step is not kind:
            continue     # passing states: shown only while they are the latest news
        label = STEP_LABEL[step]
        msg.add(bold(f"▶ {label}") if step is kind else plain(f"✓ {label}"))
    if kind is Kind.ENDING_SOON and rid is not None:
        msg.actions.append(extend_action(rid))
    return msg


def extend_action(rental_id: int, hours: int = 1) -> Action:
    return Action(f"Extend rental {rental_id} by {hours} h", command="extend",
                  args={"rental": rental_id, "hours": hours}, style=ActionStyle.PRIMARY)


def is_progress_only(kind: Kind) -> bool:
    spec = spec_of(kind)
    return spec.progress and not spec.dm


def text_with_files(msg: Message) -> str:
    """The plain text with text attachments (a private key) written out: for a terminal, which
    cannot take a file, and for tests and checks."""
    out = msg.text()
    for a in msg.attachments:
        if a.is_image:
            out += f"\n[image {a.filename}]"
            continue
        try:
            out += f"\n[file {a.filename}]\n{a.data.decode()}"
        except UnicodeDecodeError:
            out += f"\n[file {a.filename}, {len(a.data)} bytes]"
    return out


def key_attachment(d: Data) -> list[Attachment]:
    if not d.get("private_key"):
        return []
    return [Attachment(filename=d.get("key_filename") or "id_ed25519", data=str(d["private_key"]).encode(),
                       mime="application/x-pem-file", description="your SSH private key (keep it private)",
                       sensitive=True)]


from bot.delivery import render_kinds  # noqa: E402,F401  (registers the other kinds' renderers)
