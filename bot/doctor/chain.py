"""Doctor: the RPC answers on the configured chain, the escrow is deployed there with the
parameters the configuration expects, and the operator can pay for its transactions."""
from __future__ import annotations

from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.escrow import EscrowClient
from bot.chain.rpc import make_web3
from bot.config import Settings
from bot.doctor import Check, fail, guarded, ok, skip
from bot.doctor.explain import describe_failure, is_expected
from bot.observability.redact import redact

GAS_PER_TX = 200_000          # a start or settle costs well under this
MIN_TXS = 10                  # the operator should afford at least this many
# the contract's fixed parameters (views) and the setting each must equal
PARAMETERS = {"feeBps": "fee_bps", "startWindow": "chain.start_window_s", "disputeWindow": "chain.dispute_window_s",
              "disputeTimeout": "chain.dispute_timeout_s"}


async def check_chain(settings: Settings) -> list[Check]:
    c = settings.chain
    w3 = make_web3(c.rpc_url, timeout_s=10)
    try:
        try:
            chain_id = await w3.eth.chain_id
            block = await w3.eth.block_number
        except Exception as exc:
            if not is_expected(exc):
                raise
            return [fail("rpc", f"{redact(c.rpc_url)} does not answer: {describe_failure(exc)}")]
        checks = [ok("rpc", f"{redact(c.rpc_url)} answers (block {block})")]
        checks.append(ok("chain id", f"{chain_id}") if chain_id == c.chain_id else
                      fail("chain id", f"the RPC is on chain {chain_id}, the configuration says {c.chain_id}"))
        checks += await guarded("escrow", lambda: _escrow(settings, w3))
        checks += await guarded("operator gas", lambda: _operator(settings, w3))
        return checks
    finally:
        await w3.provider.disconnect()


def _setting(settings: Settings, dotted: str) -> object:
    value: object = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


async def _escrow(settings: Settings, w3: AsyncWeb3) -> list[Check]:
    c = settings.chain
    if not c.escrow_address:
        return [skip("escrow", "no chain.escrow_address configured (deploy with `gpuflow-bot contract deploy`)")]
    if len(await w3.eth.get_code(AsyncWeb3.to_checksum_address(c.escrow_address))) == 0:
        return [fail("escrow", f"no contract at {c.escrow_address} on chain {c.chain_id}")]
    contract = EscrowClient(w3, c.escrow_address, c.chain_id).contract
    found, wrong = [], []
    for view, setting in PARAMETERS.items():
        if not hasattr(contract.functions, view):
            continue
        value = await getattr(contract.functions, view)().call()
        found.append(f"{view} {value}")
        if value != _setting(settings, setting):
            wrong.append(f"{setting} is {_setting(settings, setting)} but the contract has {value}")
    if settings.operator_key is not None and hasattr(contract.functions, "operator"):
        operator = await contract.functions.operator().call()
        if operator.lower() != Account.from_key(settings.operator_key.get_secret_value()).address.lower():
            wrong.append(f"GPUFLOW_OPERATOR_KEY is not the contract's operator ({operator})")
    if wrong:
        return [fail("escrow", f"{c.escrow_address}: " + "; ".join(wrong))]
    return [ok("escrow", f"{c.escrow_address}: " + ", ".join(found))]


async def _operator(settings: Settings, w3: AsyncWeb3) -> list[Check]:
    if settings.operator_key is None:
        if settings.chain.escrow_address:
            return [fail("operator gas", "GPUFLOW_OPERATOR_KEY is not set: the bot cannot start or settle rentals")]
        return [skip("operator gas", "no GPUFLOW_OPERATOR_KEY")]
    address = Account.from_key(settings.operator_key.get_secret_value()).address
    balance = await w3.eth.get_balance(address)
    gas_price = await w3.eth.gas_price
    affordable = balance // max(gas_price * GAS_PER_TX, 1)
    native = next((t.symbol for t in settings.tokens() if t.is_native), "native coin")
    text = f"{address} holds {balance / 10**18:.6f} {native}, about {affordable} transactions at today's gas price"
    if affordable < MIN_TXS:
        return [fail("operator gas", text + f"; fund it (at least {MIN_TXS})")]
    return [ok("operator gas", text)]
