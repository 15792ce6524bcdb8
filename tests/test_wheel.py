"""A built wheel runs on its own (issue 13): migrations, the escrow artifact and the provider
helper ship inside the package, so `gpuflow-bot` works from a fresh venv outside the checkout.

The wheel is built by pip (in an isolated build environment, as any user's `pip install .`) and
installed with --no-deps into a new venv that borrows the shared venv's site-packages for the
dependencies, by a path line only: the shared venv's own .pth files (its editable install of
this checkout) are not processed, so the checkout cannot leak in.
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def sh(*argv: str | Path, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv, outside the checkout, holding only the built wheel (and a path to the deps)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"   # a clean copy: setuptools leaves build/ behind, and a stale build/ leaks into wheels
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "*.egg-info", "__pycache__", "data", ".hypothesis", "tests"))
    built = sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source, cwd=work)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (work / "dist").glob("gpuflow_bot-*.whl")
    venv = work / "venv"
    made = sh(getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv, cwd=work)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                      cwd=work).stdout.strip())
    shared = site.getsitepackages()[0] if site.getsitepackages() else sysconfig.get_paths()["purelib"]
    (purelib / "zz_shared_deps.pth").write_text(shared + "\n")   # a path line: its .pth files stay unread
    put = sh(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel,
             cwd=work)
    assert put.returncode == 0, put.stdout + put.stderr
    return venv


def clean_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPUFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp)
    return env


def test_the_package_comes_from_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = sh(installed / "bin" / "python", "-c", "import bot, handlers; print(bot.__file__, handlers.__file__)",
               cwd=tmp_path, env=clean_env(tmp_path))
    assert where.returncode == 0, where.stderr
    assert all(p.startswith(str(installed)) for p in where.stdout.split()), where.stdout


def test_migrate_check_config_and_a_console_script_run_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    cli, env = installed / "bin" / "gpuflow-bot", clean_env(tmp_path)
    cfg = tmp_path / "gpuflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    migrated = sh(cli, "--config", cfg, "migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "database at revision" in migrated.stdout and (tmp_path / "data" / "gpuflow.db").exists()
    checked = sh(cli, "--config", cfg, "check-config", cwd=tmp_path, env={**env, "GPUFLOW_MASTER_KEY": "ab" * 32})
    assert checked.returncode == 0 and "configuration OK" in checked.stdout, checked.stdout + checked.stderr
    script = tmp_path / "market.txt"
    script.write_text("/as alice\n/offers\n!/rent 1 1\n/help rent\n")
    played = sh(cli, "--config", cfg, "console", "--script", script, cwd=tmp_path, env=env)
    assert played.returncode == 0, played.stdout + played.stderr
    assert "No offers match" in played.stdout and "Traceback" not in played.stdout + played.stderr


def test_the_escrow_artifact_and_the_helper_ship_in_the_wheel(installed: Path, tmp_path: Path) -> None:
    probe = ("from bot.chain.artifact import load_artifact\n"
             "from bot.ssh.onboarding import helper_script\n"
             "a = load_artifact()\n"
             "print(a.name, len(a.abi) > 0, helper_script().startswith(b'#!/usr/bin/python3'))\n")
    out = sh(installed / "bin" / "python", "-c", probe, cwd=tmp_path, env=clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["GpuEscrow", "True", "True"]
    helper = (ROOT / "bot" / "ssh" / "gpuflow-helper").read_bytes()
    shipped = sh(installed / "bin" / "python", "-c",
                 "import hashlib; from bot.ssh.onboarding import helper_script; "
                 "print(hashlib.sha256(helper_script()).hexdigest())", cwd=tmp_path, env=clean_env(tmp_path))
    import hashlib
    assert shipped.stdout.strip() == hashlib.sha256(helper).hexdigest()
