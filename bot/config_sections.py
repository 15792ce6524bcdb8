"""The configuration's sections ([chain], [discord], [telegram], ...): plain pydantic models that
`bot.config.Settings` nests. Apart from the settings loader so that each file stays one job."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.pricing import Token


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
