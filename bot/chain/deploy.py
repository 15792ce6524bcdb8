"""Deploying GpuEscrow from the committed artifact, with the constructor's rules checked first so a
bad configuration is explained in words rather than as a reverted transaction."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncWeb3

from bot.chain.artifact import load_artifact
from bot.chain.escrow import TxFailed
from bot.chain.rpc import ReceiptTimeout, wait_for_receipt
from bot.chain.sender import TxSender

MAX_FEE_BPS = 1_000
UINT64_MAX = 2**64 - 1
ROLES = ("operator", "arbiter", "admin")


def rule_problems(*, operator: str | None, arbiter: str | None, admin: str | None, fee_recipient: str | None,
                  fee_bps: int, start_window: int, dispute_window: int, dispute_timeout: int,
                  max_duration: int) -> list[str]:
    """Every rule the constructor enforces, in words (empty: it will deploy). A role not known yet
    (None) is skipped, so the caller can list it as missing together with the rest."""
    out = []
    seen: dict[str, str] = {}
    for role, address in zip(ROLES, (operator, arbiter, admin)):
        if address is None:
            continue
        if address.lower() in seen:
            out.append(f"the {seen[address.lower()]} and the {role} must be different accounts ({address})")
        seen.setdefault(address.lower(), role)
    if fee_recipient is not None and arbiter is not None and fee_recipient.lower() == arbiter.lower():
        out.append("the fee recipient must not be the arbiter (a resolution could then pay the arbiter)")
    if any(a is not None and int(a, 16) == 0 for a in (operator, arbiter, admin, fee_recipient)):
        out.append("no role may be the zero address")
    if not 0 <= fee_bps <= MAX_FEE_BPS:
        out.append(f"the fee must be 0..{MAX_FEE_BPS} basis points")
    if not 0 < start_window <= UINT64_MAX or not 0 < dispute_timeout <= UINT64_MAX:
        out.append("the start window and the dispute timeout must be positive")
    if not 0 <= dispute_window <= UINT64_MAX:
        out.append("the dispute window must not be negative")
    if not 0 < max_duration <= UINT64_MAX:
        out.append("the maximum rental duration must be positive")
    return out


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds} s ({seconds // size} {unit})"
    return f"{seconds} s"


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
        return rule_problems(**asdict(self))

    def args(self) -> list:
        return [to_checksum_address(self.operator), to_checksum_address(self.arbiter), to_checksum_address(self.admin),
                to_checksum_address(self.fee_recipient), self.fee_bps, self.start_window, self.dispute_window,
                self.dispute_timeout, self.max_duration]

    def describe(self) -> list[str]:
        """Each parameter in words, one a line (what an operator checks before it is fixed for good)."""
        return [f"operator         {to_checksum_address(self.operator)} (the bot: starts rentals, signs quotes, "
                "refunds; pays gas)",
                f"arbiter          {to_checksum_address(self.arbiter)} (decides disputes)",
                f"admin            {to_checksum_address(self.admin)} (edits the token allow-list)",
                f"fee recipient    {to_checksum_address(self.fee_recipient)}",
                f"fee              {self.fee_bps} bps ({self.fee_bps / 100:.2f} % of the provider's part)",
                f"start window     {_span(self.start_window)} (deposit to start, else the renter may cancel)",
                f"dispute window   {_span(self.dispute_window)} (after the end, either side may dispute)",
                f"dispute timeout  {_span(self.dispute_timeout)} (an unanswered dispute settles pro rata)",
                f"max duration     {_span(self.max_duration)} (the longest rental, extensions included)"]

    def record(self) -> dict[str, str | int]:
        """The parameters as a deployment record holds them."""
        return {k: (to_checksum_address(v) if isinstance(v, str) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Deployed:
    """A mined deployment, from its receipt."""

    address: str
    block: int
    tx_hash: str
    gas_used: int


def constructor_data(w3: AsyncWeb3, config: EscrowConfig) -> str:
    """The deployment transaction's data: the artifact's creation code and the encoded parameters."""
    art = load_artifact()
    return w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*config.args()).data_in_transaction


def artifact_code_hash() -> str:
    """keccak256 of the artifact's runtime code (immutables zeroed): `contract show` prints the same
    hash for a contract whose code is this artifact's."""
    return "0x" + keccak(HexBytes(load_artifact().deployed_bytecode)).hex()


async def send_deployment(w3: AsyncWeb3, deployer_key: str, config: EscrowConfig, *,
                          timeout_s: float = 300.0) -> Deployed:
    """Deploy and wait for the receipt. Raises ValueError listing every broken rule before anything is sent."""
    if problems := config.problems():
        raise ValueError("; ".join(problems))
    sender = TxSender(w3, deployer_key, await w3.eth.chain_id)
    tx_hash = await sender.send(None, constructor_data(w3, config), purpose="deploy")
    try:
        receipt = await wait_for_receipt(w3, tx_hash, timeout_s=timeout_s)
    except ReceiptTimeout:
        raise ReceiptTimeout(f"the deployment {tx_hash.to_0x_hex()} was sent but not mined within {timeout_s:.0f} s; "
                             "it may still be: look it up before deploying again") from None
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise TxFailed("escrow deployment reverted")
    return Deployed(address=to_checksum_address(receipt["contractAddress"]), block=receipt["blockNumber"],
                    tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(), gas_used=receipt["gasUsed"])


async def deploy_escrow(w3: AsyncWeb3, deployer_key: str, *, operator: str, arbiter: str, admin: str,
                        fee_recipient: str, fee_bps: int, start_window: int, dispute_window: int,
                        dispute_timeout: int, max_duration: int, timeout_s: float = 300.0) -> str:
    """Deploy GpuEscrow from the committed artifact; returns its checksum address.

    Raises ValueError listing every broken rule before anything is sent.
    """
    config = EscrowConfig(operator=operator, arbiter=arbiter, admin=admin, fee_recipient=fee_recipient,
                          fee_bps=fee_bps, start_window=start_window, dispute_window=dispute_window,
                          dispute_timeout=dispute_timeout, max_duration=max_duration)
    return (await send_deployment(w3, deployer_key, config, timeout_s=timeout_s)).address
