"""Follow the bot's own open transactions (bot.chain.journal) to their end each round: mined,
re-sent when the node lost them, replaced at a higher fee when stuck, or dropped."""
from __future__ import annotations

from bot.chain.models import TX_DROPPED, TX_REVERTED
from bot.services.fulfilment.base import Part, log


class Transactions(Part):
    async def follow_up(self) -> int:
        if self.escrow is None:
            return 0
        finished = 0
        for sender in {id(s): s for s in (self.escrow.operator, self.escrow.arbiter) if s is not None}.values():
            for done in await sender.follow_up():
                finished += 1
                if done.status in (TX_DROPPED, TX_REVERTED):
                    # the contract's record decides what follows (a new start, a refund, nothing)
                    log.info("%s transaction (nonce %d) %s", done.row.purpose, done.row.nonce, done.status)
        return finished
