"""/resolve asks first: staff see the decision (shares, note) with Confirm and Cancel, privately;
everyone else is refused at once (the core's own checks, run without acting: router.preflight).
Confirm runs the core's /resolve as the person who pressed it; inside the dispute's thread the
outcome is posted there and the thread is then archived and locked."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.chat import Action, ActionStyle, Message, bold, user
from handlers.discord.buttons import DismissButton, view_for
from handlers.discord.invocation import invocation_of
from handlers.discord.render import outgoing

if TYPE_CHECKING:
    from handlers.discord.client import DiscordFrontend


async def confirm(frontend: DiscordFrontend, interaction: discord.Interaction, args: dict[str, Any]) -> None:
    inv = invocation_of(interaction)
    refusal, filled = await frontend.router.preflight(inv, "resolve", args)
    if refusal is not None:
        await frontend.responder.show(interaction, refusal)
        return
    share = int(filled["renter_percent"])
    msg = Message(title=f"Resolve rental #{filled['rental']}?")
    msg.add("The renter gets ", bold(f"{share}%"), ", the provider ", bold(f"{100 - share}%"), " of the deposit.")
    if filled.get("note"):
        msg.add("Note: ", user(str(filled["note"])))
    msg.add("This sends the decision to the escrow contract; it cannot be undone.")
    call = {k: v for k, v in filled.items() if v not in (None, "")}
    action = Action("Confirm", "resolve", {k: v if isinstance(v, int) else str(v) for k, v in call.items()},
                    ActionStyle.DANGER)
    view = await view_for(frontend, [action], extra=[DismissButton()])
    out = outgoing(msg, "resolve.confirm")
    await interaction.response.send_message(embeds=out.embeds, view=view, ephemeral=True)


async def close_thread(frontend: DiscordFrontend, thread_id: str) -> None:
    """After the outcome is posted: archived (hidden from the list) and locked (no more posts)."""
    client = frontend.client
    thread = client.get_channel(int(thread_id)) or await client.fetch_channel(int(thread_id))
    if isinstance(thread, discord.Thread):
        await thread.edit(archived=True, locked=True)
