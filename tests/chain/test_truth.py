"""The contract's truth read from anvil: parameters, the runtime-code check against the committed
artifact (immutables masked), and every way a configuration can disagree with it."""
from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from eth_account import Account

from bot.chain.escrow import EscrowClient
from bot.chain.rpc import make_web3
from bot.chain.truth import blocking_problems, describe, disagreements, read_truth
from bot.config import Settings
from tests.chain.conftest import (ADMIN, ARBITER, DEPLOYER, DISPUTE_TIMEOUT, DISPUTE_WINDOW, FEE_BPS, FEE_RECIPIENT,
                                  MAX_DURATION, OPERATOR, START_WINDOW, Chain, deploy, load_artifact)
from tests.support.anvil import ANVIL_KEYS


@pytest.fixture
async def client(chain: Chain) -> AsyncIterator[EscrowClient]:
    w3 = make_web3(chain.node.rpc_url)
    yield EscrowClient(w3, chain.escrow.address, 31337)
    await w3.provider.disconnect()


def matching_settings(**over: Any) -> Settings:
    chain = dict(chain_id=31337, arbiter_address=ARBITER, admin_address=ADMIN, start_window_s=START_WINDOW,
                 dispute_window_s=DISPUTE_WINDOW, dispute_timeout_s=DISPUTE_TIMEOUT, max_duration_s=MAX_DURATION)
    chain |= over.pop("chain", {})
    return Settings(**(dict(fee_bps=FEE_BPS, fee_recipient=FEE_RECIPIENT, operator_key=ANVIL_KEYS[1]) | over),
                    chain=chain)


async def test_the_session_escrow_is_the_artifact_with_its_parameters(client: EscrowClient) -> None:
    truth = await read_truth(client)
    assert truth.code_matches and truth.parameters.version == "2"
    assert (truth.parameters.operator, truth.parameters.fee_bps, truth.parameters.max_duration) == (
        OPERATOR, FEE_BPS, MAX_DURATION)
    assert disagreements(matching_settings(), truth) == []
    assert "matches the committed artifact" in describe(truth)[0]


async def test_other_immutables_still_match_and_a_changed_byte_does_not(chain: Chain, client: EscrowClient) -> None:
    art = load_artifact("bot/chain/artifacts/GpuEscrow.json")
    other = deploy(chain.w3, art, OPERATOR, ARBITER, ADMIN, FEE_RECIPIENT, 999, 7, 8, 9, 10)
    truth = await read_truth(EscrowClient(client.w3, other.address, 31337))
    assert truth.code_matches and truth.parameters.fee_bps == 999     # same code, other immutables
    code = bytearray(chain.w3.eth.get_code(chain.escrow.address))
    code[-3] ^= 0xFF                                                   # inside the metadata: still runs
    chain.node.rpc("anvil_setCode", [other.address, "0x" + code.hex()])
    tampered = await read_truth(EscrowClient(client.w3, other.address, 31337))
    assert not tampered.code_matches
    assert any("not the committed GpuEscrow artifact" in p for p in blocking_problems(matching_settings(), tampered))


async def test_no_contract_or_a_foreign_one_is_a_clear_error(chain: Chain, client: EscrowClient) -> None:
    with pytest.raises(LookupError, match="no contract"):
        await read_truth(EscrowClient(client.w3, Account.create().address, 31337))
    with pytest.raises(LookupError, match="not a GpuEscrow version 2"):
        await read_truth(EscrowClient(client.w3, chain.usdc.address, 31337))


async def test_every_disagreement_is_named(client: EscrowClient) -> None:
    truth = await read_truth(client)
    settings = matching_settings(fee_bps=FEE_BPS + 1, fee_recipient=DEPLOYER, operator_key=ANVIL_KEYS[7],
                                 chain={"start_window_s": 1, "dispute_window_s": 2, "dispute_timeout_s": 3,
                                        "max_duration_s": 4, "arbiter_address": ADMIN, "admin_address": ARBITER})
    found = "\n".join(disagreements(settings, truth))
    for name in ("fee_bps is 251", "chain.start_window_s is 1", "chain.dispute_window_s is 2",
                 "chain.dispute_timeout_s is 3", "chain.max_duration_s is 4", "the arbiter", "the admin",
                 "fee_recipient", "GPUFLOW_OPERATOR_KEY"):
        assert name in found, (name, found)
    assert blocking_problems(settings, truth) == [p for p in disagreements(settings, truth) if "OPERATOR_KEY" in p]
