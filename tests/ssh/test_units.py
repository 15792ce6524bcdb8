"""Parsing, matching, escaping and validation: pure functions, no sshd."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from bot.ssh import (BadProviderOutput, Gpu, GpuSpec, chat_escape, check_gpus, fingerprint, generate_keypair,
                     host_setup_text, parse_gpuinfo, renter_user, sudoers_line)
from bot.ssh.gpu import same_model, vram_matches
from bot.ssh.names import check_public_key, check_user, expiry_arg


def test_parse_gpuinfo_reads_nvidia_smi_csv() -> None:
    raw = b"NVIDIA GeForce RTX 4090, 24564 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\n"
    assert parse_gpuinfo(raw) == (Gpu("NVIDIA GeForce RTX 4090", 24564), Gpu("NVIDIA A100-SXM4-80GB", 81920))


@pytest.mark.parametrize("raw", [
    b"", b"\n", b"No devices were found\n", b"NVIDIA RTX 4090, 24564 MB\n", b"NVIDIA RTX 4090,24564 MiB\n",
    b"NVIDIA RTX 4090, 0 MiB\n", b"NVIDIA RTX 4090, 24564 MiB, extra\n", b"RTX\x1b[31m4090, 24564 MiB\n",
    "RTX 4090\u202e, 24564 MiB\n".encode(), b"@everyone, 1 MiB\n", b"x, 1 MiB\n" * 17,
    b"NVIDIA RTX 4090, [N/A]\n", b"-rf, 100 MiB\n",
])
def test_parse_gpuinfo_refuses_anything_unexpected(raw: bytes) -> None:
    with pytest.raises(BadProviderOutput):
        parse_gpuinfo(raw)


@given(st.binary(max_size=300))
def test_parse_gpuinfo_fails_only_with_its_own_error(raw: bytes) -> None:
    try:
        gpus = parse_gpuinfo(raw)
    except BadProviderOutput:
        return
    assert all(g.memory_mib > 0 and g.name.isprintable() for g in gpus)


@pytest.mark.parametrize("reported,listed,ok", [
    ("NVIDIA GeForce RTX 4090", "RTX 4090", True),
    ("NVIDIA GeForce RTX 4090", "rtx4090", True),
    ("NVIDIA A100-SXM4-80GB", "A100", True),
    ("NVIDIA H100 PCIe", "H100", True),
    ("NVIDIA GeForce RTX 4090 D", "RTX 4090", False),
    ("NVIDIA GeForce RTX 3090", "RTX 4090", False),
    ("NVIDIA GeForce RTX 4090", "RTX 409", False),
    ("NVIDIA GeForce RTX 4090", "", False),
])
def test_same_model(reported: str, listed: str, ok: bool) -> None:
    assert same_model(reported, listed) is ok


def test_vram_tolerance_accepts_real_cards_and_refuses_smaller_ones() -> None:
    assert vram_matches(24564, 24) and vram_matches(15360, 16) and vram_matches(81559, 80)
    assert not vram_matches(12288, 24) and not vram_matches(49152, 24) and not vram_matches(73728, 80)


def test_check_gpus_compares_model_count_and_vram() -> None:
    two = (Gpu("NVIDIA GeForce RTX 4090", 24564),) * 2
    assert check_gpus(two, GpuSpec("RTX 4090", 2, 24)).ok
    assert "expected 1 GPU" in check_gpus(two, GpuSpec("RTX 4090", 1, 24)).reason
    assert not check_gpus(two, GpuSpec("RTX 3090", 2, 24)).ok
    assert not check_gpus(two, GpuSpec("RTX 4090", 2, 48)).ok


def test_chat_escape_neutralises_markup_mentions_and_controls() -> None:
    out = chat_escape("@everyone **bold** `x` [link](http://e) \u202eevil\x1b[31m\nline2 <b>", limit=500)
    assert "@everyone" not in out and "\u202e" not in out and "\x1b" not in out and "\n" not in out
    assert "\\*\\*bold\\*\\*" in out and "\\`x\\`" in out and "\\[link\\]" in out and "\\<b" in out
    assert len(chat_escape("a" * 1000, limit=50)) == 51
    assert chat_escape("RTX 4090 (24.5 GB)!", style="telegram") == "RTX 4090 \\(24\\.5 GB\\)\\!"
    assert chat_escape("a*b\u202e\n@x", style="plain") == "a*b @\u200bx"


@given(st.text(max_size=300))
def test_chat_escape_output_is_one_printable_line(text: str) -> None:
    out = chat_escape(text)
    assert "\n" not in out and "\r" not in out and all(ch.isprintable() or ch == "\u200b" for ch in out)
    assert "@" not in out.replace("@\u200b", "")


def test_renter_user_and_check_user() -> None:
    assert renter_user(42) == "r_000042" and renter_user("ab12cd") == "r_ab12cd"
    for bad in ("AB12", "ab", "ab-12", "ab 12", "a" * 25, -1):
        with pytest.raises(ValueError):
            renter_user(bad)
    for bad in ("root", "r_", "r_abc", "r_abcd;id", "r_abcd\n", "-r_abcd", "r_ABCD", "r_abcd ", "r_../x"):
        with pytest.raises(ValueError):
            check_user(bad)


def test_check_public_key_keeps_type_and_key_only() -> None:
    pair = generate_keypair("me@laptop")
    assert check_public_key(pair.public) == " ".join(pair.public.split()[:2])
    body = pair.public.split()[1]
    for bad in (f'command="id" ssh-ed25519 {body}', f"ssh-ed25519 {body}\nssh-ed25519 {body}",
                f"ssh-dss {body}", "ssh-ed25519 AAAA;id", "", f"ssh-ed25519 {body}'$(id)'"):
        with pytest.raises(ValueError):
            check_public_key(bad)


def test_expiry_arg_rounds_up_to_the_utc_minute() -> None:
    t = datetime(2030, 1, 31, 22, 58, 1, tzinfo=timezone(timedelta(hours=-1)))
    assert expiry_arg(t) == "2030-01-31T23:59Z"
    with pytest.raises(ValueError):
        expiry_arg(datetime(2030, 1, 1))


def test_fingerprint_matches_ssh_keygen(tmp_path) -> None:
    pair = generate_keypair("x")
    (tmp_path / "k.pub").write_text(pair.public + "\n")
    out = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == fingerprint(pair.public)


def test_host_setup_text_has_key_sudoers_line_and_match_block() -> None:
    pair = generate_keypair("gpuflow-alice-rig-1")
    text = host_setup_text("rig-1", "gpuflow", pair.public)
    assert " ".join(pair.public.split()[:2]) in text
    assert sudoers_line("gpuflow") in text and "Match User r_*" in text and "AuthorizedKeysFile" in text
    assert "PRIVATE" not in text
    with pytest.raises(ValueError):
        sudoers_line("gpuflow ALL=(ALL) ALL")
