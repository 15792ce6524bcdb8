"""The bot's Prometheus metrics in one registry, and the HTTP endpoint that serves them.

Why one small module: any part of the bot records into these objects with one line (an RPC error,
an SSH command's duration) without knowing about the exporter; gauges read from the store and the
chain (rentals by state, delivery lag, watcher lag) are refreshed by exporter.py. Its own registry,
not prometheus_client's global one, so tests and several runtimes in one process never collide.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

RENTALS = Gauge("gpuflow_rentals", "Rentals in the store, by state", ["state"], registry=REGISTRY)
DELIVERY_LAG = Gauge("gpuflow_delivery_lag_seconds",
                     "Age of the oldest notice still waiting to be delivered (0 when none waits)", registry=REGISTRY)
DELIVERIES_PENDING = Gauge("gpuflow_deliveries_pending", "Notices waiting to be delivered", registry=REGISTRY)
RPC_ERRORS = Counter("gpuflow_rpc_errors_total", "Chain RPC requests that failed, by kind", ["kind"],
                     registry=REGISTRY)
RPC_REQUESTS = Counter("gpuflow_rpc_requests_total", "Chain RPC requests sent", registry=REGISTRY)
SSH_SECONDS = Histogram("gpuflow_ssh_command_seconds", "SSH commands on provider hosts, connect included",
                        ["outcome"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
WATCHER_LAG = Gauge("gpuflow_watcher_lag_blocks", "Chain head minus the escrow watcher's checkpoint",
                    registry=REGISTRY)
WATCHER_HEAD = Gauge("gpuflow_chain_head_block", "Latest block the RPC reported", registry=REGISTRY)
REFRESH_ERRORS = Counter("gpuflow_metrics_refresh_errors_total", "Failed refreshes of store/chain gauges",
                         registry=REGISTRY)


def rpc_error(kind: str) -> None:
    """Count one failed RPC request (`kind`: the exception's name, or "error_response")."""
    RPC_ERRORS.labels(kind=kind[:40]).inc()


@contextmanager
def ssh_timer() -> Iterator[None]:
    """Time one SSH command: `with ssh_timer(): ...` records its outcome and duration."""
    started = time.monotonic()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        SSH_SECONDS.labels(outcome=outcome).observe(time.monotonic() - started)


def serve(port: int, host: str = "127.0.0.1"):
    """Serve /metrics on host:port in a daemon thread; returns the server (call .shutdown())."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server
