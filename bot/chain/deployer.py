"""`contract deploy`: check everything a deployment needs (all problems at once), price it on the
live chain without sending anything (the dry run), then deploy and write the deployment record.

Why a dry run reads the chain and not only the configuration: the parameters are fixed in the
contract for good, and the operator pays for the deployment; the chain id, the balance and the gas
are what decide whether it would go through."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3
from web3.exceptions import Web3Exception

from bot.chain.deploy import (Deployed, EscrowConfig, artifact_code_hash, constructor_data, rule_problems,
                              send_deployment)
from bot.chain.record import DeploymentRecord, record_path, write_problems, write_record
from bot.chain.rpc import make_web3
from bot.chain.sender import GAS_MARGIN_PCT, TxSender
from bot.config import Settings
from bot.domain.pricing import Token, format_amount
from bot.observability.redact import redact


@dataclass
class Plan:
    """What a deployment would do, in words (the chain and deployer, the parameters, the cost), and the
    problems that stop it (empty: it would deploy)."""

    out: Path
    config: EscrowConfig | None = None
    lines: list[str] = field(default_factory=list)
    costs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def parameters(self) -> list[str]:
        if self.config is None:
            return []
        return ["parameters (fixed in the contract for good):", *(f"  {p}" for p in self.config.describe())]


def _native(settings: Settings) -> Token:
    symbol = next((t.symbol for t in settings.tokens() if t.is_native), "native coin")
    return Token(symbol=symbol, decimals=18)       # gas is paid in the chain's coin, 18 decimals on EVM chains


def _gwei(wei: int) -> str:
    return f"{wei / 10**9:.4g} gwei"


def _from_settings(settings: Settings, plan: Plan) -> str | None:
    """The parameters from the configuration, every missing one and broken rule in plan.problems;
    returns the operator's address (None without a key)."""
    c = settings.chain
    operator = Account.from_key(settings.operator_key.get_secret_value()).address if settings.operator_key else None
    arbiter = c.arbiter_address or (Account.from_key(settings.arbiter_key.get_secret_value()).address
                                    if settings.arbiter_key else None)
    if operator is None:
        plan.problems.append("GPUFLOW_OPERATOR_KEY is needed: the operator deploys the contract and starts rentals")
    if arbiter is None:
        plan.problems.append("set chain.arbiter_address or GPUFLOW_ARBITER_KEY: disputes need an arbiter")
    if c.admin_address is None:
        plan.problems.append("set chain.admin_address: the account that edits the token allow-list (not the "
                             "operator or the arbiter)")
    if settings.fee_recipient is None:
        plan.problems.append("set fee_recipient: where the platform fee is paid")
    if not c.rpc_url.startswith(("http://", "https://")):
        plan.problems.append("chain.rpc_url: contract deploy needs an http(s):// endpoint")
    numbers = dict(fee_bps=settings.fee_bps, start_window=c.start_window_s, dispute_window=c.dispute_window_s,
                   dispute_timeout=c.dispute_timeout_s, max_duration=c.max_duration_s)
    plan.problems += rule_problems(operator=operator, arbiter=arbiter, admin=c.admin_address,
                                   fee_recipient=settings.fee_recipient, **numbers)
    if operator and arbiter and c.admin_address and settings.fee_recipient:
        plan.config = EscrowConfig(operator=operator, arbiter=arbiter, admin=c.admin_address,
                                   fee_recipient=settings.fee_recipient, **numbers)
    return operator


