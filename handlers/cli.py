"""`gpuflow-bot` command line: run, demo, console, migrate, check-config, doctor, contract.

Expected failures (an unreachable database or RPC, a bad config, a bad script) end in one clear
line and a non-zero exit status, never a traceback."""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.observability.logs import configure_logging
from handlers.cli_contract import add_contract_parser, run_contract


def _load(args) -> Settings:
    """The configuration; logging is set up from it (format, levels, secrets to mask) at once."""
    settings = load_settings(args.config, **({"database_url": args.database_url}
                                             if getattr(args, "database_url", None) else {}))
    configure_logging(args.log_level or settings.log.level, json_lines=settings.log.format == "json",
                      library_level=settings.log.library_level, settings=settings)
    return settings


async def _console(args) -> int:
    from bot.runtime import start_runtime
    from handlers.console import ConsoleFrontend
    from handlers.console.script import ScriptError, read_script

    lines = None
    if args.script:   # read it before starting anything: a bad file is refused at once
        try:
            lines = read_script(Path(args.script))
        except ScriptError as exc:
            print(exc, file=sys.stderr)
            return 2
    app = await start_runtime(_load(args))
    try:
        front = ConsoleFrontend(app, echo=bool(args.script), tick=app.tick)
        if args.user:
            await front.switch_user(args.user)
        if lines is not None:
            failures = await front.run_lines(lines)
            if failures:
                print(f"{failures} scripted command(s) did not go as expected", file=sys.stderr)
            return 1 if failures else 0
        await front.interactive()
        return 0
    finally:
        await app.close()


async def _migrate(args) -> int:
    from bot.app import migrate_database

    from bot.doctor.explain import describe_failure, is_expected
    from bot.observability.redact import redact

    settings = _load(args)
    try:
        revision = await migrate_database(settings)
    except Exception as exc:
        if not is_expected(exc):
            raise
        print(f"cannot migrate the database at {redact(settings.resolved_database_url)}: {describe_failure(exc)}",
              file=sys.stderr)
        return 1
    print(f"database at revision {revision}")
    return 0


async def _contract(args) -> int:
    return await run_contract(args, _load)


FRONTENDS = ("discord", "telegram")


def _shard_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    if not (first.isdigit() and (last or first).isdigit()) or int(first) > int(last or first):
        raise argparse.ArgumentTypeError("shards are a range like 0-3 (or one shard: 2)")
    return list(range(int(first), int(last or first) + 1))


def _shard_overrides(args) -> None:
    """--shards/--shard-count override the [discord] settings (through the environment, as any setting)."""
    import json
    import os

    if getattr(args, "shard_count", None) is not None:
        os.environ["GPUFLOW_DISCORD__SHARD_COUNT"] = str(args.shard_count)
    if getattr(args, "shards", None) is not None:
        os.environ["GPUFLOW_DISCORD__SHARD_IDS"] = json.dumps(args.shards)


async def _run(args) -> int:
    """The bot: the back office (chain watcher, fulfilment worker, housekeeping) and each enabled
    chat front-end, in one process, or one part only with --only. A front-end package provides
    `run_frontend(runtime, stop)`; on PostgreSQL several processes may run, and exactly one of them
    leads the back office (the others stand by and take over within seconds)."""
    import importlib
    import signal

    from bot.leader import AnotherProcessRunning, Leadership, leadership_for
    from bot.runtime import start_runtime

    _shard_overrides(args)
    settings = _load(args)
    wanted = [args.only] if args.only else ["worker", *(f for f in FRONTENDS if getattr(settings, f).enabled)]
    frontends = [f for f in wanted if f != "worker"]
    if wanted == ["worker"] and not settings.chain.escrow_address:
        print("Nothing to run: no escrow contract is configured (chain.escrow_address) and no chat front-end "
              "is enabled. Use `gpuflow-bot console` to try the market.", file=sys.stderr)
        return 2
    leadership, process_lock = leadership_for(settings.resolved_database_url)
    if process_lock is not None:
        try:
            process_lock.acquire()
        except AnotherProcessRunning as exc:
            print(str(exc), file=sys.stderr)
            return 1
    runners = []
    for name in frontends:
        try:
            runners.append(importlib.import_module(f"handlers.{name}").run_frontend)
        except (ImportError, AttributeError):
            print(f"The {name} front-end is not available in this build.", file=sys.stderr)
            return 2
    runtime = await start_runtime(settings)
    runtime.leadership = leadership if "worker" in wanted else Leadership()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"gpuflow running: {', '.join(wanted)}; Ctrl-C to stop", file=sys.stderr)
    exporter = None
    try:
        if settings.metrics.port:
            from bot.observability.exporter import MetricsExporter

            exporter = MetricsExporter(runtime)
            exporter.start(settings.metrics.port, settings.metrics.host)
        parts = [runner(runtime, stop) for runner in runners]
        if "worker" in wanted:
            parts.append(runtime.run(stop))
        else:
            parts.append(stop.wait())
        await asyncio.gather(*parts)
    finally:
        stop.set()
        if exporter is not None:
            await exporter.stop()
        await runtime.close()
        if process_lock is not None:
            process_lock.release()
    return 0


