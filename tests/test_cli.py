"""The CLI as a user runs it: demo, scripted console, migrate, check-config."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, stdin: str | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GPUFLOW_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "handlers.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, input=stdin, timeout=120)


def test_demo_lists_filters_and_rents():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "seeded 6 offers" in out
    assert "Offers for gpu=rtx4090 vram>=24 sort=price" in out
    assert "Rental #1 reserved" in out and "Rental #1 cancelled" in out
    assert "all commands behaved as expected" in out
    assert "Traceback" not in out + result.stderr


def test_console_script_passes_and_fails_honestly(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    good = tmp_path / "good.txt"
    good.write_text("/as alice\n/offers\n!/rent 1 1\n/help rent\n")
    result = run_cli("console", "--script", str(good), "--database-url", db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No offers match" in result.stdout and "there is no offer #1" in result.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("/as alice\n/rent 1 1\n/offers\n")
    result = run_cli("console", "--script", str(bad), "--database-url", db)
    assert result.returncode == 1
    assert "1 scripted command(s) did not go as expected" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_console_reads_stdin(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    result = run_cli("console", "--database-url", db, stdin="/as zoe\n/rentals\n")
    assert result.returncode == 0
    assert "You have no rentals yet" in result.stdout


def test_migrate_then_check_config(tmp_path):
    cfg = tmp_path / "gpuflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\nfee_bps = 150\n')
    result = run_cli("--config", str(cfg), "migrate")
    assert result.returncode == 0, result.stderr
    assert "database at revision 0001" in result.stdout or "database at revision" in result.stdout
    assert (tmp_path / "gpuflow.db").exists()
    result = run_cli("--config", str(cfg), "check-config", env={"GPUFLOW_MASTER_KEY": "ab" * 32})
    assert result.returncode == 0 and "configuration OK" in result.stdout
    assert "ab" * 32 not in result.stdout


def test_check_config_names_every_problem(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('fee_bps = 5000\nmaster_key = "s3cret-in-file"\n[chain]\nrpc_url = "ftp://x"\n'
                   'confirmations = -1\n[discord]\ncolour = "red"\ntoken = "abc.def"\n')
    result = run_cli("--config", str(cfg), "check-config",
                     env={"GPUFLOW_OPERATOR_KEY": "0x1234", "GPUFLOW_MASTER_KEY": "too-short"})
    assert result.returncode == 1
    err = result.stderr
    for needle in ("fee_bps", "'master_key' is a secret", "'discord_token' is a secret", "chain.rpc_url",
                   "chain.confirmations", "discord.colour", "GPUFLOW_OPERATOR_KEY", "GPUFLOW_MASTER_KEY"):
        assert needle in err, needle
    assert "s3cret-in-file" not in err and "abc.def" not in err and "too-short" not in err and "Traceback" not in err


def test_example_config_is_valid():
    result = run_cli("--config", str(ROOT / "config" / "gpuflow.example.toml"), "check-config")
    assert result.returncode == 0, result.stderr


def test_secret_from_file_and_bad_master_key(tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("cd" * 32 + "\n")
    ok = run_cli("check-config", env={"GPUFLOW_MASTER_KEY_FILE": str(key_file)})
    assert ok.returncode == 0 and "master key: set" in ok.stdout
    bad = run_cli("check-config", env={"GPUFLOW_MASTER_KEY": "short"})
    assert bad.returncode == 1 and "GPUFLOW_MASTER_KEY" in bad.stderr and "short" not in bad.stderr
    missing = run_cli("check-config", env={"GPUFLOW_MASTER_KEY_FILE": str(tmp_path / "nope")})
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_contract_deploy_on_anvil(tmp_path):
    from tests.support.anvil import ANVIL_KEYS, start_anvil

    with start_anvil() as node:
        cfg = tmp_path / "c.toml"
        base = (f'data_dir = "{tmp_path}"\nfee_recipient = "0x{"42" * 20}"\n'
                f'[chain]\nrpc_url = "{node.rpc_url}"\narbiter_address = "0x{"43" * 20}"\n')
        cfg.write_text(base)
        no_admin = run_cli("--config", str(cfg), "contract", "deploy", env={"GPUFLOW_OPERATOR_KEY": ANVIL_KEYS[0]})
        assert no_admin.returncode == 1 and "chain.admin_address" in no_admin.stderr, no_admin.stderr
        cfg.write_text(base + f'admin_address = "0x{"43" * 20}"\n')        # the arbiter's address again
        same = run_cli("--config", str(cfg), "contract", "deploy", env={"GPUFLOW_OPERATOR_KEY": ANVIL_KEYS[0]})
        assert same.returncode == 1 and "arbiter and the admin must be different" in same.stderr, same.stderr
        assert "Traceback" not in no_admin.stderr + same.stderr
        cfg.write_text(base + f'admin_address = "0x{"44" * 20}"\n')
        result = run_cli("--config", str(cfg), "contract", "deploy", env={"GPUFLOW_OPERATOR_KEY": ANVIL_KEYS[0]})
        assert result.returncode == 0, result.stderr
        address = result.stdout.split("deployed at ")[1].split()[0]
        assert len(node.rpc("eth_getCode", [address, "latest"])) > 1000
        assert ANVIL_KEYS[0] not in result.stdout + result.stderr
        missing = run_cli("--config", str(cfg), "contract", "deploy")
        assert missing.returncode == 1 and "GPUFLOW_OPERATOR_KEY" in missing.stderr


def test_a_script_line_holding_u2028_is_one_command(tmp_path):
    """U+2028 shows as a line break in some editors but is not one: no hidden second command."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    script = tmp_path / "sep.txt"
    script.write_text("/as alice\n!/rent 1 1\u2028/as mallory\r\n/rentals\n", encoding="utf-8")
    result = run_cli("console", "--script", str(script), "--database-url", db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "now typing as mallory" not in result.stdout
    assert "alice> /rentals" in result.stdout
    assert result.stdout.count("alice> ") == 2     # the two commands after /as alice, nothing more


def test_a_missing_or_non_utf8_script_is_refused_plainly(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    missing = run_cli("console", "--script", str(tmp_path / "nope.txt"), "--database-url", db)
    assert missing.returncode == 2
    assert f"console script {tmp_path / 'nope.txt'} does not exist" in missing.stderr
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("/as alice\n/offers gpu=caf\u00e9\n".encode("latin-1"))
    bad = run_cli("console", "--script", str(latin), "--database-url", db)
    assert bad.returncode == 2
    assert "is not UTF-8 text (line 2" in bad.stderr
    folder = run_cli("console", "--script", str(tmp_path), "--database-url", db)
    assert folder.returncode == 2 and "is a directory" in folder.stderr
    for result in (missing, bad, folder):
        assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "c.db").exists()       # refused before anything started


def test_migrate_against_an_unreachable_postgresql_says_so_in_one_line():
    for url in ("postgresql+asyncpg://gpuflow:s3cretpw@127.0.0.1:1/test",           # nothing listens
                "postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_database_here"):  # no such database
        result = run_cli("migrate", "--database-url", url)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("cannot migrate the database at postgresql+asyncpg://")
        assert "Traceback" not in result.stderr and "s3cretpw" not in result.stderr
    assert "Connect call failed" in run_cli("migrate", "--database-url", "postgresql+asyncpg://x@127.0.0.1:1/t").stderr


def test_every_subcommand_has_its_own_help():
    for argv, says in ((["run"], "back office"), (["demo"], "scripted market"), (["console"], "--script"),
                       (["migrate"], "migration"), (["check-config"], "every problem"), (["doctor"], "One line per"),
                       (["contract"], "ACTION"), (["contract", "deploy"], "Deploy GpuEscrow"),
                       (["contract", "deploy"], "--dry-run"), (["contract", "deploy"], "--force")):
        result = run_cli(*argv, "--help")
        assert result.returncode == 0, argv
        assert result.stdout.startswith(f"usage: gpuflow-bot {' '.join(argv)} "), (argv, result.stdout[:200])
        assert says in result.stdout, (argv, result.stdout)
    run_help = run_cli("run", "--help").stdout
    assert "chain watcher" in run_help and "front-end" in run_help


def test_doctor_reports_each_unreachable_part_on_its_own_line(tmp_path):
    from devnet.anvil import free_port

    key = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c"
    cfg = tmp_path / "doctor.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[chain]\nrpc_url = "http://127.0.0.1:{free_port()}/v3/{key}"\n'
                   f'escrow_address = "0x{"42" * 20}"\n[walletconnect]\nrelay_url = "ws://127.0.0.1:{free_port()}"\n'
                   f'[telegram]\nbase_url = "http://127.0.0.1:{free_port()}/bot"\n')
    result = run_cli("--config", str(cfg), "doctor", env={"GPUFLOW_TELEGRAM_TOKEN": "123456:telegram-secret-token"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    status = {line.split(":", 1)[0].split(None, 1)[1]: line.split()[0] for line in lines}
    assert status == {"database": "FAIL", "rpc": "FAIL", "walletconnect relay": "FAIL", "discord": "skip",
                      "telegram": "FAIL"}, result.stdout
    assert "run `gpuflow-bot migrate`" in result.stdout and "does not answer" in result.stdout
    assert "4 check(s) failed" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert key not in result.stdout + result.stderr and "telegram-secret-token" not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "gpuflow.db").exists()       # checking creates nothing
