"""At start, the running bot takes its escrow's truth: the contract's fee, windows, timeout and
longest rental replace the configured values in this process (quotes, deadlines and settlement all
follow the chain), every disagreement is logged and told to support once, and quoting stops when
the contract is not the one this bot can work with (another code, another version, an operator key
that is not its operator). The configuration file itself is not changed: `check-config --online`
lists the same disagreements for the operator to fix."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from bot.chain.truth import ContractTruth, blocking_problems, describe, disagreements, read_truth
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.services.context import ServiceContext

log = logging.getLogger(__name__)


@dataclass
class ContractState:
    """What the running bot knows of its contract (None until it could be read)."""

    truth: ContractTruth | None = None
    blocking: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)


async def adopt_contract_truth(ctx: ServiceContext) -> ContractState | None:
    """Read the contract and take its values; None (logged) when the RPC cannot be reached: the
    runtime tries again on its next tick, and nothing is quoted meanwhile."""
    try:
        truth = await read_truth(ctx.escrow)
    except Exception as exc:  # noqa: BLE001 - a transient fault never stops the bot
        log.warning("could not read the escrow contract's parameters yet (%s); retrying on the next tick",
                    type(exc).__name__)
        return None
    settings = ctx.settings.model_copy(deep=True)     # the caller's settings object stays as configured
    state = ContractState(truth, blocking_problems(settings, truth), disagreements(settings, truth))
    for line in describe(truth):
        log.info("escrow: %s", line)
    for problem in state.disagreements:
        log.error("escrow and configuration disagree: %s", problem)
    p = truth.parameters
    settings.fee_bps = p.fee_bps
    settings.chain.start_window_s, settings.chain.dispute_window_s = p.start_window, p.dispute_window
    settings.chain.dispute_timeout_s, settings.chain.max_duration_s = p.dispute_timeout, p.max_duration
    ctx.settings = settings
    if state.disagreements:
        digest = hashlib.sha256("\n".join(state.disagreements).encode()).hexdigest()[:16]
        async with ctx.sessions.begin() as session:
            await notify(session, Kind.CONTRACT_DISAGREES, f"contract-disagrees:{truth.address}:{digest}",
                         data={"address": truth.address, "problems": list(state.disagreements),
                               "blocking": bool(state.blocking)})
    ctx.contract = state
    return state


async def compare_online(settings) -> tuple[list[str], list[str]]:
    """For `check-config --online`: the contract's truth as lines, and every disagreement (or why the
    contract could not be read) as problems."""
    from bot.chain.escrow import EscrowClient
    from bot.chain.rpc import make_web3
    from bot.doctor.explain import describe_failure
    from bot.observability.redact import redact

    c = settings.chain
    if not c.escrow_address:
        return ["no escrow configured (chain.escrow_address): nothing to compare"], []
    w3 = make_web3(c.rpc_url, timeout_s=10)
    try:
        try:
            truth = await read_truth(EscrowClient(w3, c.escrow_address, c.chain_id))
        except LookupError as exc:
            return [], [str(exc)]
        except Exception as exc:  # noqa: BLE001 - an unreachable RPC is a finding, not a traceback
            return [], [f"the escrow at {c.escrow_address} could not be read through {redact(c.rpc_url)}: "
                        f"{describe_failure(exc)}"]
        return describe(truth), disagreements(settings, truth)
    finally:
        await w3.provider.disconnect()
