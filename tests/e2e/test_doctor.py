"""`gpuflow-bot doctor` against a live set-up (issue 13 #3): a migrated database, anvil with the
escrow, a funded operator, the loopback WalletConnect relay checking JWTs and project ids, the
loopback Discord and Telegram validating every request against their API descriptions, and a
verified host on the real sshd. All green first; then each part broken in turn is named."""
from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import update

from bot.config import WalletConnectSettings
from bot.db.models import Host
from bot.doctor import run_doctor
from devnet.discord import DiscordEmulator
from devnet.telegram import LoopbackTelegram
from tests.e2e.conftest import PROVIDER_KEY, Market
from tests.wallet.conftest import relay  # noqa: F401 - the loopback relay fixture
from tests.wallet.relay import LoopbackRelay

OTHER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ4Yd2Vm0Xo7vF5pQ0s9xFVn6qTzO0bHq1cJ0f3yX4k"


def by_name(checks) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail) for c in checks}


async def test_doctor_names_every_part_and_each_broken_one(market: Market, relay: LoopbackRelay) -> None:  # noqa: F811
    provider = await market.person("prov", PROVIDER_KEY)
    await market.link_wallet(provider)
    await market.add_host(provider)
    relay.project_ids = {"gpuflow-doctor"}
    discord = DiscordEmulator()
    await discord.start()
    try:
        async with LoopbackTelegram() as telegram:
            settings = market.settings.model_copy(update={
                "walletconnect": WalletConnectSettings(relay_url=relay.url, project_id="gpuflow-doctor"),
                "discord": market.settings.discord.model_copy(update={"rest_base_url": discord.rest_base}),
                "telegram": market.settings.telegram.model_copy(update={"base_url": telegram.base_url}),
                "discord_token": SecretStr(discord.token), "telegram_token": SecretStr(telegram.token)})
            checks = by_name(await run_doctor(settings))
            assert {name: status for name, (status, _) in checks.items()} == {
                "database": "ok", "rpc": "ok", "chain id": "ok", "escrow": "ok", "operator gas": "ok",
                "walletconnect relay": "ok", "discord": "ok", "telegram": "ok",
                f"host rig (#1, {market.sshd.provider_user}@127.0.0.1:{market.sshd.port})": "ok"}, checks
            assert "feeBps 100" in checks["escrow"][1] and "startWindow 3600" in checks["escrow"][1]
            assert "helper answers" in next(d for n, (_, d) in checks.items() if n.startswith("host "))
            assert telegram.violations == [] and not discord.violations

            # now break each part
            relay.project_ids = {"another-project"}
            async with market.runtime.services.ctx.sessions.begin() as session:
                await session.execute(update(Host).values(host_key=OTHER_HOST_KEY))
            broken = settings.model_copy(update={
                "fee_bps": 250, "discord_token": SecretStr("not-the-token"), "telegram_token": SecretStr("123:not-the-token"),
                "chain": settings.chain.model_copy(update={"chain_id": 1})})
            checks = by_name(await run_doctor(broken))
            failed = {name for name, (status, _) in checks.items() if status == "FAIL"}
            assert failed == {"chain id", "escrow", "walletconnect relay", "discord", "telegram",
                              next(n for n in checks if n.startswith("host "))}, checks
            assert "the RPC is on chain 31337, the configuration says 1" in checks["chain id"][1]
            assert "fee_bps is 250 but the contract has 100" in checks["escrow"][1]
            assert "Project ID not found" in checks["walletconnect relay"][1]
            assert "refuses GPUFLOW_DISCORD_TOKEN" in checks["discord"][1]
            assert "refuses GPUFLOW_TELEGRAM_TOKEN" in checks["telegram"][1]
            assert "another host key than the pinned" in next(d for n, (_, d) in checks.items() if n.startswith("host "))
            telegram.take_violations()
    finally:
        await discord.stop()
