"""`gpuflow-bot run` options: Discord shards split across processes from the command line."""
from __future__ import annotations

import pytest

from bot.config import ConfigError
from handlers.cli import _load, _shard_overrides, build_parser


def test_shards_and_shard_count_reach_the_discord_settings(monkeypatch):
    monkeypatch.delenv("GPUFLOW_DISCORD__SHARD_COUNT", raising=False)
    monkeypatch.delenv("GPUFLOW_DISCORD__SHARD_IDS", raising=False)
    args = build_parser().parse_args(["run", "--only", "discord", "--shards", "4-7", "--shard-count", "8"])
    _shard_overrides(args)
    settings = _load(args)
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (8, [4, 5, 6, 7])


def test_bad_shards_are_refused_plainly(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--shards", "7-2"])
    assert exit_.value.code == 2 and "a range like 0-3" in capsys.readouterr().err
    monkeypatch.delenv("GPUFLOW_DISCORD__SHARD_COUNT", raising=False)
    monkeypatch.delenv("GPUFLOW_DISCORD__SHARD_IDS", raising=False)
    args = build_parser().parse_args(["run", "--shards", "4-5", "--shard-count", "4"])
    _shard_overrides(args)
    with pytest.raises(ConfigError, match="shard_ids"):
        _load(args)
