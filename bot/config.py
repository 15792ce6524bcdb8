"""Configuration: a TOML file for settings, the environment for secrets.

Secrets (bot tokens, the operator's key, the master encryption key) are read only from
environment variables or from files those variables name (GPUFLOW_MASTER_KEY_FILE=...), never
from the TOML file, so a config file can be committed or pasted into a support thread safely.
Environment variables override the file: GPUFLOW_FEE_BPS=150, GPUFLOW_CHAIN__RPC_URL=...
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config_sections import (  # noqa: F401  (re-exported: bot.config is where settings are looked up)
    UNKNOWN_CHAIN_CONFIRMATIONS, ChainSettings, DeliverySettings, DiscordSettings, LogSettings, MetricsSettings,
    SshSettings, TelegramSettings, TokenSettings, WalletConnectSettings)
from bot.domain.pricing import MAX_FEE_BPS, Token

ENV_PREFIX = "GPUFLOW_"
CONFIG_ENV = "GPUFLOW_CONFIG"

# name in Settings -> environment variable holding it (a *_FILE variant is also read)
SECRET_ENV: dict[str, str] = {
    "master_key": "GPUFLOW_MASTER_KEY",
    "operator_key": "GPUFLOW_OPERATOR_KEY",
    "arbiter_key": "GPUFLOW_ARBITER_KEY",
    "admin_key": "GPUFLOW_ADMIN_KEY",
    "discord_token": "GPUFLOW_DISCORD_TOKEN",
    "telegram_token": "GPUFLOW_TELEGRAM_TOKEN",
    "telegram_webhook_secret": "GPUFLOW_TELEGRAM_WEBHOOK_SECRET",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("data")
    database_url: str | None = Field(default=None, description="default: sqlite in data_dir")
    fee_bps: int = Field(default=100, ge=0, le=MAX_FEE_BPS, description="platform fee in basis points")
    fee_recipient: str | None = None
    deposit_timeout_s: int = Field(default=1800, gt=0, le=7 * 86400)
    site_domain: str = Field(default="gpuflow.invalid", description="domain in Sign-In-with-Ethereum messages")
    admins: list[str] = Field(default_factory=list, description="platform:user_id of admins, e.g. discord:1234")
    support: list[str] = Field(default_factory=list, description="platform:user_id of support staff")
    chain: ChainSettings = Field(default_factory=ChainSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    walletconnect: WalletConnectSettings = Field(default_factory=WalletConnectSettings)
    ssh: SshSettings = Field(default_factory=SshSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    # secrets: environment only (see SECRET_ENV); never in the TOML file
    master_key: SecretStr | None = None
    operator_key: SecretStr | None = None
    arbiter_key: SecretStr | None = None
    admin_key: SecretStr | None = None      # only for `contract tokens allow|deny`: keep it off the bot's host
    discord_token: SecretStr | None = None
    telegram_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None

    @field_validator("master_key")
    @classmethod
    def _master_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            from bot.crypto import parse_master_key
            try:
                parse_master_key(v.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"GPUFLOW_MASTER_KEY: {exc}") from None
        return v

    @field_validator("operator_key", "arbiter_key", "admin_key")
    @classmethod
    def _private_key(cls, v: SecretStr | None, info) -> SecretStr | None:
        if v is not None:
            body = v.get_secret_value().removeprefix("0x")
            if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
                raise ValueError(f"{SECRET_ENV[info.field_name]}: must be a 32-byte hex private key")
        return v

    @field_validator("fee_recipient")
    @classmethod
    def _fee_recipient(cls, v: str | None) -> str | None:
        return TokenSettings._address(v)

    @field_validator("admins", "support")
    @classmethod
    def _identities(cls, v: list[str]) -> list[str]:
        for ident in v:
            if ":" not in ident:
                raise ValueError(f"entry {ident[:40]!r}: write it as platform:user_id, e.g. discord:1234")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'gpuflow.db').resolve()}"

    def tokens(self) -> list[Token]:
        return [t.token() for t in self.chain.tokens]

    def token(self, symbol: str) -> Token | None:
        return next((t for t in self.tokens() if t.symbol == symbol.upper()), None)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # init (explicit args) > environment > secrets named by *_FILE > the TOML file
        return (init_settings, env_settings, _SecretFileSource(settings_cls), _TomlSource(settings_cls))


class ConfigError(Exception):
    """The configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _TomlSource(PydanticBaseSettingsSource):
    """The TOML file's settings, already read (and stripped of secrets) by load_settings."""

    data: dict[str, Any] = {}

    def get_field_value(self, field, field_name):  # pragma: no cover - whole-dict source
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _TomlSource.data


class _SecretFileSource(PydanticBaseSettingsSource):
    """GPUFLOW_<SECRET>_FILE=/path reads the secret from that file (Docker/systemd credentials)."""

    def get_field_value(self, field, field_name):  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, env in SECRET_ENV.items():
            file_name = os.environ.get(env + "_FILE")
            if file_name and not os.environ.get(env):
                found[name] = Path(file_name).read_text().strip()
        return found


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and validate; raise ConfigError listing every problem found, not just the first."""
    problems: list[str] = []
    raw: dict[str, Any] = {}
    p = Path(path) if path else (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if p is not None:
        if not p.is_file():
            raise ConfigError([f"config file {p} does not exist"])
        try:
            with p.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{p}: not valid TOML: {exc}"]) from None
        raw, found = _strip_secrets(raw)
        problems += [f"{p}: '{name}' is a secret: set {SECRET_ENV[name]} (or {SECRET_ENV[name]}_FILE) "
                     f"in the environment instead of writing it in the file" for name in found]
    for env in SECRET_ENV.values():
        file_name = os.environ.get(env + "_FILE")
        if file_name and not os.environ.get(env) and not Path(file_name).is_file():
            problems.append(f"{env}_FILE names {file_name}, which does not exist")
    _TomlSource.data = raw
    try:
        settings: Settings | None = Settings(**overrides)
    except ValidationError as exc:
        settings = None
        problems += [_describe_error(e) for e in exc.errors()]
    except OSError as exc:
        settings = None
        problems.append(f"could not read a secret file: {exc.strerror}")
    finally:
        _TomlSource.data = {}
    if settings is not None:
        from bot.chain.record import adopt_record

        problems += _semantic_problems(settings) + adopt_record(settings)
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return settings


def _strip_secrets(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Remove secrets written in the file (they are reported, never used)."""
    clean = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    found = []
    for secret in SECRET_ENV:
        section, _, key = secret.partition("_")
        if secret in clean:
            del clean[secret]
            found.append(secret)
        elif isinstance(clean.get(section), dict) and key in clean[section]:
            del clean[section][key]
            found.append(secret)
    return clean, found


def _semantic_problems(s: Settings) -> list[str]:
    problems = []
    if s.discord.enabled and s.discord_token is None:
        problems.append("discord is enabled but GPUFLOW_DISCORD_TOKEN (or GPUFLOW_DISCORD_TOKEN_FILE) is not set")
    if s.telegram.enabled and s.telegram_token is None:
        problems.append("telegram is enabled but GPUFLOW_TELEGRAM_TOKEN (or GPUFLOW_TELEGRAM_TOKEN_FILE) is not set")
    return problems


def _describe_error(err: dict) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown setting (check the spelling against config/gpuflow.example.toml)"
    return f"{loc}: {msg}"

