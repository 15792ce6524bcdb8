"""`gpuflow-bot run` options: Discord shards split across processes from the command line."""
from __future__ import annotations

import pytest

from bot.config import ConfigError
from handlers.cli import _load, _shard_overrides, build_parser


def _clean_shard_env(monkeypatch) -> None:
    """_shard_overrides writes os.environ; set-then-delete makes monkeypatch remove them afterwards."""
    for name in ("GPUFLOW_DISCORD__SHARD_COUNT", "GPUFLOW_DISCORD__SHARD_IDS"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_shards_and_shard_count_reach_the_discord_settings(monkeypatch):
    _clean_shard_env(monkeypatch)
    args = build_parser().parse_args(["run", "--only", "discord", "--shards", "4-7", "--shard-count", "8"])
    _shard_overrides(args)
    settings = _load(args)
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (8, [4, 5, 6, 7])


def test_bad_shards_are_refused_plainly(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--shards", "7-2"])
    assert exit_.value.code == 2 and "a range like 0-3" in capsys.readouterr().err
    _clean_shard_env(monkeypatch)
    args = build_parser().parse_args(["run", "--shards", "4-5", "--shard-count", "4"])
    _shard_overrides(args)
    with pytest.raises(ConfigError, match="shard_ids"):
        _load(args)


def test_the_overrides_do_not_outlive_a_test():
    import os

    assert "GPUFLOW_DISCORD__SHARD_COUNT" not in os.environ and "GPUFLOW_DISCORD__SHARD_IDS" not in os.environ