async def _doctor(args) -> int:
    from bot.doctor import run_doctor

    checks = await run_doctor(_load(args))
    for check in checks:
        print(check.line())
    failed = sum(c.failed for c in checks)
    print(f"{failed} check(s) failed" if failed else "all checks passed", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


async def _demo(args) -> int:
    from handlers.console.demo import run_demo

    with tempfile.TemporaryDirectory(prefix="gpuflow-demo-") as tmp:
        return await run_demo(Path(tmp))


def _check_config(args) -> int:
    try:
        settings = _load(args)
    except ConfigError as exc:
        print(f"{len(exc.problems)} problem(s) in the configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    from bot.chain.record import record_disagreement
    from bot.observability.redact import redact

    print("configuration OK")
    print(f"  database: {_redact_url(settings.resolved_database_url)}")
    c = settings.chain
    source = f" (from {c.escrow_record}, start block {c.start_block})" if c.escrow_record else ""
    print(f"  chain: {redact(c.rpc_url)} (chain id {c.chain_id}), escrow {c.escrow_address or 'not deployed'}"
          f"{source}, tokens {', '.join(t.symbol for t in settings.tokens())}")
    print(f"  fee: {settings.fee_bps} bps; deposit timeout {settings.deposit_timeout_s} s")
    print(f"  discord: {'on' if settings.discord.enabled else 'off'}; telegram: "
          f"{'on' if settings.telegram.enabled else 'off'}; walletconnect: "
          f"{'configured' if settings.walletconnect.project_id else 'not configured'}")
    print(f"  master key: {'set' if settings.master_key else 'NOT SET (host keys cannot be stored)'}")
    if disagreement := record_disagreement(settings):
        print(f"1 problem with the deployment record:\n  - {disagreement}", file=sys.stderr)
        return 1
    if getattr(args, "online", False):
        from bot.services.contract_check import compare_online

        lines, problems = asyncio.run(compare_online(settings))
        for line in lines:
            print(f"  escrow: {line}")
        if problems:
            print(f"{len(problems)} problem(s) against the deployed contract (its values are what the bot uses):",
                  file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        print("  the configuration agrees with the deployed contract")
    return 0


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gpuflow-bot", description="Peer-to-peer GPU rentals in chat, with escrow.")
    p.add_argument("--config", help="TOML config file (default: $GPUFLOW_CONFIG, else built-in defaults)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="default: [log] level in the config (WARNING)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the bot: back office (chain watcher, fulfilment) and enabled chat front-ends",
                       description="Run the back office (chain watcher, provisioning, settlement, housekeeping) "
                       "and every enabled chat front-end in one process, or one part with --only.")
    r.add_argument("--only", choices=["worker", *FRONTENDS],
                   help="run one part only (several processes need PostgreSQL; one worker leads at a time)")
    r.add_argument("--shards", metavar="A-B", type=_shard_range,
                   help="the Discord shards this process runs, e.g. 0-3 (with --shard-count)")
    r.add_argument("--shard-count", type=int, metavar="N", help="how many Discord shards the bot has in all")
    sub.add_parser("demo", help="a scripted market session in a temporary database",
                   description="Play a scripted market session (offers, a rental, a refusal) in a temporary "
                   "database and print it; needs nothing configured.")
    c = sub.add_parser("console", help="the console front-end (interactive, or --script FILE)",
                       description="Type commands as any user (/as NAME switches), or run a script of them; "
                       "the chain, WalletConnect and SSH parts are used when configured.")
    c.add_argument("--script", help="run commands from FILE; exit 1 if one fails unexpectedly")
    c.add_argument("--as", dest="user", help="start as this user")
    c.add_argument("--database-url", help="override the database URL")
    m = sub.add_parser("migrate", help="bring the database schema up to date",
                       description="Apply every pending schema migration to the configured database.")
    m.add_argument("--database-url", help="override the database URL")
    cc = sub.add_parser("check-config", help="validate the configuration and list every problem",
                        description="Validate the configuration (file and environment) and list every problem; "
                        "nothing outside is contacted (see doctor), unless --online.")
    cc.add_argument("--online", action="store_true",
                    help="also read the deployed escrow and report every setting that disagrees with it")
    sub.add_parser("doctor", help="check every outside part against the live configuration",
                   description="One line per check: database reachable and migrated, RPC and chain id, escrow "
                   "code and parameters, operator gas, WalletConnect relay, Discord and Telegram tokens, each "
                   "host's SSH login and pinned key. Exit status 1 if any check fails.")
    add_contract_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level or "WARNING")   # until the config is read: no secret reaches a log line
    try:
        if args.cmd == "check-config":
            return _check_config(args)
        runner = {"console": _console, "migrate": _migrate, "run": _run, "demo": _demo, "contract": _contract,
                  "doctor": _doctor}[args.cmd]
        return asyncio.run(runner(args))
    except ConfigError as exc:
        print("The configuration has problems (see `gpuflow-bot check-config`):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.doctor.explain import describe_failure, is_expected
        from bot.domain.errors import UserError

        if isinstance(exc, UserError):
            print(exc.message, file=sys.stderr)
            return 2
        if not is_expected(exc):
            raise
        print(f"gpuflow-bot {args.cmd} failed: {describe_failure(exc)}. `gpuflow-bot doctor` checks every part.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
