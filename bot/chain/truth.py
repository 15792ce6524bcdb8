"""The deployed escrow's truth: its fixed parameters, and whether its runtime code is the committed
artifact's. The bot quotes from these, never from its configuration; a configuration that disagrees
is reported (at start, by `check-config --online`, by `contract show`).

The code check: a deployed contract's runtime code is the artifact's `deployedBytecode` with each
immutable (operator, fee, windows...) written into the slots solc recorded in
`immutableReferences`; with those slots zeroed, the two must be byte-for-byte equal.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes

from bot.chain.artifact import Artifact, load_artifact
from bot.chain.escrow import EscrowClient, EscrowParameters

VERSION = "2"     # the contract version this bot speaks (its quotes' EIP-712 domain version)


@dataclass(frozen=True)
class ContractTruth:
    address: str
    parameters: EscrowParameters
    code_matches: bool        # the runtime code is the committed artifact's (immutables aside)
    code_hash: str            # keccak256 of the runtime code with the immutables zeroed


def masked_code(code: bytes, artifact: Artifact) -> bytes:
    """Runtime code with every immutable's bytes zeroed, as in the compiler's deployedBytecode."""
    out = bytearray(code)
    for start, length in artifact.immutable_ranges:
        if start + length <= len(out):
            out[start:start + length] = bytes(length)
    return bytes(out)


async def read_truth(escrow: EscrowClient) -> ContractTruth:
    """Read the contract's parameters and check its code (raises on RPC failure or no contract)."""
    artifact = load_artifact()
    code = bytes(await escrow.w3.eth.get_code(escrow.address))
    if not code:
        raise LookupError(f"there is no contract at {escrow.address} on chain {escrow.chain_id}")
    masked = masked_code(code, artifact)
    matches = masked == bytes(HexBytes(artifact.deployed_bytecode))
    try:
        params = await escrow.parameters()
    except Exception as exc:   # noqa: BLE001 - an older or foreign contract has no parameters() view
        if not matches:
            raise LookupError(f"the contract at {escrow.address} is not a GpuEscrow version {VERSION} "
                              "(it has no parameters() view)") from exc
        raise
    return ContractTruth(address=escrow.address, parameters=params, code_matches=matches,
                         code_hash="0x" + keccak(masked).hex())


def _address_of(key) -> str | None:
    return Account.from_key(key.get_secret_value()).address if key is not None else None


def blocking_problems(settings, truth: ContractTruth) -> list[str]:
    """What makes quoting unsafe: another contract, another version, or an operator key that is not
    the contract's operator (its signatures would be refused and it could not start or refund)."""
    out = []
    if not truth.code_matches:
        out.append(f"the code at {truth.address} is not the committed GpuEscrow artifact")
    if truth.parameters.version != VERSION:
        out.append(f"the contract is GpuEscrow version {truth.parameters.version}; this bot speaks version {VERSION}")
    operator = _address_of(settings.operator_key)
    if operator is not None and operator.lower() != truth.parameters.operator.lower():
        out.append(f"GPUFLOW_OPERATOR_KEY ({operator}) is not the contract's operator ({truth.parameters.operator})")
    return out


def disagreements(settings, truth: ContractTruth) -> list[str]:
    """Every setting that differs from the contract, in words (the contract's value is the one used)."""
    p, c = truth.parameters, settings.chain
    out = blocking_problems(settings, truth)
    numbers = [("fee_bps", settings.fee_bps, p.fee_bps), ("chain.start_window_s", c.start_window_s, p.start_window),
               ("chain.dispute_window_s", c.dispute_window_s, p.dispute_window),
               ("chain.dispute_timeout_s", c.dispute_timeout_s, p.dispute_timeout),
               ("chain.max_duration_s", c.max_duration_s, p.max_duration)]
    out += [f"{name} is {mine} but the contract has {theirs} (the contract's value is used)"
            for name, mine, theirs in numbers if mine != theirs]
    arbiter = c.arbiter_address or _address_of(settings.arbiter_key)
    admin = getattr(c, "admin_address", None) or _address_of(getattr(settings, "admin_key", None))
    roles = [("the arbiter (chain.arbiter_address or GPUFLOW_ARBITER_KEY)", arbiter, p.arbiter),
             ("the admin (chain.admin_address or GPUFLOW_ADMIN_KEY)", admin, p.admin),
             ("fee_recipient", settings.fee_recipient, p.fee_recipient)]
    out += [f"{name} is {mine} but the contract's is {theirs}" for name, mine, theirs in roles
            if mine is not None and mine.lower() != theirs.lower()]
    return out


def describe(truth: ContractTruth) -> list[str]:
    """The contract's truth as lines for `contract show` and the start-up log."""
    p = truth.parameters
    return [f"GpuEscrow version {p.version} at {truth.address}; code "
            + ("matches the committed artifact" if truth.code_matches else "DOES NOT match the committed artifact")
            + f" ({truth.code_hash[:18]}…)",
            f"operator {p.operator}, arbiter {p.arbiter}, admin {p.admin}, fee recipient {p.fee_recipient}",
            f"fee {p.fee_bps} bps; start window {p.start_window} s; dispute window {p.dispute_window} s; "
            f"dispute timeout {p.dispute_timeout} s; longest rental {p.max_duration} s ({p.max_duration // 3600} h)"]
