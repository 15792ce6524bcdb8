"""`contract deploy` on a real anvil: the dry run prices the deployment and sends nothing, a bad
configuration is refused with every problem at once, a deployment writes its record, a second one
on the same chain is refused, and the configuration reads the record (on the right chain only)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.chain.record import RECORD_NAME, DeploymentRecord, write_record
from bot.config import ConfigError, load_settings
from devnet.anvil import ANVIL_KEYS, Anvil, free_port, start_anvil
from tests.test_cli import run_cli

OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"      # ANVIL_KEYS[0]
ARBITER, ADMIN, FEE_TO = (f"0x{b * 20}" for b in ("43", "44", "42"))
KEY = {"GPUFLOW_OPERATOR_KEY": ANVIL_KEYS[0]}


@pytest.fixture(scope="module")
def node():
    with start_anvil() as anvil:
        yield anvil


def write_config(tmp_path: Path, rpc_url: str, *, chain: str = "", top: str = "", admin: str = ADMIN) -> Path:
    cfg = tmp_path / "gpuflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\nfee_recipient = "{FEE_TO}"\n{top}'
                   f'[chain]\nrpc_url = "{rpc_url}"\narbiter_address = "{ARBITER}"\nadmin_address = "{admin}"\n{chain}')
    return cfg


def deploy(cfg: Path, *extra: str, env: dict | None = None):
    return run_cli("--config", str(cfg), "contract", "deploy", *extra, env=KEY if env is None else env)


def chain_state(node: Anvil) -> tuple[str, str, str]:
    return (node.rpc("eth_blockNumber"), node.rpc("eth_getTransactionCount", [OPERATOR, "latest"]),
            node.rpc("eth_getTransactionCount", [OPERATOR, "pending"]))


def test_the_dry_run_prints_the_parameters_and_the_gas_and_sends_nothing(node, tmp_path):
    cfg = write_config(tmp_path, node.rpc_url, top="fee_bps = 250\n")
    before = chain_state(node)
    result = deploy(cfg, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert chain_state(node) == before                   # no block mined, no nonce used, nothing pending
    out = result.stdout
    assert out.startswith("dry run: nothing is sent\n") and "chain: id 31337" in out
    assert f"deployer (the operator): {OPERATOR}, balance " in out
    for needle in (f"operator         {OPERATOR}", f"arbiter          {ARBITER}", f"admin            {ADMIN}",
                   f"fee recipient    {FEE_TO}", "fee              250 bps (2.50 %", "start window     3600 s (1 h)",
                   "dispute window   86400 s (1 d)", "dispute timeout  604800 s (7 d)",
                   "max duration     7776000 s (90 d)"):
        assert needle in out, needle
    gas = int(out.split("gas: estimate ")[1].split(", costing")[0].replace(",", ""))
    assert 2_000_000 < gas < 3_500_000
    assert " ETH at the current gas price (" in out and "the balance covers it" in out
    assert "it would deploy" in out and result.stderr == ""
    assert not (tmp_path / "data" / RECORD_NAME).exists()
    assert ANVIL_KEYS[0] not in out


def test_a_bad_configuration_is_refused_with_every_problem_at_once(node, tmp_path):
    cfg = write_config(tmp_path, node.rpc_url, admin=ARBITER, chain="chain_id = 1\n")   # admin = arbiter
    cfg.write_text(cfg.read_text().replace(f'fee_recipient = "{FEE_TO}"', f'fee_recipient = "{ARBITER}"'))
    before = chain_state(node)
    for extra in (("--dry-run",), ()):
        result = deploy(cfg, *extra, env={})
        assert result.returncode == 1, result.stdout + result.stderr
        err = result.stderr
        assert "4 problems:" in err, err
        for needle in ("GPUFLOW_OPERATOR_KEY is needed", "the arbiter and the admin must be different",
                       "the fee recipient must not be the arbiter", "the RPC is on chain 31337, but chain.chain_id is 1"):
            assert needle in err, (needle, err)
        assert "Traceback" not in result.stdout + err
    assert chain_state(node) == before


def test_an_operator_without_the_gas_money_is_refused(node, tmp_path):
    cfg = write_config(tmp_path, node.rpc_url)
    result = deploy(cfg, "--dry-run", env={"GPUFLOW_OPERATOR_KEY": "0x" + "5a" * 32})
    assert result.returncode == 1
    assert "balance 0 ETH" in result.stdout and "gas: estimate" in result.stdout
    assert result.stderr.startswith("it would not deploy: the operator's balance (0 ETH) does not cover"), result.stderr


def test_an_unreachable_rpc_is_one_line_without_its_key(tmp_path):
    secret = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c"
    port = free_port()
    cfg = write_config(tmp_path, f"http://127.0.0.1:{port}/v3/{secret}")
    for extra, what in ((("--dry-run",), "it would not deploy"), ((), "not deployed (nothing was sent)")):
        result = deploy(cfg, *extra)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{what}: cannot reach the RPC at http://127.0.0.1:{port}/…: "), lines[0]
        assert secret not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_deployment_writes_its_record_and_a_second_one_is_refused(node, tmp_path):
    from eth_utils import keccak
    from hexbytes import HexBytes

    from bot.chain.artifact import load_artifact
    from bot.chain.truth import masked_code

    cfg = write_config(tmp_path, node.rpc_url)
    result = deploy(cfg)
    assert result.returncode == 0, result.stderr
    record_file = tmp_path / "data" / RECORD_NAME
    record = json.loads(record_file.read_text())
    receipt = node.rpc("eth_getTransactionReceipt", [record["tx_hash"]])
    block = int(receipt["blockNumber"], 16)
    address = record["address"]
    assert receipt["contractAddress"].lower() == address.lower()
    assert (f"GpuEscrow deployed at {address} in block {block} (transaction {record['tx_hash']}), "
            f"gas used {int(receipt['gasUsed'], 16):,}") in result.stdout
    assert "at or after" not in result.stdout and f"fee recipient    {FEE_TO}" in result.stdout
    assert (record["chain_id"], record["block"]) == (31337, block)
    assert record["parameters"] == {"operator": OPERATOR, "arbiter": ARBITER, "admin": ADMIN, "fee_recipient": FEE_TO,
                                    "fee_bps": 100, "start_window": 3600, "dispute_window": 86400,
                                    "dispute_timeout": 604800, "max_duration": 7776000}
    code = bytes(HexBytes(node.rpc("eth_getCode", [address, "latest"])))
    assert record["code_hash"] == "0x" + keccak(masked_code(code, load_artifact())).hex()
    assert record["deployed_at"].endswith("+00:00")
    text = record_file.read_text()
    assert ANVIL_KEYS[0].removeprefix("0x") not in text and node.rpc_url not in text

    settings = load_settings(cfg)                       # the configuration now reads the record
    assert (settings.chain.escrow_address, settings.chain.start_block) == (address, block)
    assert settings.chain.escrow_record == tmp_path / "data" / RECORD_NAME
    checked = run_cli("--config", str(cfg), "check-config")
    assert checked.returncode == 0 and f"escrow {address} (from {record_file}, start block {block})" in checked.stdout

    before = chain_state(node)
    again = deploy(cfg)
    assert again.returncode == 1 and chain_state(node) == before
    assert again.stderr.startswith(f"not deployed (nothing was sent): {record_file} already records an escrow "
                                   f"on chain 31337: {address}"), again.stderr
    assert "orphan" in again.stderr and "--force" in again.stderr
    assert json.loads(record_file.read_text()) == record

    other = tmp_path / "elsewhere.json"                  # --out: another file, the default record untouched
    elsewhere = deploy(cfg, "--out", str(other), "--force")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert json.loads(other.read_text())["address"] != address and json.loads(record_file.read_text()) == record
    assert f'chain.deployment_file = "{other}"' in elsewhere.stdout

    forced = deploy(cfg, "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(record_file.read_text())["address"] not in (address, json.loads(other.read_text())["address"])


def _record(chain_id: int, address: str = "0x" + "ab" * 20, block: int = 7) -> DeploymentRecord:
    return DeploymentRecord(chain_id=chain_id, address=address, block=block, tx_hash="0x" + "cd" * 32,
                            parameters={"fee_bps": 100}, code_hash="0x" + "ef" * 32,
                            deployed_at="2025-01-01T00:00:00+00:00")


def test_a_record_of_another_chain_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    write_record(tmp_path / "data" / RECORD_NAME, _record(8453))
    explicit = write_config(tmp_path, "http://127.0.0.1:8545", chain="chain_id = 31337\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(explicit)
    assert refused.value.problems == [f"{tmp_path / 'data' / RECORD_NAME} records an escrow on chain 8453, but "
                                      "chain.chain_id is 31337: point the configuration at chain 8453, or set "
                                      "chain.deployment_file to the record of chain 31337"]
    result = run_cli("--config", str(explicit), "check-config")
    assert result.returncode == 1 and "records an escrow on chain 8453" in result.stderr
    unset = write_config(tmp_path, "http://127.0.0.1:8545")      # no chain_id: the record's chain is taken
    c = load_settings(unset).chain
    assert (c.chain_id, c.escrow_address, c.start_block) == (8453, "0x" + "ab" * 20, 7)


def test_an_explicit_escrow_address_wins_and_check_config_reports_the_difference(tmp_path):
    named = tmp_path / "records" / "base.json"
    named.parent.mkdir()
    write_record(named, _record(31337))
    cfg = write_config(tmp_path, "http://127.0.0.1:8545", chain=f'deployment_file = "{named}"\n')
    assert load_settings(cfg).chain.escrow_address == "0x" + "ab" * 20         # chain.deployment_file is read
    cfg.write_text(cfg.read_text() + f'escrow_address = "0x{"12" * 20}"\nstart_block = 3\n')
    c = load_settings(cfg).chain
    assert (c.escrow_address, c.start_block, c.escrow_record) == ("0x" + "12" * 20, 3, None)
    result = run_cli("--config", str(cfg), "check-config")
    assert result.returncode == 1
    assert f"chain.escrow_address is 0x{'12' * 20} (chain 31337), but {named} records 0x{'ab' * 20}" in result.stderr


def test_a_damaged_record_is_a_config_error(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / RECORD_NAME).write_text('{"chain_id": 1, "address": "nope"}')
    with pytest.raises(ConfigError) as refused:
        load_settings(write_config(tmp_path, "http://127.0.0.1:8545"))
    assert "is not a deployment record (address:" in refused.value.problems[0]
