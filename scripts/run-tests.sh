#!/usr/bin/env bash
# The one test command: `make test` runs this, and CI runs `make test`.
# PostgreSQL: the suite runs every store test on SQLite and on PostgreSQL at GPUFLOW_TEST_PG_URL.
# Locally a missing server is reported plainly and the PostgreSQL half is skipped;
# in CI (CI=true or GPUFLOW_REQUIRE_POSTGRES=1) a missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then export GPUFLOW_REQUIRE_POSTGRES=1; fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
