"""Browsing, listing and renting: /offers, /offer ..., /rent, /rentals, /rental, /cancel."""
from __future__ import annotations

import re

from bot.chat import Message
from bot.commands import render_account as ra
from bot.commands import render_market as rm
from bot.commands.call import Call
from bot.commands.reply import Reply
from bot.commands.spec import Autocomplete as AC
from bot.commands.spec import Param, PType, command, group
from bot.domain.errors import InvalidInput
from bot.domain.query import MAX_QUERY_LENGTH, normalize_gpu
from bot.services import OfferSpec
from bot.services.offers import MAX_HOURS

MAX_ID = 2**31 - 1
_RANGE_RE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")
SORTS = ("price", "-price", "vram", "-vram", "count", "-count", "reliability", "-reliability")


def offer_param(autocomplete: AC = AC.OFFER, **kw) -> Param:
    return Param("offer", PType.INT, "the offer's number, e.g. 12", min=1, max=MAX_ID, label="offer id",
                 autocomplete=autocomplete, **kw)


def rental_param(**kw) -> Param:
    return Param("rental", PType.INT, "the rental's number, e.g. 7", min=1, max=MAX_ID, label="rental id",
                 autocomplete=AC.MY_RENTALS, **kw)


def hours_param(description: str) -> Param:
    return Param("hours", PType.INT, description, min=1, max=MAX_HOURS)


def _hours_range(value: str) -> dict[str, str]:
    """offer create's text shorthand: hours=1-72 (min-max) or hours=72 (1 to 72)."""
    m = _RANGE_RE.fullmatch(value)
    return {"min_hours": m.group(1), "max_hours": m.group(2)} if m else {"min_hours": "1", "max_hours": value}


def spec_params(required: bool) -> tuple[Param, ...]:
    kw = dict(keyword=True)
    return (
        Param("gpu", PType.TEXT, "GPU model, e.g. rtx4090 or A100-80GB", required=required, max_length=40,
              autocomplete=AC.GPU_MODEL, **kw),
        Param("count", PType.INT, "GPUs in the machine", required=required, min=1, max=64, **kw),
        Param("vram", PType.INT, "memory per GPU in GB", required=required, min=1, max=4096, **kw),
        Param("price", PType.DECIMAL, "price per hour in the token, e.g. 0.5", required=required, max_length=60, **kw),
        Param("min_hours", PType.INT, "shortest rental in hours", required=required, min=1, max=MAX_HOURS, **kw),
        Param("max_hours", PType.INT, "longest rental in hours", required=required, min=1, max=MAX_HOURS, **kw),
        Param("region", PType.TEXT, "region code, e.g. eu, us-east", required=required, max_length=32,
              autocomplete=AC.REGION, **kw),
        Param("token", PType.TEXT, "the token it is priced in (default: the first accepted)", required=False,
              max_length=12, autocomplete=AC.TOKEN, **kw),
        Param("host", PType.TEXT, "which of your hosts (needed if you have several)", required=False,
              max_length=32, autocomplete=AC.MY_HOSTS, **kw),
        Param("capacity", PType.INT, "how many rentals at once (default 1)", required=False, min=1, max=64, **kw),
        Param("hours", PType.TEXT, "shortest-longest rental in hours, e.g. 1-72", required=False, max_length=12,
              typed=False, expand=_hours_range, expands_to=("min_hours", "max_hours"), hint="min-max", **kw),
    )


def offer_spec(call: Call) -> OfferSpec:
    names = ("gpu", "count", "vram", "price", "token", "min_hours", "max_hours", "region", "host", "capacity")
    return OfferSpec(**{n: call.args.get(n) for n in names})   # type: ignore[arg-type]


def compile_query(call: Call) -> str:
    """The typed options of /offers as terms of the query language, after the free query."""
    terms = [call.str("query")]
    if call.opt("gpu") is not None:
        gpu = normalize_gpu(call.str("gpu"))
        if not gpu:
            raise InvalidInput("gpu must be a model name like rtx4090")
        terms.append(f"gpu={gpu}")
    for name, term in (("min_vram", "vram>={}"), ("max_price", "price<={}"), ("count", "count>={}"),
                       ("region", "region={}"), ("sort", "sort={}"), ("page", "page={}")):
        if call.opt(name) is not None:
            terms.append(term.format(call.args[name]))
    query = " ".join(t for t in terms if t)
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"query is too long (at most {MAX_QUERY_LENGTH} characters)")
    return query


