#!/usr/bin/env bash
# Static analysis of the escrow with slither; exits non-zero on any high-severity finding.
#   scripts/slither.sh [file.sol] [extra slither args]     (default: contracts/GpuEscrow.sol)
# slither-analyzer 0.11.6 pins web3<8, so it lives in its own virtualenv (.venv-slither, created
# on first use), and it compiles through scripts/solc-wrapper (the pinned solc-js, no native solc).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-slither
if [ ! -x "$VENV/bin/slither" ]; then
  echo "slither: creating $VENV (pip install slither-analyzer==0.11.6)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q slither-analyzer==0.11.6
fi
TARGET=contracts/GpuEscrow.sol
if [ $# -gt 0 ] && [[ "$1" == *.sol ]]; then TARGET="$1"; shift; fi
exec "$VENV/bin/slither" "$TARGET" --solc scripts/solc-wrapper --fail-high "$@"
