"""Deploying GpuEscrow from the committed artifact, with the constructor's rules checked first so a
bad configuration is explained in words rather than as a reverted transaction."""
from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3 import AsyncWeb3

from bot.chain.artifact import load_artifact
from bot.chain.escrow import TxFailed
from bot.chain.sender import TxSender

MAX_FEE_BPS = 1_000
UINT64_MAX = 2**64 - 1


@dataclass(frozen=True)
class EscrowConfig:
    """The constructor's parameters: fixed in the contract for good (no owner can change them)."""

    operator: str
    arbiter: str
    admin: str
    fee_recipient: str
    fee_bps: int
    start_window: int
    dispute_window: int
    dispute_timeout: int
    max_duration: int

    def problems(self) -> list[str]:
        """Every rule the constructor enforces, in words (empty: it will deploy)."""
        out = []
        roles = {"operator": self.operator, "arbiter": self.arbiter, "admin": self.admin}
        seen: dict[str, str] = {}
        for role, address in roles.items():
            key = address.lower()
            if key in seen:
                out.append(f"the {seen[key]} and the {role} must be different accounts ({address})")
            seen.setdefault(key, role)
        if self.fee_recipient.lower() == self.arbiter.lower():
            out.append("the fee recipient must not be the arbiter (a resolution could then pay the arbiter)")
        if int(self.operator, 16) == 0 or int(self.arbiter, 16) == 0 or int(self.admin, 16) == 0 \
                or int(self.fee_recipient, 16) == 0:
            out.append("no role may be the zero address")
        if not 0 <= self.fee_bps <= MAX_FEE_BPS:
            out.append(f"the fee must be 0..{MAX_FEE_BPS} basis points")
        if not 0 < self.start_window <= UINT64_MAX or not 0 < self.dispute_timeout <= UINT64_MAX:
            out.append("the start window and the dispute timeout must be positive")
        if not 0 <= self.dispute_window <= UINT64_MAX:
            out.append("the dispute window must not be negative")
        if not 0 < self.max_duration <= UINT64_MAX:
            out.append("the maximum rental duration must be positive")
        return out

    def args(self) -> list:
        return [to_checksum_address(self.operator), to_checksum_address(self.arbiter), to_checksum_address(self.admin),
                to_checksum_address(self.fee_recipient), self.fee_bps, self.start_window, self.dispute_window,
                self.dispute_timeout, self.max_duration]


async def deploy_escrow(w3: AsyncWeb3, deployer_key: str, *, operator: str, arbiter: str, admin: str,
                        fee_recipient: str, fee_bps: int, start_window: int, dispute_window: int,
                        dispute_timeout: int, max_duration: int, timeout_s: float = 300.0) -> str:
    """Deploy GpuEscrow from the committed artifact; returns its checksum address.

    Raises ValueError listing every broken rule before anything is sent.
    """
    config = EscrowConfig(operator=operator, arbiter=arbiter, admin=admin, fee_recipient=fee_recipient,
                          fee_bps=fee_bps, start_window=start_window, dispute_window=dispute_window,
                          dispute_timeout=dispute_timeout, max_duration=max_duration)
    if problems := config.problems():
        raise ValueError("; ".join(problems))
    art = load_artifact()
    sender = TxSender(w3, deployer_key, await w3.eth.chain_id)
    data = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*config.args()).data_in_transaction
    receipt = await sender.send_and_wait(None, data, timeout_s=timeout_s)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise TxFailed("escrow deployment reverted")
    return to_checksum_address(receipt["contractAddress"])
