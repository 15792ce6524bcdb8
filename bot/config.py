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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenSettings(_Section):
    symbol: str = Field(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")
    decimals: int = Field(ge=0, le=36)
    address: str | None = Field(default=None, description="ERC-20 address; omit for the native coin")

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not (v.startswith("0x") and len(v) == 42 and all(c in "0123456789abcdefABCDEF" for c in v[2:])):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return v

    def token(self) -> Token:
        return Token(symbol=self.symbol.upper(), decimals=self.decimals, address=self.address)


# Blocks a deposit (and the bot's own start) must be buried under before they count, by chain id.
# Ethereum: 2 (a reorg deeper than one block is rare since the merge); Polygon PoS: 8 (short reorgs
# happen there); OP-stack rollups and Arbitrum: 1 (the sequencer's soft confirmation); Avalanche
# C-chain and BNB chain finalise fast: 1 and 3; local anvil/hardhat: 1. Other chains: 2.
DEFAULT_CONFIRMATIONS: dict[int, int] = {
    1: 2, 11155111: 2, 17000: 2,              # Ethereum mainnet, Sepolia, Holesky
    137: 8, 80002: 8,                         # Polygon PoS, Amoy
    10: 1, 11155420: 1, 8453: 1, 84532: 1,    # OP mainnet, OP Sepolia, Base, Base Sepolia
    42161: 1, 421614: 1,                      # Arbitrum One, Arbitrum Sepolia
    43114: 1, 56: 3, 100: 2,                  # Avalanche C-chain, BNB chain, Gnosis
    31337: 1,                                 # anvil / hardhat
}
UNKNOWN_CHAIN_CONFIRMATIONS = 2


class ChainSettings(_Section):
    rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int = Field(default=31337, gt=0)
    escrow_address: str | None = None
    arbiter_address: str | None = Field(default=None, description="who decides disputes, if the bot holds no arbiter key")
    admin_address: str | None = Field(default=None, description="who edits the escrow's token allow-list (set at deploy)")
    confirmations: int | None = Field(default=None, ge=0, le=1000,
                                      description="blocks a deposit must be buried under; default per chain id")
    ws_url: str | None = Field(default=None, description="ws(s):// endpoint for newHeads (optional)")
    poll_interval_s: float = Field(default=2.0, gt=0, le=600)
    receipt_wait_s: float = Field(default=30.0, gt=0, le=600,
                                  description="how long one round waits for the bot's own transaction to be mined")
    tx_stuck_after_s: float = Field(default=60.0, gt=0, le=3600,
                                    description="a transaction of the bot's not mined after this is re-sent "
                                                "with the same nonce at a higher fee")
    start_window_s: int = Field(default=3600, gt=0, description="deposit -> start deadline on chain")
    dispute_window_s: int = Field(default=86400, ge=0)
    dispute_timeout_s: int = Field(default=7 * 86400, gt=0)
    max_duration_s: int = Field(default=90 * 86400, gt=0, lt=2**64, description="longest rental, extensions included (fixed at deploy)")
    start_block: int = Field(default=0, ge=0, description="the block the escrow was deployed in (printed by "
                             "`contract deploy`): the watcher starts there instead of at block 0")
    deployment_file: Path | None = Field(default=None, description="the record `contract deploy` writes (default "
                                         "data_dir/deployment.json): read when escrow_address is not set")
    _record: Path | None = None    # the record escrow_address and start_block were taken from (load_settings)
    quote_ttl_s: int = Field(default=900, ge=60, le=86400, description="how long a signed deposit quote stays valid")
    tokens: list[TokenSettings] = Field(
        default_factory=lambda: [TokenSettings(symbol="ETH", decimals=18)],
        description="accepted tokens; the first is the default for new offers",
    )

    @property
    def escrow_record(self) -> Path | None:
        """The deployment record escrow_address and start_block came from; None if set in the config."""
        return self._record

    @property
    def confirmations_needed(self) -> int:
        """The configured confirmations, or the chain's default (DEFAULT_CONFIRMATIONS)."""
        if self.confirmations is not None:
            return self.confirmations
        return DEFAULT_CONFIRMATIONS.get(self.chain_id, UNKNOWN_CHAIN_CONFIRMATIONS)

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return v

    @field_validator("escrow_address", "arbiter_address", "admin_address")
    @classmethod
    def _contract_address(cls, v: str | None) -> str | None:
        return TokenSettings._address(v)

    @field_validator("rpc_url")
    @classmethod
    def _rpc(cls, v: str) -> str:
        if not v.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must start with http://, https://, ws:// or wss://")
        return v

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: list[TokenSettings]) -> list[TokenSettings]:
        if not v:
            raise ValueError("at least one token must be accepted")
        symbols = [t.symbol.upper() for t in v]
        if len(set(symbols)) != len(symbols):
            raise ValueError("token symbols must be unique")
        if sum(t.address is None for t in v) > 1:
            raise ValueError("only one native coin (token without address) can be listed")
        return v