async def _on_chain(settings: Settings, w3: AsyncWeb3, plan: Plan, operator: str | None, force: bool) -> int:
    """Chain id, the deployer's balance, the gas and its price: reads only. Returns the chain id."""
    c = settings.chain
    chain_id, head = await w3.eth.chain_id, await w3.eth.block_number
    plan.lines.append(f"chain: id {chain_id} at {redact(c.rpc_url)}, head block {head}")
    if chain_id != c.chain_id:
        plan.problems.append(f"the RPC is on chain {chain_id}, but chain.chain_id is {c.chain_id}")
    plan.problems += write_problems(plan.out, chain_id, force=force)
    explicit = c.escrow_address if c.escrow_record is None else None    # a record's address: refused above
    if explicit and not force and await w3.eth.get_code(AsyncWeb3.to_checksum_address(explicit)):
        plan.problems.append(f"chain.escrow_address {c.escrow_address} already holds a contract on this chain: "
                             "a second escrow would orphan its live rentals; use --force to deploy anyway")
    if operator is None:
        return chain_id
    native = _native(settings)
    balance = await w3.eth.get_balance(operator)
    plan.lines.append(f"deployer (the operator): {operator}, balance {format_amount(balance, native)}")
    if plan.config is None or plan.problems:
        return chain_id          # the constructor would refuse these parameters: nothing to price
    try:
        gas = await w3.eth.estimate_gas({"from": operator, "data": constructor_data(w3, plan.config)})
    except Web3Exception as exc:
        plan.problems.append(f"the node refuses the deployment: {' '.join(str(exc).split())[:200]}")
        return chain_id
    price = await w3.eth.gas_price
    max_fee, _ = await TxSender(w3, settings.operator_key.get_secret_value(), chain_id).fees()
    limit = gas * (100 + GAS_MARGIN_PCT) // 100
    reserve = limit * max_fee
    plan.costs += [f"gas: estimate {gas:,}, costing {format_amount(gas * price, native)} at the current gas price "
                   f"({_gwei(price)})",
                   f"  the transaction may use up to {limit:,} gas at up to {_gwei(max_fee)}: "
                   f"{format_amount(reserve, native)} must be in the balance"]
    if balance >= reserve:
        plan.costs.append("  the balance covers it")
    else:
        plan.problems.append(f"the operator's balance ({format_amount(balance, native)}) does not cover the "
                             f"deployment: {format_amount(reserve - balance, native)} more is needed at {operator}")
    return chain_id


async def plan_deployment(settings: Settings, *, out: Path | None = None, force: bool = False,
                          w3: AsyncWeb3 | None = None) -> tuple[Plan, int | None]:
    """Everything a deployment needs, checked, with nothing sent. Returns the plan and the RPC's chain
    id (None when the RPC could not be asked). An unreachable RPC is one problem, in words."""
    from bot.doctor.explain import describe_failure, is_expected

    plan = Plan(out=out or record_path(settings))
    operator = _from_settings(settings, plan)
    if not settings.chain.rpc_url.startswith(("http://", "https://")):
        return plan, None
    own = w3 is None
    w3 = w3 or make_web3(settings.chain.rpc_url, timeout_s=30)
    try:
        return plan, await _on_chain(settings, w3, plan, operator, force)
    except Exception as exc:
        if not is_expected(exc):
            raise
        plan.problems.append(f"cannot reach the RPC at {redact(settings.chain.rpc_url)}: {describe_failure(exc)}")
        plan.problems += write_problems(plan.out, settings.chain.chain_id, force=force)
        return plan, None
    finally:
        if own:
            await w3.provider.disconnect()


async def deploy(settings: Settings, *, out: Path | None = None, force: bool = False) -> tuple[Plan, Deployed | None]:
    """Check as the dry run does; when nothing stops it, deploy, then write the deployment record.
    Returns (plan, None) when refused: nothing was sent."""
    w3 = make_web3(settings.chain.rpc_url, timeout_s=60) if settings.chain.rpc_url.startswith("http") else None
    try:
        plan, chain_id = await plan_deployment(settings, out=out, force=force, w3=w3)
        if plan.problems or w3 is None or chain_id is None or plan.config is None:
            return plan, None
        done = await send_deployment(w3, settings.operator_key.get_secret_value(), plan.config)
        mined_at = (await w3.eth.get_block(done.block))["timestamp"]
    finally:
        if w3 is not None:
            await w3.provider.disconnect()
    record = DeploymentRecord(chain_id=chain_id, address=done.address, block=done.block, tx_hash=done.tx_hash,
                              parameters=plan.config.record(), code_hash=artifact_code_hash(),
                              deployed_at=datetime.fromtimestamp(mined_at, UTC).isoformat())
    _write(settings, plan.out, record)
    return plan, done


def _write(settings: Settings, path: Path, record: DeploymentRecord) -> None:
    """Write the record; when that fails after the deployment, the error carries the record itself
    (the contract exists whatever happens to the file)."""
    from bot.db.files import private_dir

    try:
        if not path.parent.exists():
            if path.parent.resolve() == settings.data_dir.resolve():
                private_dir(settings.data_dir)     # 0700: the store lives there too
            else:
                path.parent.mkdir(parents=True)
        write_record(path, record)
    except OSError as exc:
        raise RecordNotWritten(path, record, exc.strerror or str(exc)) from None


class RecordNotWritten(Exception):
    """Deployed, but the record could not be written: keep `record` by hand."""

    def __init__(self, path: Path, record: DeploymentRecord, reason: str) -> None:
        super().__init__(f"cannot write the deployment record {path}: {reason}")
        self.path, self.record = path, record
