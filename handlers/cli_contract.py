"""`gpuflow-bot contract deploy|show|tokens`: the escrow contract's operator tools.

A refused deployment lists every reason at once on stderr and exits 1 with nothing sent."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings


def add_contract_parser(sub) -> None:
    k = sub.add_parser("contract", help="escrow contract tools", description="Escrow contract tools.")
    actions = k.add_subparsers(dest="action", required=True, metavar="ACTION")
    d = actions.add_parser("deploy", help="deploy GpuEscrow with the configured operator, arbiter, fee",
                           description="Deploy GpuEscrow with the operator key; the operator, arbiter, fee and "
                           "windows come from the configuration and are fixed in the contract for good. Writes "
                           "the deployment record the configuration reads its escrow address from.")
    d.add_argument("--dry-run", action="store_true",
                   help="check everything and price the deployment on the live chain; send nothing")
    d.add_argument("--out", type=Path, metavar="PATH",
                   help="where to write the deployment record (default: chain.deployment_file, else "
                   "data_dir/deployment.json)")
    d.add_argument("--force", action="store_true",
                   help="deploy even though a record (or chain.escrow_address) already names an escrow on this "
                   "chain: the old contract's live rentals are then orphaned")
    actions.add_parser("show", help="what the deployed escrow enforces, and each configured token's status",
                       description="Read the deployed escrow: version, code check, roles, fee, windows, longest "
                       "rental, and whether each configured token is allowed for deposits.")
    tokens = actions.add_parser("tokens", help="allow or refuse an ERC-20 token for new deposits (admin key)",
                                description="Edit the escrow's token allow-list with GPUFLOW_ADMIN_KEY. Only plain "
                                "ERC-20 tokens: fee-on-transfer and rebasing tokens break the escrow's accounting.")
    tokens.add_argument("change", choices=["allow", "deny"])
    tokens.add_argument("symbol", help="a token of [chain] tokens, e.g. USDC")


async def run_contract(args: argparse.Namespace, load: Callable[[argparse.Namespace], Settings]) -> int:
    from bot.chain import admin

    settings = load(args)
    if args.action == "show":
        print("\n".join(await admin.show(settings)))
        return 0
    if args.action == "tokens":
        tx = await admin.set_token_allowed(settings, args.symbol, args.change == "allow")
        print(f"{args.symbol.upper()} is now {'allowed' if args.change == 'allow' else 'refused'} for new deposits "
              f"(transaction {tx})")
        return 0
    return await _deploy(settings, args)


def _refused(what: str, problems: list[str]) -> int:
    if len(problems) == 1:
        print(f"{what}: {problems[0]}", file=sys.stderr)
    else:
        print(f"{what}, {len(problems)} problems:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    return 1


async def _deploy(settings: Settings, args: argparse.Namespace) -> int:
    from bot.chain.deployer import RecordNotWritten, deploy, plan_deployment
    from bot.chain.escrow import TxFailed
    from bot.chain.record import record_path
    from bot.chain.rpc import ReceiptTimeout

    if args.dry_run:
        plan, _ = await plan_deployment(settings, out=args.out, force=args.force)
        print("dry run: nothing is sent")
        print("\n".join([*plan.lines, *plan.parameters(), *plan.costs, f"deployment record: {plan.out}"]))
        if plan.problems:
            return _refused("it would not deploy", plan.problems)
        print("it would deploy: run `contract deploy` without --dry-run")
        return 0
    try:
        plan, done = await deploy(settings, out=args.out, force=args.force)
    except RecordNotWritten as exc:
        print(f"GpuEscrow deployed, but {exc}. Keep this record:\n{exc.record.model_dump_json(indent=2)}",
              file=sys.stderr)
        return 1
    except (TxFailed, ReceiptTimeout) as exc:
        print(f"contract deploy: {exc}", file=sys.stderr)
        return 1
    if done is None:
        return _refused("not deployed (nothing was sent)", plan.problems)
    print(f"GpuEscrow deployed at {done.address} in block {done.block} (transaction {done.tx_hash}), "
          f"gas used {done.gas_used:,}")
    print("\n".join([*plan.lines, *plan.parameters()]))
    print(f"deployment record written to {plan.out}")
    c = settings.chain
    if c.escrow_address and c.escrow_record is None:
        print(f"chain.escrow_address ({c.escrow_address}) is set and wins over the record: change it to "
              f"{done.address} and start_block to {done.block}")
    elif plan.out.resolve() != record_path(settings).resolve():
        print(f"the bot reads it with chain.deployment_file = \"{plan.out}\" (or put escrow_address = "
              f"\"{done.address}\" and start_block = {done.block} in [chain])")
    else:
        print("the bot takes escrow_address and start_block from it (chain.escrow_address unset)")
    return 0
