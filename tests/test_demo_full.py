"""`gpuflow-bot demo` plays the whole flow with local stand-ins and says what stands in for what."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from devnet.anvil import ANVIL_KEYS
from devnet.sshd import SshdServer
from handlers.console import demo_live
from tests.test_cli import run_cli

pytestmark = pytest.mark.skipif(demo_live.live_parts_missing() is not None,
                                reason=f"demo's live part cannot run: {demo_live.live_parts_missing()}")


def assert_no_secrets(out: str) -> None:
    for key in ANVIL_KEYS:
        assert key[2:] not in out
    assert "PRIVATE KEY-----" not in out and "b3BlbnNzaC1rZXktdjE" not in out   # no OpenSSH key body


def test_demo_shows_wallet_chain_and_ssh_with_stand_ins_named():
    result = run_cli("demo")
    out, err = result.stdout, result.stderr
    assert result.returncode == 0, out[-3000:] + err[-3000:]
    assert "Traceback" not in out + err
    # the market part is still there
    assert "seeded 6 offers" in out and "all commands behaved as expected" in out
    # every stand-in is named
    assert "local chain (anvil) standing in for Ethereum" in out
    assert "local relay standing in for WalletConnect's relay" in out
    assert "WalletKit standing in for the renter's phone" in out
    assert "the renter's phone is played here by the official WalletKit SDK in a local Node process" in out
    # the wallet is linked through WalletKit: pairing, approval, SIWE signature, then the bot's DM
    assert "Any WalletConnect wallet: wc:" in out
    assert "[renter's phone = WalletKit] signed the sign-in message" in out
    assert "[direct message to carol] Wallet 0x" in out and "is linked" in out
    # the deposit is sent by the wallet and confirmed on chain
    assert "[renter's phone = WalletKit] signed and sent the transaction 0x" in out
    assert "Rental #1: your deposit is confirmed" in out
    if demo_live.ssh_sandbox_missing() is None:
        assert "local sshd standing in for the provider's machine" in out
        assert "Rental #1 is ready. Your SSH login" in out
        assert "[private key block redacted in the demo output" in out
        assert "NVIDIA GeForce RTX 4090, 24564 MiB" in out            # the login shows the (fake) GPU
        assert "Rental #1 has ended and its SSH access is being removed" in out
        assert "Permission denied" in out                             # the same login after the end
        assert "State: settled" in out and "settled: provider 0.0099 ETH" in out
        assert "0.0099 ETH. Collect it with /withdraw" in out
    else:
        assert "The SSH step is skipped" in out
    assert "live part finished: everything behaved as expected" in out
    assert_no_secrets(out + err)
    if demo_live.ssh_sandbox_missing() is None:   # the sandbox and its accounts are gone again
        (pid,) = set(re.findall(r"/run/gpuflow-sshd-([0-9]+)/", out))
        assert not Path(f"/run/gpuflow-sshd-{pid}").exists()
        assert not SshdServer.user_exists(f"gftp{pid}")
        assert not Path(f"/etc/sudoers.d/gpuflow_test_{pid}").exists()


async def test_without_a_provider_machine_the_demo_stops_at_the_confirmed_deposit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo_live, "ssh_sandbox_missing", lambda: "it needs root (pretend)")
    code = await demo_live.run_live_demo(tmp_path / "live")
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "no provider machine" in out and "it needs root (pretend)" in out
    assert "Rental #1: your deposit is confirmed" in out
    assert "The SSH step is skipped" in out
    assert "is ready" not in out and "could not be delivered" not in out and "was cancelled" not in out
    assert "local sshd standing in" not in out
    assert_no_secrets(out)
