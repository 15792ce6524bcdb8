"""Prometheus metrics of a running bot (issue 13 #7): scraped over HTTP from the exporter, with
real parts behind each figure: rentals in the store, notices waiting, anvil's head against the
watcher's checkpoint, SSH commands on the real sshd, RPC errors from a real failing endpoint."""
from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.chain.rpc import make_web3
from bot.observability import metrics
from bot.observability.exporter import MetricsExporter
from bot.services.common import enqueue
from devnet.anvil import free_port
from tests.e2e.conftest import Market


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(figures, name: str, **labels) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_the_market(market: Market) -> None:
    port = free_port()
    exporter = MetricsExporter(market.runtime, every_s=3600)
    ssh_before = sample(await _figures(exporter, port, start=True), "gpuflow_ssh_command_seconds_count", outcome="ok")
    try:
        _, renter, offer_id = await market.market_with_offer()          # /host verify runs SSH commands
        rental_id, _ = await market.rent(renter, offer_id)
        async with market.runtime.services.ctx.sessions.begin() as session:   # a DM nobody delivers yet
            await enqueue(session, "metrics-test", "dm", "hello", user_id=renter.actor.user_id)
        market.mine(5)                                                  # blocks the watcher has not read
        market.warp(90)                                                 # the DM has waited 90 s
        figures = await _figures(exporter, port)
        assert sample(figures, "gpuflow_rentals", state="awaiting_deposit") == 1
        assert sample(figures, "gpuflow_rentals", state="active") == 0
        assert sample(figures, "gpuflow_deliveries_pending") >= 1
        assert sample(figures, "gpuflow_delivery_lag_seconds") >= 80
        assert sample(figures, "gpuflow_watcher_lag_blocks") >= 6
        assert sample(figures, "gpuflow_ssh_command_seconds_count", outcome="ok") > ssh_before

        await market.runtime.watcher.poll_once()
        figures = await _figures(exporter, port)
        assert sample(figures, "gpuflow_watcher_lag_blocks") <= market.settings.chain.confirmations
        assert sample(figures, "gpuflow_chain_head_block") == int(market.anvil.rpc("eth_blockNumber"), 16)

        errors_before = sample(figures, "gpuflow_rpc_errors_total", kind="ClientConnectorError")
        dead = make_web3(f"http://127.0.0.1:{free_port()}", timeout_s=2)
        try:
            await dead.eth.block_number
        except Exception:  # noqa: BLE001 - the failure is the point
            pass
        finally:
            await dead.provider.disconnect()
        figures = await _figures(exporter, port)
        assert sample(figures, "gpuflow_rpc_errors_total", kind="ClientConnectorError") == errors_before + 1
        assert sample(figures, "gpuflow_rpc_requests_total") > 0
        assert rental_id >= 1
    finally:
        await exporter.stop()


async def _figures(exporter: MetricsExporter, port: int, start: bool = False):
    if start:
        exporter.start(port)
    await exporter.refresh()
    return await scrape(port)


def test_one_registry_holds_every_metric() -> None:
    names = {m.name for m in metrics.REGISTRY.collect()}
    assert {"gpuflow_rentals", "gpuflow_delivery_lag_seconds", "gpuflow_rpc_errors", "gpuflow_ssh_command_seconds",
            "gpuflow_watcher_lag_blocks"} <= names
