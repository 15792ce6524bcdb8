"""Notices and their delivery per platform: kinds, fan-out, the claim/mark queue front-ends use,
places, message references and timers. See bot/chat/DELIVERY.md.

Import the submodules directly (bot.db.models imports bot.delivery.models while it loads)."""
