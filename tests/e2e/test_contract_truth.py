"""The bot takes its escrow's truth at start (issue 13 #1): a configuration whose fee or windows drift
from the deployed contract quotes from the contract, and support and `check-config --online` are told;
an operator key that is not the contract's operator stops quoting instead of producing refused deposits."""
from __future__ import annotations

import os
import subprocess
import sys

from pydantic import SecretStr

from tests.e2e.conftest import ADDRESS, ARBITER_KEY, DEPLOYER_KEY, FEE_BPS, FEE_KEY, Market
from tests.e2e.test_rental_flow import funded_and_active
from tests.support.anvil import ANVIL_KEYS


async def test_a_drifted_fee_and_window_are_taken_from_the_contract_and_reported(market: Market) -> None:
    m = market
    await m.runtime.close()
    m.settings = m.settings.model_copy(update={"fee_bps": FEE_BPS + 50}, deep=True)
    m.settings.chain.dispute_window_s += 1
    await m.start()
    ctx = m.runtime.services.ctx
    assert ctx.settings.fee_bps == FEE_BPS and ctx.settings.chain.dispute_window_s == m.settings.chain.dispute_window_s - 1
    support = [n.body for n in await m.runtime.services.outbox.pending(limit=1000) if n.target == "support"]
    assert any(f"fee_bps is {FEE_BPS + 50} but the contract has {FEE_BPS}" in b and "chain.dispute_window_s" in b
               for b in support), support
    provider, renter, offer_id = await m.market_with_offer()
    rental_id, text = await m.rent(renter, offer_id)
    assert (await m.rental(rental_id)).fee_bps == FEE_BPS          # quoted with the contract's fee
    await m.pay_reply(renter, text)                                # so the escrow takes the deposit
    await funded_and_active(m, rental_id)
    await m.restart()                                              # told once, not at every start
    again = [n.body for n in await m.runtime.services.outbox.pending(limit=1000) if n.target == "support"]
    assert len([b for b in again if "disagrees with its escrow contract" in b]) == 1


async def test_an_operator_key_that_is_not_the_contracts_operator_stops_quoting(market: Market) -> None:
    m = market
    provider, renter, offer_id = await m.market_with_offer()
    await m.runtime.close()
    m.settings = m.settings.model_copy(update={"operator_key": SecretStr(ANVIL_KEYS[9])}, deep=True)
    await m.start()
    reply = await m.say(renter, f"/rent {offer_id} 1")
    assert not reply.ok and "deposits are paused" in reply.text and "not the contract's operator" in reply.text, \
        reply.text


def _check_config(m: Market, tmp_path, fee_bps: int = FEE_BPS) -> subprocess.CompletedProcess:
    c = m.settings.chain
    cfg = tmp_path / "online.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\nfee_bps = {fee_bps}\nfee_recipient = "{ADDRESS[FEE_KEY]}"\n'
                   f'[chain]\nrpc_url = "{c.rpc_url}"\nescrow_address = "{m.escrow_address}"\n'
                   f'arbiter_address = "{ADDRESS[ARBITER_KEY]}"\nadmin_address = "{ADDRESS[DEPLOYER_KEY]}"\n'
                   f'start_window_s = {c.start_window_s}\ndispute_window_s = {c.dispute_window_s}\n'
                   f'dispute_timeout_s = {c.dispute_timeout_s}\nmax_duration_s = {c.max_duration_s}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    return subprocess.run([sys.executable, "-m", "handlers.cli", "--config", str(cfg), "check-config", "--online"],
                          capture_output=True, text=True, env=env, timeout=120)


async def test_check_config_online_names_each_disagreement(market: Market, tmp_path) -> None:
    same = _check_config(market, tmp_path)
    assert same.returncode == 0, same.stderr
    assert "agrees with the deployed contract" in same.stdout and "matches the committed artifact" in same.stdout
    drift = _check_config(market, tmp_path, fee_bps=FEE_BPS + 1)
    assert drift.returncode == 1 and f"fee_bps is {FEE_BPS + 1} but the contract has {FEE_BPS}" in drift.stderr, \
        drift.stderr
    assert "Traceback" not in drift.stderr