@command("offers", "browse offers, e.g. /offers gpu=rtx4090 vram>=24 price<=0.8 sort=price",
         Param("query", PType.QUERY, "filters in the query language: gpu=rtx4090 vram>=24 price<=0.8 sort=price",
               required=False, rest=True, max_length=MAX_QUERY_LENGTH),
         Param("gpu", PType.TEXT, "GPU model", required=False, max_length=40, autocomplete=AC.GPU_MODEL, text=False),
         Param("min_vram", PType.INT, "at least this much memory per GPU, in GB", required=False, min=1, max=4096,
               text=False),
         Param("max_price", PType.DECIMAL, "at most this price per hour", required=False, max_length=30, text=False),
         Param("count", PType.INT, "at least this many GPUs", required=False, min=1, max=64, text=False),
         Param("region", PType.TEXT, "region code, e.g. eu", required=False, max_length=32, autocomplete=AC.REGION,
               text=False),
         Param("sort", PType.CHOICE, "order: price, vram, count or reliability; -field for descending",
               required=False, choices=SORTS, text=False),
         Param("page", PType.INT, "which page", required=False, min=1, max=10_000, text=False),
         example="/offers gpu=rtx4090 vram>=24 sort=price")
async def _offers(call: Call) -> Reply:
    page = await call.services.offers.browse(compile_query(call))
    return Reply("offers.page", rm.offer_page(page), views=(page,))


group("offer", "show an offer; providers manage their own listings", default="show")


@command("offer show", "one offer in full", offer_param(), example="/offer 12")
async def _offer_show(call: Call) -> Reply:
    view = await call.services.offers.show(call.int("offer"), call.actor)
    return Reply("offer.show", rm.offer_detail(view), views=(view,))


@command("offer create", "list one of your machines", *spec_params(True),
         example="/offer create gpu=rtx4090 count=1 vram=24 price=0.5 hours=1-72 region=eu")
async def _offer_create(call: Call) -> Reply:
    view = await call.services.offers.create(call.actor, offer_spec(call))
    return Reply("offer.created", rm.offer_detail(view, rm.offer_heading(view, "is listed")), views=(view,))


@command("offer edit", "change your offer (only the settings given)", offer_param(AC.MY_OFFERS),
         *spec_params(False), example="/offer edit 12 price=0.45 max_hours=48")
async def _offer_edit(call: Call) -> Reply:
    view = await call.services.offers.edit(call.actor, call.int("offer"), offer_spec(call))
    heading = f"Offer #{view.id} updated." + (" It is not listed yet." if view.status == "unlisted" else "")
    return Reply("offer.updated", rm.offer_detail(view, heading), views=(view,))


def _status_command(sub: str, status: str, summary: str) -> None:
    @command(f"offer {sub}", summary, offer_param(AC.MY_OFFERS), example=f"/offer {sub} 12")
    async def _set(call: Call) -> Reply:
        view = await call.services.offers.set_status(call.actor, call.int("offer"), status)
        msg = Message().add(rm.offer_heading(view, f"is now {view.status}"))
        return Reply("offer.status", msg.extend(rm.listing_state(view)), views=(view,))


_status_command("pause", "paused", "stop renting it out for now")
_status_command("resume", "active", "rent it out again")
_status_command("remove", "removed", "take it off the market for good")


@command("rent", "reserve an offer for some hours and get the deposit request",
         offer_param(), hours_param("how many hours"), example="/rent 12 4")
async def _rent(call: Call) -> Reply:
    s = call.services
    view = await s.rentals.create(call.actor, call.int("offer"), call.int("hours"))
    payment, views = None, [view]
    if s.ctx.escrow is not None:
        request = await s.payments.deposit(call.actor, view.id)
        payment = ra.payment_request(request)
        views.append(request)
    return Reply("rental.created", rm.rental_created(view, payment), views=tuple(views))


@command("rentals", "your rentals, as renter or provider")
async def _rentals(call: Call) -> Reply:
    views = await call.services.rentals.mine(call.actor)
    return Reply("rental.list", rm.rental_list(views), views=tuple(views))


@command("rental", "one rental with its whole timeline", rental_param(), example="/rental 7")
async def _rental(call: Call) -> Reply:
    view = await call.services.rentals.show(call.actor, call.int("rental"))
    return Reply("rental.show", rm.rental_detail(view, is_renter=view.renter_id == call.actor.user_id), views=(view,))


@command("cancel", "cancel a rental you have not paid yet", rental_param(), example="/cancel 7")
async def _cancel(call: Call) -> Reply:
    view = await call.services.rentals.cancel(call.actor, call.int("rental"))
    return Reply("rental.cancelled", Message().add(f"Rental #{view.id} cancelled; nothing was paid."), views=(view,))
