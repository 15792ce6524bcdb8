"""Disputes, support, set-up and help: /dispute, /disputes, /resolve, /setup, /help."""
from __future__ import annotations

from bot.chat import Message, code, plain
from bot.commands import render_account as ra
from bot.commands import spec
from bot.commands.call import Call
from bot.commands.cmd_market import rental_param
from bot.commands.reply import Reply
from bot.commands.spec import Autocomplete as AC
from bot.commands.spec import Param, PType, Role, command
from bot.domain.errors import InvalidInput
from bot.services.disputes import MAX_NOTE, MAX_REASON

IMPLIED_RENTAL = "dispute rental"    # filled from the dispute thread/topic the call was made in


@command("dispute", "ask support to decide a rental that went wrong", rental_param(),
         Param("reason", PType.TEXT, "what went wrong, in a sentence or two", rest=True, max_length=MAX_REASON),
         example="/dispute 7 the GPU is an RTX 3060, not a 4090")
async def _dispute(call: Call) -> Reply:
    s = call.services
    view = await s.disputes.open(call.actor, call.int("rental"), call.str("reason"))
    msg = Message().add(f"Dispute opened on rental #{view.id}; support has been told and the timeline attached.")
    views: list[object] = [view]
    on_chain = await s.payments.dispute_on_chain(call.actor, view.id)
    if on_chain is not None:
        msg.add("To freeze the rental clock on chain too:")
        payment = ra.payment_request(on_chain)
        msg.extend(payment.lines)
        msg.attachments.extend(payment.attachments)
        views.append(on_chain)
    return Reply("dispute.opened", msg, views=tuple(views))


@command("disputes", "open disputes", role=Role.SUPPORT)
async def _disputes(call: Call) -> Reply:
    items = await call.services.disputes.list_open(call.actor)
    return Reply("dispute.list", ra.dispute_list(items), views=tuple(items))


@command("resolve", "decide a dispute: the renter's share in percent (in a dispute thread the rental is implied)",
         Param("rental", PType.INT, "the disputed rental (implied inside its dispute thread)", min=1, max=2**31 - 1,
               label="rental id", marker="#", implied=IMPLIED_RENTAL, autocomplete=AC.OPEN_DISPUTES),
         Param("renter_percent", PType.INT, "the renter's share, 0 to 100", min=0, max=100, unit="%"),
         Param("note", PType.TEXT, "why, for both sides and the timeline", required=False, rest=True,
               max_length=MAX_NOTE),
         role=Role.SUPPORT, example="/resolve #7 60 host was down 2 h")
async def _resolve(call: Call) -> Reply:
    s = call.services
    rental_id, percent = call.int("rental"), call.int("renter_percent")
    view = await s.disputes.resolve(call.actor, rental_id, percent, call.str("note"))
    msg = Message().add(f"Rental #{view.id} resolved: {percent}% to the renter, {100 - percent}% to the provider.")
    unpaid = await s.disputes.payout_tx(view.id, percent)
    if unpaid is not None:
        tx, warning = unpaid
        msg.add("Recorded only: this bot holds no arbiter key, so nothing is paid yet. The arbiter must send "
                "resolve before the dispute times out on chain:")
        msg.add("    to ", code(tx["to"]), " value ", code(str(tx["value"])), " data ", code(tx["data"]))
        if warning:
            msg.add(f"Careful: {warning}")
    elif s.ctx.escrow is not None:
        msg.add("The escrow paid the split; both sides can ", code("/withdraw"), ".")
    return Reply("dispute.resolved", msg, views=(view,))


@command("setup", "admins: where this chat shows listings and disputes, and which role is support staff",
         Param("listings", PType.CHANNEL, "the channel (or chat) where offers are posted", required=False,
               keyword=True, max_length=100),
         Param("support", PType.CHANNEL, "the channel (or forum group) where disputes get a thread (topic)",
               required=False, keyword=True, max_length=100),
         Param("support_role", PType.ROLE, "members with this role are support staff here", required=False,
               keyword=True, max_length=100),
         role=Role.ADMIN, example="/setup listings=123 support=456 support_role=789")
async def _setup(call: Call) -> Reply:
    places = call.services.places
    if not call.args:
        setup = await places.setup_of(call.invocation)
        return Reply("setup.show", ra.setup_view(setup, saved=False), views=(setup,))
    setup = await places.set_up(call.actor, call.invocation, listings=call.opt("listings"),
                                support=call.opt("support"), support_role=call.opt("support_role"))
    return Reply("setup.saved", ra.setup_view(setup, saved=True), views=(setup,))


ROLE_HEADINGS = {Role.PROVIDER: "For providers:", Role.SUPPORT: "For support staff:", Role.ADMIN: "For admins:"}


@command("status", "admins: the bot's health: rentals by state, messages waiting or failed, the chain watcher",
         role=Role.ADMIN, private=True)
async def _status(call: Call) -> Reply:
    view = await call.services.status.snapshot(call.actor)
    return Reply("status", ra.status_view(view), private=True, views=(view,))


@command("help", "this list",
         Param("command", PType.TEXT, "a command to explain, e.g. rent", required=False, max_length=40))
async def _help(call: Call) -> Reply:
    name = call.str("command").lstrip("/").lower()
    if name:
        entries = [c for c in spec.TABLE.values() if c.path == name or c.name == name]
        if not entries:
            raise InvalidInput(f"no command /{name[:20]}")
        msg = Message()
        for c in entries:
            msg.add(code(c.usage), f" — {c.summary}")
            msg.extend((plain(f"  {p.name}: "), plain(p.description)) for p in c.params if p.text)
        return Reply("help", msg)
    msg = Message().add("Commands:")
    for role in Role:
        entries = [t for t in spec.top_level() if t.role is role]
        if not entries:
            continue
        if role in ROLE_HEADINGS:
            msg.add(ROLE_HEADINGS[role])
        for t in entries:
            usage = t.command.usage if t.command else f"/{t.name} " + "|".join(c.sub or "" for c in t.subcommands)
            msg.add("  ", code(usage), f" — {t.summary}")
    return Reply("help", msg)

