"""The bot's own side of a rental: provision access once funded, start it on chain, revoke it
at the end, settle, and refund what cannot be delivered.

Each step is claimed with a guarded state change before any side effect, so two workers (or a
restart in the middle) never provision, start or refund the same rental twice; side effects
themselves are idempotent (re-creating an account revokes the old one first; the bot's chain
transactions are journaled before they are sent and decided from the contract's record; pushing
a key's expiry out rewrites the same key line). One job per module:

  transactions  follow the bot's own open transactions (mined, re-sent, replaced, dropped)
  refunding     flag what cannot be delivered; cancel on chain when the record says so
  provisioning  claim, set up the account and check the GPUs, compare with the chain
  starting      send the start once, decide from the record, record it with the chain's end
  delivery      the sealed credentials and the one place a start is recorded
  ending        end due rentals, keep key expiries past the end, revoke closed rentals
  settling      settle on chain what is due
  hosts         remove stray accounts on hosts

Every step is guarded: a failing step (an RPC outage, a database conflict) is logged and the
others still run; inside a step, one rental's failure never stops the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.chain.escrow import EscrowClient
from bot.services.context import ServiceContext
from bot.services.fulfilment.base import describe, log
from bot.services.fulfilment.delivery import credentials_text, open_credentials, record_start
from bot.services.fulfilment.ending import Ending
from bot.services.fulfilment.hosts import HostHygiene
from bot.services.fulfilment.provisioning import Claim, Provisioning
from bot.services.fulfilment.refunding import Refunds
from bot.services.fulfilment.settling import Settling
from bot.services.fulfilment.starting import Starter
from bot.services.fulfilment.transactions import Transactions
from bot.ssh import SshPool

__all__ = ["Fulfilment", "WorkReport", "credentials_text", "open_credentials", "record_start"]


@dataclass
class WorkReport:
    provisioned: int = 0
    refunds_sent: int = 0
    ended: int = 0
    extended: int = 0
    revoked: int = 0
    settled: int = 0
    txs_finished: int = 0
    failed_steps: int = 0


class Fulfilment:
    def __init__(self, ctx: ServiceContext, escrow: EscrowClient | None, ssh: SshPool | None) -> None:
        self.ctx = ctx
        self.escrow = escrow
        self.ssh = ssh
        self.transactions = Transactions(ctx, escrow, ssh)
        self.refunds = Refunds(ctx, escrow, ssh)
        self.starter = Starter(ctx, escrow, ssh, self.refunds)
        self.provisioning = Provisioning(ctx, escrow, ssh, self.refunds, self.starter)
        self.ending = Ending(ctx, escrow, ssh)
        self.settling = Settling(ctx, escrow, ssh)
        self.hosts = HostHygiene(ctx, escrow, ssh)

    async def run_once(self) -> WorkReport:
        report = WorkReport()

        async def step(field: str, call) -> None:
            try:
                setattr(report, field, await call())
            except Exception as exc:  # noqa: BLE001 - one failing step never stops the others
                report.failed_steps += 1
                log.warning("fulfilment step %s failed, retrying next round: %s", field, describe(exc))

        if self.escrow is not None:
            await step("txs_finished", self.transactions.follow_up)
            await step("refunds_sent", self.refunds.send_due)
            await step("provisioned", self.provisioning.run)
        await step("ended", self.ending.end_due)
        await step("extended", self.ending.extend_access)
        await step("revoked", self.ending.revoke_closed)
        if self.escrow is not None:
            await step("settled", self.settling.settle_due)
        return report

    # the single steps, for the runtime's slower loops and for tests
    async def take_over(self) -> int:
        """This process just became the only worker: take up at once what an earlier one left
        claimed (a crash mid-provisioning), instead of waiting for its lease to run out."""
        return await self.provisioning.release_claims()

    async def provision_funded(self) -> int:
        return await self.provisioning.run()

    async def _claim_for_provisioning(self, rental_id: int) -> Claim | None:
        return await self.provisioning.claim(rental_id)

    async def send_refunds(self) -> int:
        return await self.refunds.send_due()

    async def end_due(self) -> int:
        return await self.ending.end_due()

    async def extend_access(self) -> int:
        return await self.ending.extend_access()

    async def revoke_closed(self) -> int:
        return await self.ending.revoke_closed()

    async def settle_due(self) -> int:
        return await self.settling.settle_due()

    async def reconcile_hosts(self) -> int:
        return await self.hosts.reconcile_hosts()