class DiscordSettings(_Section):
    enabled: bool = False
    guild_id: int | None = None
    listings_channel_id: int | None = None
    support_channel_id: int | None = None
    support_role_id: int | None = None
    support_role_ids: list[int] = Field(default_factory=list, description="members with any of these roles are support staff")
    admin_role_ids: list[int] = Field(default_factory=list, description="members with any of these roles are bot admins")
    rest_base_url: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    shard_count: int | None = Field(default=None, ge=1, le=1024, description="set to run sharded (AutoShardedClient)")
    shard_ids: list[int] | None = Field(default=None, description="the shards this process runs (default: all)")
    ack_after_s: float = Field(default=1.0, gt=0, le=2.5,
                               description="answer directly if the core is done by then, else defer (Discord allows 3 s)")

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids(cls, v: list[int] | None, info) -> list[int] | None:
        count = info.data.get("shard_count")
        if v is not None and (count is None or any(not 0 <= i < count for i in v) or len(set(v)) != len(v)):
            raise ValueError("needs shard_count, and each id once, from 0 to shard_count - 1")
        return v


class TelegramSettings(_Section):
    enabled: bool = False
    listings_chat_id: int | None = None
    support_chat_id: int | None = Field(default=None, description="a forum supergroup for dispute topics")
    base_url: str = Field(default="https://api.telegram.org/bot", description="Bot API server (self-hosted: yours)")
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = Field(default=None, description="public https URL Telegram posts updates to; "
                                    "unset: long polling")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    conversation_timeout_s: int = Field(default=600, ge=10, le=86400,
                                        description="how long the bot waits for an answer to its question")


class WalletConnectSettings(_Section):
    project_id: str | None = None
    relay_url: str = "wss://relay.walletconnect.org"
    app_name: str = "gpuflow"
    app_url: str = "https://gpuflow.invalid"


class SshSettings(_Section):
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    command_timeout_s: float = Field(default=30.0, gt=0, le=600)
    per_host_concurrency: int = Field(default=8, ge=1, le=64)
    retries: int = Field(default=3, ge=1, le=10)
    helper_path: str = Field(default="/usr/local/sbin/gpuflow-helper", pattern=r"^/[A-Za-z0-9._/-]{1,200}$",
                             description="where providers install bot/ssh/gpuflow-helper")


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LogSettings(_Section):
    level: LogLevel = "WARNING"
    format: Literal["text", "json"] = Field(default="text", description="json: one object a line, with rental_id")
    library_level: LogLevel = Field(default="WARNING", description="web3, aiohttp, websockets, chat libraries...")


class MetricsSettings(_Section):
    port: int | None = Field(default=None, ge=1, le=65535, description="serve Prometheus metrics on this port")
    host: str = Field(default="127.0.0.1", description="address the metrics endpoint listens on")


class DeliverySettings(_Section):
    """How notices reach people: retries, leases and the reminders the bot sends by itself."""

    max_attempts: int = Field(default=6, ge=1, le=50, description="tries before a delivery is marked failed")
    retry_base_s: float = Field(default=5.0, gt=0, le=3600, description="first retry delay; doubles each try")
    retry_max_s: float = Field(default=900.0, gt=0, le=86400)
    lease_s: float = Field(default=120.0, ge=5, le=3600,
                           description="a claimed delivery not marked by then is claimed again (at-least-once)")
    end_reminders_min: list[int] = Field(default_factory=lambda: [15, 5],
                                         description="minutes before a rental's end to remind the renter")
    deposit_reminder_s: int = Field(default=600, ge=0, description="remind an unpaid deposit this long before "
                                    "the slot is released (0: never)")
    dispute_warning_s: int = Field(default=86400, ge=0, description="warn support this long before an "
                                   "unanswered dispute times out on chain (0: never)")

    @field_validator("end_reminders_min")
    @classmethod
    def _reminders(cls, v: list[int]) -> list[int]:
        if any(not 1 <= m <= 7 * 24 * 60 for m in v):
            raise ValueError("reminders are minutes from 1 to 10080")
        return sorted(set(v), reverse=True)


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

