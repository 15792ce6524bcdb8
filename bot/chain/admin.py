"""Operator tools for the deployed escrow: what it enforces (`contract show`) and its token
allow-list (`contract tokens allow|deny`, signed with the admin key, which the bot itself never needs)."""
from __future__ import annotations

from bot.config import ConfigError, Settings


def _client(settings: Settings, w3):
    from bot.chain.escrow import EscrowClient

    if not settings.chain.escrow_address:
        raise ConfigError(["no escrow is configured: set [chain] escrow_address (printed by `contract deploy`)"])
    return EscrowClient(w3, settings.chain.escrow_address, settings.chain.chain_id)


async def show(settings: Settings) -> list[str]:
    """The deployed contract's fixed parameters and code check, and each configured token's status."""
    from bot.chain.rpc import make_web3
    from bot.chain.truth import describe, read_truth

    w3 = make_web3(settings.chain.rpc_url, timeout_s=30)
    try:
        escrow = _client(settings, w3)
        lines = describe(await read_truth(escrow))
        for token in settings.tokens():
            if token.address is None:
                lines.append(f"token {token.symbol}: the chain's own coin, always accepted")
            else:
                allowed = await escrow.token_allowed(token.address)
                lines.append(f"token {token.symbol} ({token.address}): "
                             + ("allowed for deposits" if allowed else "NOT allowed (contract tokens allow "
                                f"{token.symbol})"))
        return lines
    finally:
        await w3.provider.disconnect()


async def set_token_allowed(settings: Settings, symbol: str, allowed: bool) -> str:
    """Send setTokenAllowed with the admin key; returns the transaction hash once mined."""
    from eth_utils import to_checksum_address

    from bot.chain.rpc import make_web3
    from bot.chain.sender import TxSender

    token = settings.token(symbol.upper())
    problems = []
    if token is None:
        problems.append(f"token {symbol[:12]!r} is not in [chain] tokens: add it there with its address first")
    elif token.address is None:
        problems.append(f"{token.symbol} is the chain's own coin: it is always accepted")
    if settings.admin_key is None:
        problems.append("GPUFLOW_ADMIN_KEY is needed: only the escrow's admin edits its token allow-list")
    if problems:
        raise ConfigError(problems)
    w3 = make_web3(settings.chain.rpc_url, timeout_s=60)
    try:
        escrow = _client(settings, w3)
        sender = TxSender(w3, settings.admin_key.get_secret_value(), settings.chain.chain_id)
        params = await escrow.parameters()
        if sender.address.lower() != params.admin.lower():
            raise ConfigError([f"GPUFLOW_ADMIN_KEY is {sender.address}, but the escrow's admin is {params.admin}"])
        data = escrow.contract.encode_abi("setTokenAllowed", args=[to_checksum_address(token.address), allowed])
        receipt = await sender.send_and_wait(escrow.address, data, timeout_s=300)
        if receipt["status"] != 1 or await escrow.token_allowed(token.address) != allowed:
            raise ConfigError([f"the escrow refused to change {token.symbol} (transaction "
                               f"{receipt['transactionHash'].hex()})"])
        return "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")
    finally:
        await w3.provider.disconnect()
