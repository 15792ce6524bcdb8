"""A listing post: an embed built from the offer as it is now (the delivery's `data["offer"]`),
with the core's actions as buttons (Rent, whose payload names the offer, so it works on old
posts after a restart). Provider-written fields are user text: escaped, mentions neutralised."""
from __future__ import annotations

from typing import Any

import discord

from bot.chat import Message
from bot.delivery.render import FLAGGED_REVIEW
from handlers.discord.escape import user_text
from handlers.discord.render import Outgoing, outgoing

STATUS_COLOUR = {"active": discord.Colour.green(), "paused": discord.Colour.orange()}


def listing_embed(offer: dict[str, Any]) -> discord.Embed:
    status = str(offer.get("status", "active"))
    available, capacity = int(offer.get("available", 0)), int(offer.get("capacity", 1))
    title = f"Offer #{offer['id']}: {offer['gpu_count']}x {offer['gpu_model']}"
    embed = discord.Embed(title=discord.utils.escape_markdown(title)[:256],
                          colour=STATUS_COLOUR.get(status, discord.Colour.light_grey()))
    embed.add_field(name="GPU", value=user_text(f"{offer['gpu_count']}x {offer['gpu_model']}"), inline=True)
    embed.add_field(name="VRAM", value=f"{offer['vram_gb']} GB per GPU", inline=True)
    embed.add_field(name="Price", value=f"{offer['price']} per hour", inline=True)
    embed.add_field(name="Hours", value=f"{offer['min_hours']} to {offer['max_hours']}", inline=True)
    embed.add_field(name="Region", value=user_text(str(offer["region"])), inline=True)
    reliability = offer.get("reliability_pct")
    embed.add_field(name="Provider", value=user_text(str(offer["provider"])) +
                    (f" · {reliability}% reliable" if reliability else " · new provider"), inline=True)
    if status != "active":
        availability = status
    elif available == 0:
        availability = "fully booked"
    else:
        availability = f"{available} of {capacity} free" if capacity > 1 else "free"
    embed.add_field(name="Availability", value=availability, inline=False)
    if status == "flagged" and offer.get("flag_reason"):
        embed.add_field(name="Paused after a failed delivery",
                        value=(user_text(str(offer["flag_reason"])) + "\n" + FLAGGED_REVIEW)[:1024], inline=False)
    return embed


def listing_outgoing(message: Message, data: dict[str, Any]) -> Outgoing:
    offer = data.get("offer")
    if not isinstance(offer, dict) or "id" not in offer:
        return outgoing(message, "listing")
    return Outgoing(embed=listing_embed(offer))
